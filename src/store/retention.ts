import type { RetentionPolicy } from './retention-policy.js';
import type { RetentionStep, RetentionStore } from './types.js';

/** Where the raw step has emptied every event it may, up to (a key of retention_state, both stores). */
export const RAW_WATERMARK = 'raw_removed_through';

/** What an emptied event keeps of its body: a JSON object with nothing in it, so every reader parses it. */
export const EMPTY_BODY = Buffer.from('{}');

/*
 * Retention (issue 20): what a policy says is past its time goes, in this order, each in bounded
 * steps of one short commit: first the raw bodies, headers and document data of old events (the
 * event stays, marked), then whole finished transactions with their events, then quarantined
 * bodies, then tombstones older than the events they stand for. No step deletes or empties what a
 * destination still owes (an event past a cursor, a delivery pending or failing).
 */

/** Rows one step removes at most: one commit, so ingest waits at most one such commit for the store. */
export const RETENTION_BATCH = 500;

export interface RetentionRunOptions {
  /** The clock (tests pass a fake one). */
  now?: () => Date;
  batch?: number;
  /** Pause between steps, so other writes get the store in between (ms). */
  pauseMs?: number;
  /** Stop early (the receiver is stopping). */
  signal?: AbortSignal;
}

export interface RetentionRunReport {
  /** Raw bodies emptied, transactions and events deleted, quarantine rows deleted, tombstones forgotten. */
  raw: number;
  events: number;
  quarantine: number;
  tombstones: number;
  steps: number;
  /** Destinations (or pending deliveries) that held data back, by kind. */
  heldBy: Partial<Record<RetentionStep['kind'], string>>;
}

/** One pass of the policy over the store, step by step until each kind has nothing more due. */
export async function runRetention(
  store: RetentionStore,
  policy: RetentionPolicy,
  options: RetentionRunOptions = {},
): Promise<RetentionRunReport> {
  const clock = options.now ?? (() => new Date());
  const report: RetentionRunReport = { raw: 0, events: 0, quarantine: 0, tombstones: 0, steps: 0, heldBy: {} };
  const start = clock().getTime();
  const kinds: Array<[RetentionStep['kind'], number | undefined]> = [
    ['raw', policy.raw],
    ['events', policy.events],
    ['quarantine', policy.quarantine],
    // A tombstone says a transaction was removed; kept as long as its events were.
    ['tombstones', policy.events],
  ];
  for (const [kind, age] of kinds) {
    if (age === undefined) continue;
    const before = new Date(start - age);
    for (let i = 0; i < 10_000_000; i++) {
      if (options.signal?.aborted) return report;
      const result = await store.retentionStep({ kind, before, limit: options.batch ?? RETENTION_BATCH, now: clock() });
      report.steps++;
      report[kind] += result.removed;
      if (result.heldBy) report.heldBy[kind] = result.heldBy;
      if (result.done) break;
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  }
  return report;
}
