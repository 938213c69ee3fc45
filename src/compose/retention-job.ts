import type { Logger } from 'pino';
import {
  retentionScopes,
  runRetention,
  scopesAreOn,
  type RetentionRunReport,
  type ScopedRetentionPolicy,
} from '../store/retention.js';
import { formatRetentionPolicy, type RetentionPolicy } from '../store/retention-policy.js';
import type { RetentionStore } from '../store/types.js';
import type { SourceConfig } from './config.js';

/** How often the receiver applies its retention policy (the first run is at start). */
export const DEFAULT_RETENTION_INTERVAL_MS = 5 * 60_000;
/** Between two steps: ingest and dispatch get the store in between. */
export const RETENTION_PAUSE_MS = 20;

export interface RetentionJobOptions {
  /** One policy for every source, or policies scoped to sources (retentionScopes). */
  policy: RetentionPolicy | readonly ScopedRetentionPolicy[];
  intervalMs?: number;
  /** The clock; tests pass a fake one. */
  now?: () => Date;
  batch?: number;
  pauseMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

/**
 * The background retention of `serve`, `worker` and createDocvReceiver: a pass at start, then one
 * every interval, never two at once. Several processes on one store may each run it: on
 * PostgreSQL their steps take turns on an advisory lock (store/postgres/retention.ts).
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionRunReport | null> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;
  private scopes: readonly ScopedRetentionPolicy[];

  constructor(
    private readonly store: RetentionStore,
    private readonly options: RetentionJobOptions,
  ) {
    this.scopes = Array.isArray(options.policy) ? options.policy : [{ policy: options.policy as RetentionPolicy }];
  }

  /** Whether any policy removes anything (the timer runs only then). */
  get on(): boolean {
    return scopesAreOn(this.scopes);
  }

  start(): this {
    if (!this.on || this.stopped || this.timer) return this;
    this.options.logger?.info({ retention: describeScopes(this.scopes) }, 'retention is on');
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS);
    this.timer.unref();
    return this;
  }

  /**
   * New policies (a reloaded configuration): the next pass applies them; the one running finishes
   * its step with the old ones. Turned on, a pass runs now; turned off, the timer stops.
   */
  reconfigure(config: RetentionConfig): void {
    const next = scopesOf(config);
    const changed = describeScopes(next) !== describeScopes(this.scopes);
    this.scopes = next;
    if (!changed || this.stopped) return;
    if (!this.on) {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      this.options.logger?.info('retention is off');
      return;
    }
    if (this.timer) {
      this.options.logger?.info({ retention: describeScopes(this.scopes) }, 'retention policies changed');
      void this.runOnce();
    } else this.start();
  }

  /** One pass now (or the one already running). Errors are logged, not thrown: the next pass tries again. */
  runOnce(): Promise<RetentionRunReport | null> {
    if (this.stopped) return Promise.resolve(null);
    this.running ??= (async () => {
      try {
        const report = await runRetention(this.store, this.scopes, {
          ...(this.options.now ? { now: this.options.now } : {}),
          ...(this.options.batch ? { batch: this.options.batch } : {}),
          pauseMs: this.options.pauseMs ?? RETENTION_PAUSE_MS,
          signal: this.abort.signal,
        });
        const removed = report.raw + report.events + report.quarantine + report.tombstones;
        if (removed > 0 || Object.keys(report.heldBy).length > 0)
          this.options.logger?.info(
            {
              rawRemoved: report.raw,
              eventsDeleted: report.events,
              quarantineDeleted: report.quarantine,
              tombstonesForgotten: report.tombstones,
              ...(Object.keys(report.heldBy).length ? { heldBy: report.heldBy } : {}),
            },
            'retention pass',
          );
        return report;
      } catch (err) {
        this.options.logger?.warn({ err: (err as Error).message }, 'retention pass failed; the next one tries again');
        return null;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Stops the timer and the pass in progress (after its current step). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.running;
  }
}

/** What of a configuration the job reads: the receiver-wide policy and each source's own. */
export interface RetentionConfig {
  retention?: RetentionPolicy | undefined;
  retentionIntervalMs?: number | undefined;
  sources?: ReadonlyArray<Pick<SourceConfig, 'name' | 'retention'>> | undefined;
}

function scopesOf(config: RetentionConfig): ScopedRetentionPolicy[] {
  return retentionScopes(config.retention, config.sources ?? []);
}

/** `raw=30d` or `prod: raw=7d; others: raw=30d`, for the log. */
function describeScopes(scopes: readonly ScopedRetentionPolicy[]): string {
  return scopes
    .map((s) => {
      const policy = formatRetentionPolicy(s.policy);
      if (!s.sources) return policy;
      return 'only' in s.sources
        ? `${s.sources.only.join(', ')}: ${policy}`
        : `${s.sources.except.length ? 'other sources' : 'every source'}: ${policy}`;
    })
    .join('; ');
}

/**
 * The job a process runs for its configuration (serve, worker, the library's receiver): running
 * when a policy removes anything, idle otherwise, so a reloaded configuration can turn it on.
 */
export function startRetentionJob(
  store: RetentionStore,
  config: RetentionConfig,
  logger: Pick<Logger, 'info' | 'warn'>,
): RetentionJob {
  return new RetentionJob(store, {
    policy: scopesOf(config),
    ...(config.retentionIntervalMs !== undefined ? { intervalMs: config.retentionIntervalMs } : {}),
    logger,
  }).start();
}
