import type { Logger } from 'pino';
import type { Destination } from '../dispatch/index.js';
import type { Store } from '../store/index.js';
import type { ReceiverConfig } from './config.js';
import { planDelivery, type DeliveryPlan, type PlannedDestination } from './destination-plan.js';
import { reportDisagreements } from './destination-report.js';

export interface DestinationSyncOptions {
  config: ReceiverConfig;
  store: Store;
  logger: Logger;
  /** This process's own destinations (a library's handlers): delivered whatever the store says. */
  local: Destination[];
  /** Makes the destination object of a planned one (a forward, the decision fetch). */
  build: (planned: PlannedDestination) => Destination;
  /** Told each time the set changes. */
  onChange: (destinations: Destination[]) => void;
}

/**
 * Keeps what this process delivers in step with the store's destinations: re-read on a timer and
 * at once when this process changed them (the admin API), so a destination added, disabled or
 * enabled anywhere reaches every worker within one interval, without a restart.
 */
export class DestinationSync {
  private built = new Map<string, Destination>();
  private current: Destination[];
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private failing = false;

  private local: Destination[];

  constructor(private options: DestinationSyncOptions) {
    this.local = options.local;
    this.current = [...options.local];
  }

  get destinations(): Destination[] {
    return this.current;
  }

  /** This process's own destinations changed (a handler was registered): delivered from now on. */
  setLocal(local: Destination[]): void {
    this.local = local;
    this.current = [...local, ...this.built.values()];
    this.options.onChange(this.current);
  }

  /** Applies a plan: builds what is new, keeps what is unchanged, says where the store and the flags disagree. */
  apply(plan: DeliveryPlan): void {
    reportDisagreements(plan, this.options.logger, this.reported, true);
    const next = new Map<string, Destination>();
    for (const planned of plan.deliver) {
      const key = `${planned.name} ${planned.url}`;
      next.set(key, this.built.get(key) ?? this.options.build(planned));
    }
    const changed = next.size !== this.built.size || [...next.keys()].some((key) => !this.built.has(key));
    this.built = next;
    if (!changed) return;
    this.current = [...this.local, ...next.values()];
    this.options.onChange(this.current);
  }

  /**
   * A reloaded configuration (the config file's destinations, the sources' Socure credentials):
   * planned against from the next read, which starts now. Destinations whose name and URL stay are
   * kept as built, so their deliveries in flight go on undisturbed.
   */
  setConfig(config: ReceiverConfig): Promise<void> {
    this.options = { ...this.options, config };
    return this.refresh();
  }

  /** Reads the store's destinations again (one read at a time; a request meanwhile reads once more after it). */
  refresh(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        try {
          this.apply(planDelivery(await this.options.store.listDestinations(), this.options.config));
          this.failing = false;
        } catch (err) {
          // The claims fail too and say so; this says once what it means for the destinations.
          if (!this.failing)
            this.options.logger.warn({ err }, 'could not read the destinations; delivering to those read before');
          this.failing = true;
        }
      } while (this.readAgain);
      this.reading = null;
    })();
    return this.reading;
  }

  start(): void {
    const every = this.options.config.dispatch.destinationsRefreshMs;
    if (this.timer || every <= 0) return;
    this.timer = setInterval(() => void this.refresh(), every);
    // The dispatcher keeps a running process alive; this timer alone must not.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reading;
  }
}
