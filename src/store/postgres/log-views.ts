import type pg from 'pg';
import { cursorOf, destinationTag, parseLogDeliveryId, type DestinationCursorRow } from '../log-outbox.js';
import { logDelivery, type LogEventRow, type LogViewSource, type PositionedRow } from '../log-views.js';
import { Where } from '../where.js';
import type { DeliveryFilter, DeliveryState, OutboxDelivery, ReplayFilter } from '../types.js';
import { pgText } from './pg-text.js';

/**
 * A log delivery's id in SQL, as logDeliveryId (store/log-outbox.ts) spells it: the event id
 * without its prefix, a dot, 8 hex characters of the destination's SHA-256.
 */
const LOG_DELIVERY_ID_SQL = (eventId: string, destination: string) =>
  `'dlv_' || substr(${eventId}, strpos(${eventId}, '_') + 1) || '.' || left(encode(sha256(convert_to(${destination}, 'UTF8')), 'hex'), 8)`;

const ROW_COLUMNS =
  'seq, event_seq, delivery_id, event_id, docv_transaction_id, event_type, destination, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at';

const LOG_EVENT_COLUMNS = 'seq, event_id, docv_transaction_id, event_type, received_at';

/**
 * The PostgreSQL answers to the outbox views' questions (store/log-views.ts), and the writes that
 * give a delivery read back from the log a row of its own (an operator's retry or replay).
 */
export class PostgresLogViews implements LogViewSource {
  constructor(private readonly pool: pg.Pool) {}

  async cursors() {
    return (await this.pool.query<DestinationCursorRow>('SELECT * FROM destination_cursors')).rows.map(cursorOf);
  }

  async rows(filter: DeliveryFilter, after: { seq: number; destination: string } | null, limit: number) {
    const where = new Where('$n');
    if (after)
      where.raw(
        `(event_seq < ${where.param(after.seq)} OR (event_seq = ${where.param(after.seq)} AND destination COLLATE "C" > ${where.param(after.destination)}))`,
      );
    if (filter.state) where.add('state = ?', filter.state);
    if (filter.destination !== undefined) where.add('destination = ?', pgText(filter.destination));
    if (filter.docvTransactionId !== undefined) where.add('docv_transaction_id = ?', pgText(filter.docvTransactionId));
    // COLLATE "C": the order of destinations must be the one log-views.ts sorts by (code points).
    const sql = `SELECT ${ROW_COLUMNS} FROM deliveries ${where} ORDER BY event_seq DESC, destination COLLATE "C" LIMIT ${where.param(limit)}`;
    return (await this.pool.query<PositionedRow>(sql, where.values)).rows;
  }

  async eventsDesc(lo: number, hi: number, docvTransactionId: string | undefined, limit: number) {
    const where = new Where('$n');
    where.add('seq > ?', lo);
    where.add('seq <= ?', hi);
    if (docvTransactionId !== undefined) where.add('docv_transaction_id = ?', pgText(docvTransactionId));
    const sql = `SELECT ${LOG_EVENT_COLUMNS} FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(limit)}`;
    return (await this.pool.query<LogEventRow>(sql, where.values)).rows;
  }

  async rowKeys(seqs: number[]) {
    if (seqs.length === 0) return [];
    return (
      await this.pool.query<{ event_seq: number; destination: string }>(
        'SELECT event_seq, destination FROM deliveries WHERE event_seq = ANY($1::bigint[])',
        [seqs],
      )
    ).rows;
  }

  async deliveredAt(destination: string, seqs: number[]) {
    const out = new Map<number, string>();
    if (seqs.length === 0) return out;
    const { rows } = await this.pool.query<{ seq: number; at: Date | null }>(
      `SELECT s.seq, (SELECT m.at FROM cursor_marks m WHERE m.destination = $1 AND m.seq >= s.seq ORDER BY m.seq LIMIT 1) AS at
         FROM unnest($2::bigint[]) AS s(seq)`,
      [destination, seqs],
    );
    for (const r of rows) if (r.at !== null) out.set(Number(r.seq), r.at.toISOString());
    return out;
  }

  async countEvents(lo: number, hi: number) {
    const { rows } = await this.pool.query<{ n: number }>(
      'SELECT COUNT(*)::int AS n FROM events WHERE seq > $1 AND seq <= $2',
      [lo, hi],
    );
    return rows[0]?.n ?? 0;
  }

  async countRows(destination: string, lo: number, hi: number) {
    const { rows } = await this.pool.query<{ n: number }>(
      'SELECT COUNT(*)::int AS n FROM deliveries WHERE destination = $1 AND event_seq > $2 AND event_seq <= $3',
      [destination, lo, hi],
    );
    return rows[0]?.n ?? 0;
  }

  async countRowsByState() {
    const counts: Record<DeliveryState, number> = { pending: 0, failed: 0, delivered: 0, dead: 0 };
    const { rows } = await this.pool.query<{ state: DeliveryState; n: number }>(
      'SELECT state, COUNT(*)::int AS n FROM deliveries GROUP BY state',
    );
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  async eventById(eventId: string) {
    const { rows } = await this.pool.query<LogEventRow>(`SELECT ${LOG_EVENT_COLUMNS} FROM events WHERE event_id = $1`, [
      pgText(eventId),
    ]);
    return rows[0] ?? null;
  }

  /**
   * An operator's retry of a log delivery without a row: delivered already, it gets a pending row
   * (due now, a fresh attempt budget); not delivered yet, it is left to its reader and answered
   * as it is. Null when the id names no delivery, or once the row is made (the caller reads it).
   */
  async retryFromLog(deliveryId: string): Promise<OutboxDelivery | null> {
    const parsed = parseLogDeliveryId(deliveryId);
    if (!parsed) return null;
    const cursor = (await this.cursors()).find((c) => destinationTag(c.destination) === parsed.tag);
    const event = await this.eventById(parsed.eventId);
    if (!cursor || !event || Number(event.seq) <= cursor.fromSeq) return null;
    if (cursor.untilSeq !== null && Number(event.seq) > cursor.untilSeq) return null;
    if (Number(event.seq) > cursor.seq) return logDelivery(event, cursor, null);
    const now = Date.now();
    await this.pool.query(
      `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
         attempts, next_attempt_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $9)
       ON CONFLICT (delivery_id) DO NOTHING`,
      [
        deliveryId,
        event.seq,
        event.event_id,
        event.docv_transaction_id,
        event.event_type,
        cursor.destination,
        now,
        event.received_at,
        new Date(now).toISOString(),
      ],
    );
    return null;
  }

  /**
   * Replay of log deliveries without a row that match: each delivered one gets a pending row
   * (those not delivered yet are already on their way). Returns how many.
   */
  async replayFromLog(filter: ReplayFilter): Promise<number> {
    if (filter.state !== undefined && filter.state !== 'delivered') return 0;
    const now = Date.now();
    const where = new Where('$n');
    const nowMs = where.param(now);
    const nowText = where.param(new Date(now).toISOString());
    if (filter.from) where.add('e.received_at >= ?', filter.from.toISOString());
    if (filter.to) where.add('e.received_at < ?', filter.to.toISOString());
    if (filter.eventType) where.add('e.event_type = ?', pgText(filter.eventType));
    if (filter.docvTransactionId !== undefined)
      where.add('e.docv_transaction_id = ?', pgText(filter.docvTransactionId));
    if (filter.destination !== undefined) where.add('c.destination = ?', pgText(filter.destination));
    where.raw('NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.destination = c.destination AND d.event_seq = e.seq)');
    const result = await this.pool.query(
      `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
         attempts, next_attempt_at, created_at, updated_at)
       SELECT ${LOG_DELIVERY_ID_SQL('e.event_id', 'c.destination')}, e.seq, e.event_id, e.docv_transaction_id, e.event_type,
         c.destination, 'pending', 0, ${nowMs}::bigint, e.received_at, ${nowText}::timestamptz
       FROM destination_cursors c JOIN events e ON e.seq > c.from_seq AND e.seq <= c.seq
       ${where}
       ON CONFLICT (delivery_id) DO NOTHING`,
      where.values,
    );
    return result.rowCount ?? 0;
  }
}
