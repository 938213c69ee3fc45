import type Database from 'better-sqlite3';
import {
  cursorOf,
  destinationTag,
  logDeliveryId,
  parseLogDeliveryId,
  type DestinationCursorRow,
} from '../log-outbox.js';
import { logDelivery, type LogEventRow, type LogViewSource, type PositionedRow } from '../log-views.js';
import { Where } from '../where.js';
import type { DeliveryFilter, DeliveryState, OutboxDelivery, ReplayFilter } from '../types.js';

/**
 * The SQLite answers to the outbox views' questions (store/log-views.ts), and the writes that give
 * a delivery read back from the log a row of its own (an operator's retry or replay).
 */
export class SqliteLogViews implements LogViewSource {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    // The one SQL spelling of a log delivery id, for replays that give thousands of them a row.
    db.function('docv_log_delivery_id', { deterministic: true }, (eventId: unknown, destination: unknown) =>
      logDeliveryId(String(eventId), String(destination)),
    );
    this.stmts = {
      cursors: db.prepare<[], DestinationCursorRow>('SELECT * FROM destination_cursors'),
      eventById: db.prepare<[string], LogEventRow>(
        'SELECT seq, event_id, docv_transaction_id, event_type, received_at FROM events WHERE event_id = ?',
      ),
      countEvents: db.prepare<[number, number], { n: number }>(
        'SELECT COUNT(*) AS n FROM events WHERE seq > ? AND seq <= ?',
      ),
      countRows: db.prepare<[string, number, number], { n: number }>(
        'SELECT COUNT(*) AS n FROM deliveries WHERE destination = ? AND event_seq > ? AND event_seq <= ?',
      ),
      byState: db.prepare<[], { state: DeliveryState; n: number }>(
        'SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state',
      ),
      mark: db.prepare<[string, number], { at: string }>(
        'SELECT at FROM cursor_marks WHERE destination = ? AND seq >= ? ORDER BY seq LIMIT 1',
      ),
      insertPending: db.prepare(
        `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
           attempts, next_attempt_at, created_at, updated_at)
         VALUES (@deliveryId, @seq, @eventId, @docvTransactionId, @eventType, @destination, 'pending', 0, @now, @createdAt, @nowIso)
         ON CONFLICT (delivery_id) DO NOTHING`,
      ),
    };
  }

  async cursors() {
    return this.stmts.cursors.all().map(cursorOf);
  }

  async rows(filter: DeliveryFilter, after: { seq: number; destination: string } | null, limit: number) {
    const where = new Where('?');
    if (after)
      where.raw(
        `(event_seq < ${where.param(after.seq)} OR (event_seq = ${where.param(after.seq)} AND destination > ${where.param(after.destination)}))`,
      );
    if (filter.state) where.add('state = ?', filter.state);
    if (filter.destination !== undefined) where.add('destination = ?', filter.destination);
    if (filter.docvTransactionId !== undefined) where.add('docv_transaction_id = ?', filter.docvTransactionId);
    const sql = `SELECT * FROM deliveries ${where} ORDER BY event_seq DESC, destination LIMIT ${where.param(limit)}`;
    return this.db.prepare<unknown[], PositionedRow>(sql).all(...where.values);
  }

  async eventsDesc(lo: number, hi: number, docvTransactionId: string | undefined, limit: number) {
    const where = new Where('?');
    where.add('seq > ?', lo);
    where.add('seq <= ?', hi);
    if (docvTransactionId !== undefined) where.add('docv_transaction_id = ?', docvTransactionId);
    const sql = `SELECT seq, event_id, docv_transaction_id, event_type, received_at FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(limit)}`;
    return this.db.prepare<unknown[], LogEventRow>(sql).all(...where.values);
  }

  async rowKeys(seqs: number[]) {
    if (seqs.length === 0) return [];
    return this.db
      .prepare<number[], { event_seq: number; destination: string }>(
        `SELECT event_seq, destination FROM deliveries WHERE event_seq IN (${seqs.map(() => '?').join(', ')})`,
      )
      .all(...seqs);
  }

  async deliveredAt(destination: string, seqs: number[]) {
    const out = new Map<number, string>();
    for (const seq of seqs) {
      const mark = this.stmts.mark.get(destination, seq);
      if (mark) out.set(seq, mark.at);
    }
    return out;
  }

  async countEvents(lo: number, hi: number) {
    return this.stmts.countEvents.get(lo, hi)?.n ?? 0;
  }

  async countRows(destination: string, lo: number, hi: number) {
    return this.stmts.countRows.get(destination, lo, hi)?.n ?? 0;
  }

  async countRowsByState() {
    const counts: Record<DeliveryState, number> = { pending: 0, failed: 0, delivered: 0, dead: 0 };
    for (const row of this.stmts.byState.all()) counts[row.state] = row.n;
    return counts;
  }

  async eventById(eventId: string) {
    return this.stmts.eventById.get(eventId) ?? null;
  }

  /**
   * An operator's retry of a log delivery without a row: delivered already, it gets a pending row
   * (due now, a fresh attempt budget); not delivered yet, it is left to its reader. Null when the
   * id names no delivery. Runs in the write queue.
   */
  retryFromLog(deliveryId: string): OutboxDelivery | null {
    const parsed = parseLogDeliveryId(deliveryId);
    if (!parsed) return null;
    const cursor = this.stmts.cursors
      .all()
      .map(cursorOf)
      .find((c) => destinationTag(c.destination) === parsed.tag);
    const event = this.stmts.eventById.get(parsed.eventId);
    if (!cursor || !event || Number(event.seq) <= cursor.fromSeq) return null;
    if (cursor.untilSeq !== null && Number(event.seq) > cursor.untilSeq) return null;
    if (Number(event.seq) > cursor.seq) return logDelivery(event, cursor, null);
    const now = Date.now();
    this.stmts.insertPending.run({
      deliveryId,
      seq: event.seq,
      eventId: event.event_id,
      docvTransactionId: event.docv_transaction_id,
      eventType: event.event_type,
      destination: cursor.destination,
      now,
      createdAt: event.received_at,
      nowIso: new Date(now).toISOString(),
    });
    return null;
  }

  /**
   * Replay of log deliveries without a row that match: each delivered one gets a pending row
   * (those not delivered yet are already on their way). Returns how many. Runs in the write queue.
   */
  replayFromLog(filter: ReplayFilter): number {
    if (filter.state !== undefined && filter.state !== 'delivered') return 0;
    const where = new Where('?');
    if (filter.from) where.add('e.received_at >= ?', filter.from.toISOString());
    if (filter.to) where.add('e.received_at < ?', filter.to.toISOString());
    if (filter.eventType) where.add('e.event_type = ?', filter.eventType);
    if (filter.docvTransactionId !== undefined) where.add('e.docv_transaction_id = ?', filter.docvTransactionId);
    if (filter.destination !== undefined) where.add('c.destination = ?', filter.destination);
    where.raw('NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.destination = c.destination)');
    const now = Date.now();
    const sql = `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
                   attempts, next_attempt_at, created_at, updated_at)
                 SELECT docv_log_delivery_id(e.event_id, c.destination), e.seq, e.event_id, e.docv_transaction_id, e.event_type,
                   c.destination, 'pending', 0, ${now}, e.received_at, '${new Date(now).toISOString()}'
                   FROM destination_cursors c JOIN events e ON e.seq > c.from_seq AND e.seq <= c.seq
                   ${where}
                 ON CONFLICT (delivery_id) DO NOTHING`;
    return this.db.prepare(sql).run(...where.values).changes;
  }
}
