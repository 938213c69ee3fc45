import { decodeDeliveryCursor, encodeDeliveryCursor } from './cursor.js';
import { subscribes, type Subscription } from './destinations.js';
import { destinationTag, logDeliveryId, type DestinationCursor } from './log-outbox.js';
import { deliveryOf, transactionOfColumn, type DeliverySummaryRow } from './rows.js';
import {
  DELIVERY_STATES,
  MAX_RECEIPT_BUCKETS,
  type DeliveryFilter,
  type DeliveryState,
  type DestinationHealth,
  type OutboxDelivery,
  type OutboxDeliveryView,
  type Page,
  type ReceiptBucket,
} from './types.js';

/*
 * The operator's view of the outbox when most deliveries have no row (log-outbox.ts): a delivery
 * of a log destination is its row when it has one, else it is read back from the event and the
 * destination's cursor: delivered at or before the cursor, pending after it. Both stores answer
 * the few questions below; the merging, ordering and paging are here, once.
 */

/** A row of deliveries, with the log position of its event. */
export interface PositionedRow extends DeliverySummaryRow {
  event_seq: number | string;
}

/** What a delivery read back from the log needs of its event. */
export interface LogEventRow {
  seq: number | string;
  event_id: string;
  /** The transaction key (rows.ts, transactionColumn). */
  docv_transaction_id: string;
  /** events.source (issue 20): the delivery's source, and what a destination's subscription tests. */
  source: string;
  event_type: string;
  received_at: string | Date;
}

/** One batch of deleted events: its lowest and highest seq and how many it deleted. */
export interface LogDeletion {
  min_seq: number;
  max_seq: number;
  deleted: number;
}

export interface LogViewSource {
  cursors(): Promise<DestinationCursor[]>;
  /**
   * Rows matching the filter's state, destination and transaction, whose event has
   * range.after < event_seq ≤ range.upTo (the filter's eventId, from and to, as log positions:
   * see positionRange), ordered by event seq descending, then destination ascending, strictly
   * after `after` in that order. The filter's eventId/from/to need no handling of their own here.
   */
  rows(
    filter: DeliveryFilter,
    after: { seq: number; destination: string } | null,
    limit: number,
    range: SeqRange,
  ): Promise<PositionedRow[]>;
  /**
   * Events with lo < seq ≤ hi, seq descending; of one transaction id when given (a plain id: under
   * `source` when given, else under every source: where.ts, whereTransaction), of one source when
   * `source` is given.
   */
  eventsDesc(
    lo: number,
    hi: number,
    docvTransactionId: string | undefined,
    limit: number,
    source?: string,
  ): Promise<LogEventRow[]>;
  /** The (event seq, destination) pairs among these events that have a row. */
  rowKeys(seqs: number[]): Promise<Array<{ event_seq: number | string; destination: string }>>;
  /** When the cursor of `destination` passed each of these seqs, where a mark says so. */
  deliveredAt(destination: string, seqs: number[]): Promise<Map<number, string>>;
  /** Events with lo < seq ≤ hi, counted row by row (callers go through eventsBetween). */
  countEvents(lo: number, hi: number): Promise<number>;
  /**
   * Retention's and erasure's deletion batches (log_deletions) that overlap lo < seq ≤ hi: the
   * holes they left, so a count from positions subtracts them (eventsBetween).
   */
  deletions?(lo: number, hi: number): Promise<LogDeletion[]>;
  /** The lowest and highest seq in the log (two index lookups), null when it is empty. */
  logBounds(): Promise<{ min: number; max: number } | null>;
  /** Rows of `destination` whose event has lo < seq ≤ hi. */
  countRows(destination: string, lo: number, hi: number): Promise<number>;
  /** Rows by state. */
  countRowsByState(): Promise<Record<DeliveryState, number>>;
  eventById(eventId: string): Promise<LogEventRow | null>;

  // Issue 19 (operations console): small questions, each one index lookup or a few.

  /**
   * For each time (ascending), the log position just before the first event received at or
   * after it: that event's seq − 1; the last seq of the log when none was; 0 on an empty log.
   * Events with positionsAt([a])[0] < seq ≤ positionsAt([b])[0] are those received in [a, b),
   * to within the events committed out of receipt order near a and b (events are committed
   * nearly in receipt order). Must not count or scan rows: an index seek or a binary search on
   * seq per time.
   */
  positionsAt(times: Date[]): Promise<number[]>;
  /** Rows by destination and state (GROUP BY destination, state). */
  countRowsByDestination(): Promise<Array<{ destination: string; state: DeliveryState; n: number | string }>>;
  /**
   * Destination names the store knows besides the cursors: the stored destinations (the
   * destinations table) and every destination that has a row in deliveries (decision-fetch,
   * destinations removed since). Sorted or not; duplicates allowed.
   */
  knownDestinations(): Promise<string[]>;
  /**
   * The latest cursor mark of `destination` made at or before `at` (cursor_marks: the cursor
   * had passed `seq` at `at`), or with `at` null its latest mark of all; null when there is none.
   * Walk the primary key (destination, seq) from the top: marks are made in seq order.
   */
  markAtOrBefore(destination: string, at: Date | null): Promise<{ seq: number; at: string } | null>;
  /**
   * From the recorded attempts of `destination` (delivery_attempts.destination): how many
   * started at or after `since`, how many of those failed or were dead, when the latest
   * delivered one ended (started_at + duration, any time), and the latest attempt with an error
   * (any time; its started_at). Through the index (destination, started_at).
   */
  attemptsOf(destination: string, since: Date): Promise<RecordedAttempts>;

  // Issue 20 (sources): destinations that take only some events.

  /**
   * The subscriptions of the stored destinations that have one (destinations.subscription), by
   * name. A log delivery read back from the log exists only for an event its destination's
   * subscription takes (its reader passed over the others). Absent: no destination has one.
   */
  subscriptions?(): Promise<Map<string, Subscription>>;
  /**
   * Events with lo < seq ≤ hi that `subscription` takes (subscribes()), counted row by row: the
   * callers keep the span within EXACT_COUNT_SPAN (eventsTakenBetween).
   */
  countSubscribedEvents?(lo: number, hi: number, subscription: Subscription): Promise<number>;
}

/** A range of log positions: after < seq ≤ upTo. */
export interface SeqRange {
  after: number;
  upTo: number;
}

/** The whole log. */
export const WHOLE_LOG: SeqRange = { after: 0, upTo: Number.MAX_SAFE_INTEGER };

/** What a destination's attempt records say (LogViewSource.attemptsOf). */
export interface RecordedAttempts {
  attempts: number;
  failures: number;
  lastDeliveredAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

function iso(t: string | Date): string {
  return typeof t === 'string' ? t : t.toISOString();
}

/** A delivery of a log destination that has no row, as the log and the cursor say it is. */
export function logDelivery(event: LogEventRow, cursor: DestinationCursor, deliveredAt: string | null): OutboxDelivery {
  const delivered = Number(event.seq) <= cursor.seq;
  const receivedAt = iso(event.received_at);
  const at = delivered ? (deliveredAt ?? cursor.updatedAt) : null;
  return {
    deliveryId: logDeliveryId(event.event_id, cursor.destination),
    eventId: event.event_id,
    docvTransactionId: transactionOfColumn(event.docv_transaction_id, event.source),
    source: event.source,
    eventType: event.event_type,
    destination: cursor.destination,
    state: delivered ? 'delivered' : 'pending',
    // A delivery without a row was delivered by its first attempt, or has had none yet.
    attempts: delivered ? 1 : 0,
    nextAttemptAt: delivered ? null : receivedAt,
    lastStatus: null,
    lastError: null,
    createdAt: receivedAt,
    updatedAt: at ?? receivedAt,
    deliveredAt: at,
  };
}

interface Positioned {
  seq: number;
  destination: string;
  delivery: OutboxDelivery;
}

/** Order of the list: event seq descending, then destination ascending. */
function before(a: { seq: number; destination: string }, b: { seq: number; destination: string }): boolean {
  return a.seq > b.seq || (a.seq === b.seq && a.destination < b.destination);
}

/** At most this many chunks of events are scanned for one page (a filter that matches little). */
const MAX_CHUNKS = 64;

/**
 * The log positions a delivery filter's eventId, from and to allow; null when they allow none
 * (an unknown event id). from/to are the event's receipt, mapped to positions (positionsAt): a
 * delivery of an event committed out of receipt order right at an edge may fall on the other side.
 */
export async function positionRange(source: LogViewSource, filter: DeliveryFilter): Promise<SeqRange | null> {
  let { after, upTo } = WHOLE_LOG;
  if (filter.eventId !== undefined) {
    const event = await source.eventById(filter.eventId);
    if (!event) return null;
    after = Number(event.seq) - 1;
    upTo = Number(event.seq);
  }
  if (filter.from !== undefined || filter.to !== undefined) {
    const times = [filter.from, filter.to].filter((t): t is Date => t !== undefined);
    const positions = await source.positionsAt(times);
    if (filter.from !== undefined) after = Math.max(after, positions[0]!);
    if (filter.to !== undefined) upTo = Math.min(upTo, positions.at(-1)!);
  }
  return upTo > after ? { after, upTo } : null;
}

export async function listDeliveriesFromLog(
  source: LogViewSource,
  filter: DeliveryFilter,
): Promise<Page<OutboxDelivery>> {
  const after = decodeDeliveryCursor(filter.cursor);
  const range = await positionRange(source, filter);
  if (!range) return { items: [], nextCursor: null };
  const want = filter.limit + 1;
  const fromRows: Positioned[] = (await source.rows(filter, after, want, range)).map((row) => ({
    seq: Number(row.event_seq),
    destination: row.destination,
    delivery: deliveryOf(row),
  }));
  const fromLog: Positioned[] = [];
  const subscriptions = (await source.subscriptions?.()) ?? new Map<string, Subscription>();
  if (filter.state !== 'failed' && filter.state !== 'dead') {
    const cursors = (await source.cursors())
      .filter((c) => filter.destination === undefined || c.destination === filter.destination)
      .sort((a, b) => (a.destination < b.destination ? -1 : 1));
    if (cursors.length > 0) {
      let lo = Math.max(range.after, Math.min(...cursors.map((c) => c.fromSeq)));
      let hi = range.upTo;
      // Past every cursor nothing is delivered without a row; before every cursor nothing is pending without one.
      if (filter.state === 'pending') lo = Math.max(lo, Math.min(...cursors.map((c) => c.seq)));
      if (filter.state === 'delivered') hi = Math.min(hi, Math.max(...cursors.map((c) => c.seq)));
      if (after) hi = Math.min(hi, after.seq);
      for (let chunk = 0; chunk < MAX_CHUNKS && hi > lo && fromLog.length < want; chunk++) {
        const events = await source.eventsDesc(lo, hi, filter.docvTransactionId, want, filter.source);
        if (events.length === 0) break;
        const seqs = events.map((e) => Number(e.seq));
        const withRow = new Set(
          (await source.rowKeys(seqs)).map((k) => `${Number(k.event_seq)}\u0000${k.destination}`),
        );
        const found: Array<{ event: LogEventRow; cursor: DestinationCursor }> = [];
        for (const event of events) {
          const seq = Number(event.seq);
          for (const cursor of cursors) {
            if (seq <= cursor.fromSeq || (cursor.untilSeq !== null && seq > cursor.untilSeq)) continue;
            if (after && !before(after, { seq, destination: cursor.destination })) continue;
            if (withRow.has(`${seq}\u0000${cursor.destination}`)) continue;
            // Its reader passes over the events its subscription does not take: no delivery.
            if (!takes(subscriptions, cursor.destination, event)) continue;
            const state: DeliveryState = seq <= cursor.seq ? 'delivered' : 'pending';
            if (filter.state !== undefined && state !== filter.state) continue;
            found.push({ event, cursor });
          }
        }
        const times = await deliveredTimes(source, found);
        for (const { event, cursor } of found)
          fromLog.push({
            seq: Number(event.seq),
            destination: cursor.destination,
            delivery: logDelivery(event, cursor, times.get(`${Number(event.seq)}\u0000${cursor.destination}`) ?? null),
          });
        hi = seqs[seqs.length - 1]! - 1;
        if (events.length < want) break;
      }
    }
  }
  const merged = [...fromRows, ...fromLog].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)).slice(0, want);
  const items = merged.slice(0, filter.limit);
  const last = items.at(-1);
  return {
    items: items.map((p) => p.delivery),
    nextCursor: merged.length > filter.limit && last ? encodeDeliveryCursor(last) : null,
  };
}

async function deliveredTimes(
  source: LogViewSource,
  found: Array<{ event: LogEventRow; cursor: DestinationCursor }>,
): Promise<Map<string, string>> {
  const byDestination = new Map<string, number[]>();
  for (const { event, cursor } of found)
    if (Number(event.seq) <= cursor.seq)
      byDestination.set(cursor.destination, [...(byDestination.get(cursor.destination) ?? []), Number(event.seq)]);
  const out = new Map<string, string>();
  for (const [destination, seqs] of byDestination)
    for (const [seq, at] of await source.deliveredAt(destination, seqs)) out.set(`${seq}\u0000${destination}`, at);
  return out;
}

/** Whether `destination` takes the event (a destination without a subscription takes every one). */
export function takes(
  subscriptions: ReadonlyMap<string, Subscription>,
  destination: string,
  event: Pick<LogEventRow, 'source' | 'event_type'>,
): boolean {
  const subscription = subscriptions.get(destination);
  return subscription === undefined || subscribes(subscription, { source: event.source, eventType: event.event_type });
}

/** A log delivery without a row, by its id; null when the id names none. */
export async function logDeliveryById(
  source: LogViewSource,
  parsed: { eventId: string; tag: string },
): Promise<{ event: LogEventRow; cursor: DestinationCursor; delivery: OutboxDeliveryView } | null> {
  const cursor = (await source.cursors()).find((c) => destinationTag(c.destination) === parsed.tag);
  if (!cursor) return null;
  const event = await source.eventById(parsed.eventId);
  if (!event || Number(event.seq) <= cursor.fromSeq) return null;
  if (cursor.untilSeq !== null && Number(event.seq) > cursor.untilSeq) return null;
  if (!takes((await source.subscriptions?.()) ?? new Map(), cursor.destination, event)) return null;
  const times = await source.deliveredAt(cursor.destination, [Number(event.seq)]);
  const delivery = logDelivery(event, cursor, times.get(Number(event.seq)) ?? null);
  return { event, cursor, delivery: { ...delivery, history: [] } };
}

/**
 * Past this many positions a count of events is read from the positions instead of the rows:
 * counting a million rows takes about half a second (SQLite walks the table's pages; PostgreSQL
 * an index), and every count the console and /metrics show would pay it. Measured at 1M events:
 * stats() 577 ms before.
 */
export const EXACT_COUNT_SPAN = 50_000;

/**
 * Events with lo < seq ≤ hi. Within the log's bounds; counted when that span is at most
 * EXACT_COUNT_SPAN, else the span itself. The span is exact where the log has no holes: SQLite's
 * AUTOINCREMENT gives every committed event the next seq and nothing deletes events; PostgreSQL's
 * sequence leaves a hole where an insert rolled back (a handful, against a span of 50,000+).
 */
export async function eventsBetween(source: LogViewSource, lo: number, hi: number): Promise<number> {
  if (hi <= lo) return 0;
  if (hi - lo <= EXACT_COUNT_SPAN) return source.countEvents(lo, hi);
  const bounds = await source.logBounds();
  if (bounds === null) return 0;
  const from = Math.max(lo, bounds.min - 1);
  const to = Math.min(hi, bounds.max);
  if (to <= from) return 0;
  if (to - from <= EXACT_COUNT_SPAN) return source.countEvents(from, to);
  return Math.max(0, to - from - holesWithin(await (source.deletions?.(from, to) ?? []), from, to));
}

/**
 * The events deleted (retention, erasure) with from < seq ≤ to, from the deletion batches: a batch
 * wholly inside counts whole; one that straddles an end counts the share of its span inside (its
 * deleted seqs are taken as spread evenly over it). Batches below the log's first event never
 * straddle `from` (it is clamped to the log's bounds), so the common case (old events deleted
 * from the bottom of the log) is exact.
 */
export function holesWithin(batches: LogDeletion[], from: number, to: number): number {
  let holes = 0;
  for (const b of batches) {
    if (b.min_seq > from && b.max_seq <= to) holes += b.deleted;
    else {
      const inside = Math.min(b.max_seq, to) - Math.max(b.min_seq - 1, from);
      if (inside > 0) holes += Math.round((b.deleted * inside) / (b.max_seq - b.min_seq + 1));
    }
  }
  return holes;
}

/**
 * The events with lo < seq ≤ hi a destination with `subscription` takes (issue 20): its reader
 * passed over the others, which then are no delivery of it. Without a subscription, eventsBetween.
 * With one, counted row by row (each row's source and type tested) when the span within the
 * log's bounds is at most EXACT_COUNT_SPAN, as eventsBetween counts; past that, counting would
 * mean reading every event of the span (no index has the source or the type: each would cost
 * ingest a B-tree), so the count is eventsBetween's: the events the cursor passed, those passed
 * over included. So a subscribed destination's delivered count (and health attempts) over a span
 * of more than EXACT_COUNT_SPAN positions is an upper bound, and a row count (failed, dead) is
 * always exact. The subscription tested is the current one: events passed over under an earlier
 * one are counted by what it takes now.
 */
export async function eventsTakenBetween(
  source: LogViewSource,
  lo: number,
  hi: number,
  subscription: Subscription | undefined,
): Promise<number> {
  if (subscription === undefined || !source.countSubscribedEvents) return eventsBetween(source, lo, hi);
  if (hi <= lo) return 0;
  const bounds = await source.logBounds();
  if (bounds === null) return 0;
  const from = Math.max(lo, bounds.min - 1);
  const to = Math.min(hi, bounds.max);
  if (to <= from) return 0;
  if (to - from <= EXACT_COUNT_SPAN) return source.countSubscribedEvents(from, to, subscription);
  return eventsBetween(source, from, to);
}

/** Every event in the log, by the rule of eventsBetween. */
export function countLog(source: LogViewSource): Promise<number> {
  return eventsBetween(source, 0, Number.MAX_SAFE_INTEGER);
}

/** Deliveries by state: the rows, and for each log destination what its cursor says of the rest. */
export async function countDeliveriesFromLog(source: LogViewSource): Promise<Record<DeliveryState, number>> {
  const counts = await source.countRowsByState();
  for (const [, perDestination] of Object.entries(await logCountsByDestination(source)))
    for (const state of DELIVERY_STATES) counts[state] += perDestination[state];
  return counts;
}

/**
 * What each log destination's cursor says of the events that have no row: delivered behind it,
 * pending ahead. A destination with a subscription: of the events it takes (eventsTakenBetween,
 * exact within EXACT_COUNT_SPAN positions, an upper bound past that).
 */
async function logCountsByDestination(source: LogViewSource): Promise<Record<string, Record<DeliveryState, number>>> {
  const out: Record<string, Record<DeliveryState, number>> = {};
  const subscriptions = (await source.subscriptions?.()) ?? new Map<string, Subscription>();
  for (const cursor of await source.cursors()) {
    const counts = (out[cursor.destination] ??= emptyCounts());
    const subscription = subscriptions.get(cursor.destination);
    counts.delivered += Math.max(
      0,
      (await eventsTakenBetween(source, cursor.fromSeq, cursor.seq, subscription)) -
        (await source.countRows(cursor.destination, cursor.fromSeq, cursor.seq)),
    );
    const last = cursor.untilSeq ?? Number.MAX_SAFE_INTEGER;
    if (last > cursor.seq)
      counts.pending += Math.max(
        0,
        (await eventsTakenBetween(source, cursor.seq, last, subscription)) -
          (await source.countRows(cursor.destination, cursor.seq, last)),
      );
  }
  return out;
}

function emptyCounts(): Record<DeliveryState, number> {
  return { pending: 0, failed: 0, delivered: 0, dead: 0 };
}

/** countDeliveriesFromLog, split by destination: each destination's rows and what its cursor says of the rest. */
export async function countDeliveriesByDestinationFromLog(
  source: LogViewSource,
): Promise<Record<string, Record<DeliveryState, number>>> {
  const out = await logCountsByDestination(source);
  for (const row of await source.countRowsByDestination())
    (out[row.destination] ??= emptyCounts())[row.state] += Number(row.n);
  return out;
}

/**
 * Each destination the store knows (cursors, stored destinations, destinations with rows), by
 * name. A log destination's first attempts leave no record: they are counted from its cursor,
 * position now minus its position at `since` (the last mark at or before it: to the second),
 * less the events in between that have a row (their attempts, if any, are records); for a
 * destination with a subscription, of the events in between it takes (eventsTakenBetween: exact
 * within EXACT_COUNT_SPAN positions, an upper bound past that). A delivered first attempt's time
 * is the last mark's.
 */
export async function destinationHealthFromLog(source: LogViewSource, since: Date): Promise<DestinationHealth[]> {
  const cursors = new Map((await source.cursors()).map((c) => [c.destination, c]));
  const subscriptions = (await source.subscriptions?.()) ?? new Map<string, Subscription>();
  const names = [...new Set([...cursors.keys(), ...(await source.knownDestinations())])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const out: DestinationHealth[] = [];
  for (const destination of names) {
    const recorded = await source.attemptsOf(destination, since);
    let attempts = recorded.attempts;
    let lastDeliveredAt = recorded.lastDeliveredAt;
    const cursor = cursors.get(destination);
    if (cursor && cursor.seq > cursor.fromSeq) {
      // A cursor last written before `since` has not moved since; else its last mark before.
      const then =
        Date.parse(cursor.updatedAt) < since.getTime()
          ? { seq: cursor.seq }
          : await source.markAtOrBefore(destination, since);
      const start = Math.min(cursor.seq, Math.max(cursor.fromSeq, then?.seq ?? cursor.fromSeq));
      if (cursor.seq > start) {
        // A subscribed destination's cursor also passes the events it does not take: those it
        // took, exact within EXACT_COUNT_SPAN positions, every position past that (eventsTakenBetween).
        const subscription = subscriptions.get(destination);
        const moved =
          subscription === undefined
            ? cursor.seq - start
            : await eventsTakenBetween(source, start, cursor.seq, subscription);
        attempts += Math.max(0, moved - (await source.countRows(destination, start, cursor.seq)));
      }
      const latest = await source.markAtOrBefore(destination, null);
      if (latest && (lastDeliveredAt === null || latest.at > lastDeliveredAt)) lastDeliveredAt = latest.at;
    }
    out.push({
      destination,
      attempts,
      failures: recorded.failures,
      lastDeliveredAt,
      lastError: recorded.lastError,
      lastErrorAt: recorded.lastErrorAt,
    });
  }
  return out;
}

/**
 * The bucket edges of a receiptCounts call: from, from + bucketMs, … up to `to` (the last
 * bucket ends at `to`, possibly short). RangeError for a bad or too long a range.
 */
export function receiptBucketEdges(from: Date, to: Date, bucketMs: number): Date[] {
  if (!Number.isFinite(from.getTime()) || !Number.isFinite(to.getTime()) || to <= from)
    throw new RangeError('receipt counts need from < to');
  if (!Number.isInteger(bucketMs) || bucketMs <= 0) throw new RangeError('bucketMs must be a positive integer');
  const buckets = Math.ceil((to.getTime() - from.getTime()) / bucketMs);
  if (buckets > MAX_RECEIPT_BUCKETS)
    throw new RangeError(`${buckets} buckets asked for; at most ${MAX_RECEIPT_BUCKETS} (use larger buckets)`);
  const edges: Date[] = [];
  for (let i = 0; i < buckets; i++) edges.push(new Date(from.getTime() + i * bucketMs));
  edges.push(to);
  return edges;
}

/**
 * Buckets from the log positions of their edges (positionsAt): a bucket's count is the
 * difference of its edges' positions. Exact for a log whose seq has no gaps, committed in
 * receipt order; an event committed out of receipt order near an edge counts in the bucket next
 * to its own. `between` counts the events of a range where seq has gaps (PostgreSQL).
 */
export async function receiptCountsFromLog(
  source: Pick<LogViewSource, 'positionsAt'>,
  from: Date,
  to: Date,
  bucketMs: number,
  between: (after: number, upTo: number) => Promise<number> = async (after, upTo) => upTo - after,
): Promise<ReceiptBucket[]> {
  const edges = receiptBucketEdges(from, to, bucketMs);
  const positions = await source.positionsAt(edges);
  const out: ReceiptBucket[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const after = positions[i]!;
    const upTo = positions[i + 1]!;
    out.push({ start: edges[i]!.toISOString(), events: upTo > after ? await between(after, upTo) : 0 });
  }
  return out;
}
