import type { RetentionPolicy } from './retention-policy.js';
import type { ErasureCounts, RetentionStep, RetentionStore } from './types.js';

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

/**
 * Where a retention step of these sources (RetentionStep.sources) has got to, in retention_state:
 * the raw step's watermark, the events step's position. Each set of sources has its own, since
 * each has its own age (a source's policy, the receiver-wide one for the others); absent sources
 * (every source) keep the name of before sources existed. Both stores use these names.
 */
export function retentionStateName(base: string, sources: RetentionStep['sources']): string {
  if (sources === undefined) return base;
  const only = 'only' in sources;
  const names = [...(only ? sources.only : sources.except)].sort();
  return `${base}:${only ? 'only' : 'except'}:${names.join(',')}`;
}

/** Where the events step of some sources stopped examining transactions (retentionStateName), between steps of one run. */
export const EVENTS_POSITION = 'events_examined_through';

/** Whether a row of this source is one a step of `sources` touches (as where.ts whereSources says in SQL). */
export function retentionSourceTest(sources: RetentionStep['sources']): (source: string) => boolean {
  if (sources === undefined) return () => true;
  if ('only' in sources) return (source) => sources.only.includes(source);
  return (source) => !sources.except.includes(source);
}

/** What one deletion removed: the log positions (for log_deletions) and the rows per table. */
export interface RetentionDeleted {
  seqs: number[];
  counts: ErasureCounts;
}

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

/** A policy and the sources it covers (absent: every source). */
export interface ScopedRetentionPolicy {
  policy: RetentionPolicy;
  sources?: RetentionStep['sources'];
}

/**
 * Which policy covers which sources: each source with a policy of its own (`off` included) has it,
 * and the receiver-wide one covers every other source, those no longer configured included (their
 * rows stay in the store and age like any other).
 */
export function retentionScopes(
  receiverWide: RetentionPolicy | undefined,
  sources: ReadonlyArray<{ name: string; retention?: RetentionPolicy | undefined }>,
): ScopedRetentionPolicy[] {
  const own = sources.filter((s) => s.retention !== undefined);
  const scopes: ScopedRetentionPolicy[] = own.map((s) => ({ policy: s.retention!, sources: { only: [s.name] } }));
  if (receiverWide)
    scopes.push(
      own.length > 0 ? { policy: receiverWide, sources: { except: own.map((s) => s.name) } } : { policy: receiverWide },
    );
  return scopes;
}

/** Whether any scope removes anything. */
export function scopesAreOn(scopes: readonly ScopedRetentionPolicy[]): boolean {
  return scopes.some(
    (s) => s.policy.raw !== undefined || s.policy.events !== undefined || s.policy.quarantine !== undefined,
  );
}

/**
 * One pass of the policies over the store, step by step until each kind has nothing more due:
 * raw bodies, events and quarantine scope by scope (each source by its own policy), then the
 * tombstones once, kept as long as the longest events= of any scope (a tombstone carries no data;
 * it answers "removed on …" for as long as the transaction could have been there).
 */
export async function runRetention(
  store: RetentionStore,
  policies: RetentionPolicy | readonly ScopedRetentionPolicy[],
  options: RetentionRunOptions = {},
): Promise<RetentionRunReport> {
  const scopes: readonly ScopedRetentionPolicy[] = Array.isArray(policies)
    ? policies
    : [{ policy: policies as RetentionPolicy }];
  const clock = options.now ?? (() => new Date());
  const report: RetentionRunReport = { raw: 0, events: 0, quarantine: 0, tombstones: 0, steps: 0, heldBy: {} };
  const start = clock().getTime();
  const steps: Array<[RetentionStep['kind'], number | undefined, RetentionStep['sources']]> = [];
  for (const kind of ['raw', 'events', 'quarantine'] as const)
    for (const scope of scopes) steps.push([kind, scope.policy[kind], scope.sources]);
  const eventAges = scopes.map((s) => s.policy.events).filter((age): age is number => age !== undefined);
  if (eventAges.length > 0) steps.push(['tombstones', Math.max(...eventAges), undefined]);
  for (const [kind, age, sources] of steps) {
    if (age === undefined) continue;
    const before = new Date(start - age);
    for (let i = 0; i < 10_000_000; i++) {
      if (options.signal?.aborted) return report;
      const result = await store.retentionStep({
        kind,
        before,
        limit: options.batch ?? RETENTION_BATCH,
        now: clock(),
        ...(sources ? { sources } : {}),
      });
      report.steps++;
      report[kind] += result.removed;
      if (result.heldBy) report.heldBy[kind] = result.heldBy;
      if (result.done) break;
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  }
  return report;
}
