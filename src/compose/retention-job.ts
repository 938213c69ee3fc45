import type { Logger } from 'pino';
import { runRetention, type RetentionRunReport } from '../store/retention.js';
import { formatRetentionPolicy, retentionIsOn, type RetentionPolicy } from '../store/retention-policy.js';
import type { RetentionStore } from '../store/types.js';

/** How often the receiver applies its retention policy (the first run is at start). */
export const DEFAULT_RETENTION_INTERVAL_MS = 5 * 60_000;
/** Between two steps: ingest and dispatch get the store in between. */
export const RETENTION_PAUSE_MS = 20;

export interface RetentionJobOptions {
  policy: RetentionPolicy;
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

  constructor(
    private readonly store: RetentionStore,
    private readonly options: RetentionJobOptions,
  ) {}

  start(): this {
    if (!retentionIsOn(this.options.policy)) return this;
    this.options.logger?.info({ retention: formatRetentionPolicy(this.options.policy) }, 'retention is on');
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS);
    this.timer.unref();
    return this;
  }

  /** One pass now (or the one already running). Errors are logged, not thrown: the next pass tries again. */
  runOnce(): Promise<RetentionRunReport | null> {
    if (this.stopped) return Promise.resolve(null);
    this.running ??= (async () => {
      try {
        const report = await runRetention(this.store, this.options.policy, {
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

/**
 * The job a process runs for its configuration (serve, worker, the library's receiver), started;
 * null without a policy.
 */
export function startRetentionJob(
  store: RetentionStore,
  config: { retention?: RetentionPolicy | undefined; retentionIntervalMs?: number | undefined },
  logger: Pick<Logger, 'info' | 'warn'>,
): RetentionJob | null {
  if (!config.retention) return null;
  return new RetentionJob(store, {
    policy: config.retention,
    ...(config.retentionIntervalMs !== undefined ? { intervalMs: config.retentionIntervalMs } : {}),
    logger,
  }).start();
}
