import type { StoreStats } from '../../store/index.js';

/** How old the counts a page shows may be: a refresh starts when a page asks for older ones. */
export const STATS_MAX_AGE_MS = 5_000;

/**
 * The store's counts for the dashboard, read at most once per STATS_MAX_AGE_MS whoever asks (the
 * overview, each live stream's counts). At a million events the counts by status and decision
 * walk an index of every transaction (SQLite ~45 ms, PostgreSQL ~140 ms measured): a page that
 * counted on every view would miss its 100 ms, and several people on the overview would each
 * pay it. Past the age the cached counts are still answered, with their time, while one refresh
 * runs (stale while revalidate); only the very first request waits for a count.
 */
export class StatsCache {
  private current: { stats: StoreStats; at: number } | null = null;
  private refreshing: Promise<{ stats: StoreStats; at: number }> | null = null;

  constructor(
    private readonly load: () => Promise<StoreStats>,
    private readonly maxAgeMs = STATS_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The counts and when they were read (epoch ms). */
  async get(): Promise<{ stats: StoreStats; at: number }> {
    if (this.current === null) return this.refresh();
    if (this.now() - this.current.at > this.maxAgeMs)
      // A failed refresh keeps the counts it had; the next request tries again.
      this.refresh().catch(() => undefined);
    return this.current;
  }

  private refresh(): Promise<{ stats: StoreStats; at: number }> {
    this.refreshing ??= this.load()
      .then((stats) => (this.current = { stats, at: this.now() }))
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }
}
