import { decodeDeliveryCursor, encodeDeliveryCursor } from './cursor.js';
import { destinationTag, logDeliveryId, type DestinationCursor } from './log-outbox.js';
import { deliveryOf, transactionOfColumn, type DeliverySummaryRow } from './rows.js';
import type { DeliveryFilter, DeliveryState, OutboxDelivery, OutboxDeliveryView, Page } from './types.js';

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
  docv_transaction_id: string;
  event_type: string;
  received_at: string | Date;
}

export interface LogViewSource {
  cursors(): Promise<DestinationCursor[]>;
  /**
   * Rows matching the filter (state, destination, transaction) ordered by event seq descending,
   * then destination ascending, strictly after `after` in that order.
   */
  rows(
    filter: DeliveryFilter,
    after: { seq: number; destination: string } | null,
    limit: number,
  ): Promise<PositionedRow[]>;
  /** Events with lo < seq ≤ hi (of one transaction when given), seq descending. */
  eventsDesc(lo: number, hi: number, docvTransactionId: string | undefined, limit: number): Promise<LogEventRow[]>;
  /** The (event seq, destination) pairs among these events that have a row. */
  rowKeys(seqs: number[]): Promise<Array<{ event_seq: number | string; destination: string }>>;
  /** When the cursor of `destination` passed each of these seqs, where a mark says so. */
  deliveredAt(destination: string, seqs: number[]): Promise<Map<number, string>>;
  /** Events with lo < seq ≤ hi. */
  countEvents(lo: number, hi: number): Promise<number>;
  /** Rows of `destination` whose event has lo < seq ≤ hi. */
  countRows(destination: string, lo: number, hi: number): Promise<number>;
  /** Rows by state. */
  countRowsByState(): Promise<Record<DeliveryState, number>>;
  eventById(eventId: string): Promise<LogEventRow | null>;
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
    docvTransactionId: transactionOfColumn(event.docv_transaction_id),
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

export async function listDeliveriesFromLog(
  source: LogViewSource,
  filter: DeliveryFilter,
): Promise<Page<OutboxDelivery>> {
  const after = decodeDeliveryCursor(filter.cursor);
  const want = filter.limit + 1;
  const fromRows: Positioned[] = (await source.rows(filter, after, want)).map((row) => ({
    seq: Number(row.event_seq),
    destination: row.destination,
    delivery: deliveryOf(row),
  }));
  const fromLog: Positioned[] = [];
  if (filter.state !== 'failed' && filter.state !== 'dead') {
    const cursors = (await source.cursors())
      .filter((c) => filter.destination === undefined || c.destination === filter.destination)
      .sort((a, b) => (a.destination < b.destination ? -1 : 1));
    if (cursors.length > 0) {
      let lo = Math.min(...cursors.map((c) => c.fromSeq));
      let hi = Number.MAX_SAFE_INTEGER;
      // Past every cursor nothing is delivered without a row; before every cursor nothing is pending without one.
      if (filter.state === 'pending') lo = Math.max(lo, Math.min(...cursors.map((c) => c.seq)));
      if (filter.state === 'delivered') hi = Math.max(...cursors.map((c) => c.seq));
      if (after) hi = Math.min(hi, after.seq);
      for (let chunk = 0; chunk < MAX_CHUNKS && hi > lo && fromLog.length < want; chunk++) {
        const events = await source.eventsDesc(lo, hi, filter.docvTransactionId, want);
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
  const times = await source.deliveredAt(cursor.destination, [Number(event.seq)]);
  const delivery = logDelivery(event, cursor, times.get(Number(event.seq)) ?? null);
  return { event, cursor, delivery: { ...delivery, history: [] } };
}

/** Deliveries by state: the rows, and for each log destination what its cursor says of the rest. */
export async function countDeliveriesFromLog(source: LogViewSource): Promise<Record<DeliveryState, number>> {
  const counts = await source.countRowsByState();
  for (const cursor of await source.cursors()) {
    const end = Number.MAX_SAFE_INTEGER;
    counts.delivered +=
      (await source.countEvents(cursor.fromSeq, cursor.seq)) -
      (await source.countRows(cursor.destination, cursor.fromSeq, cursor.seq));
    const last = cursor.untilSeq ?? end;
    if (last > cursor.seq)
      counts.pending +=
        (await source.countEvents(cursor.seq, last)) - (await source.countRows(cursor.destination, cursor.seq, last));
  }
  return counts;
}
