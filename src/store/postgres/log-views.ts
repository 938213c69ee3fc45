import type pg from 'pg';
import { subscriptionOfColumn, type Subscription } from '../destinations.js';
import { cursorOf, destinationTag, parseLogDeliveryId, type DestinationCursorRow } from '../log-outbox.js';
import {
  logDelivery,
  takes,
  type LogDeletion,
  type LogEventRow,
  type LogViewSource,
  type PositionedRow,
  type RecordedAttempts,
  type SeqRange,
} from '../log-views.js';
import { Where } from '../where.js';
import type { DeliveryFilter, DeliveryState, OutboxDelivery, ReplayFilter } from '../types.js';
import { pgText } from './pg-text.js';
import { whereTransactionKeys } from './source-keys.js';

/**
 * A log delivery's id in SQL, as logDeliveryId (store/log-outbox.ts) spells it: the event id
 * without its prefix, a dot, 8 hex characters of the destination's SHA-256.
 */
const LOG_DELIVERY_ID_SQL = (eventId: string, destination: string) =>
  `'dlv_' || substr(${eventId}, strpos(${eventId}, '_') + 1) || '.' || left(encode(sha256(convert_to(${destination}, 'UTF8')), 'hex'), 8)`;

const ROW_COLUMNS =
  'seq, event_seq, delivery_id, event_id, docv_transaction_id, event_type, destination, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at';

const LOG_EVENT_COLUMNS = 'seq, event_id, docv_transaction_id, source, event_type, received_at';

/**
 * Whether the destination named by the SQL expression `destination` takes the event of `source`
 * and `eventType` (SQL expressions), as subscribes() (store/destinations.ts) says: a destination
 * without a stored subscription (none, or a library's handler, which is not stored) takes every
 * event; a list that is null or absent takes every value; a list takes its members. For the
 * statements that re-queue or count many deliveries at once (replay, countReplay); one primary
 * key probe of destinations per row. The JSON is the store's own (subscriptionColumn).
 */
export function takenSql(destination: string, source: string, eventType: string): string {
  const among = (list: string, value: string) =>
    `(json_typeof(s.subscription::json -> '${list}') IS DISTINCT FROM 'array'
      OR ${value} IN (SELECT json_array_elements_text(s.subscription::json -> '${list}')))`;
  return `NOT EXISTS (SELECT 1 FROM destinations s WHERE s.name = ${destination} AND s.subscription IS NOT NULL
            AND NOT (${among('sources', source)} AND ${among('eventTypes', eventType)}))`;
}

/**
 * The PostgreSQL answers to the outbox views' questions (store/log-views.ts), and the writes that
 * give a delivery read back from the log a row of its own (an operator's retry or replay).
 */
export class PostgresLogViews implements LogViewSource {
  constructor(private readonly pool: pg.Pool) {}

  async cursors() {
    return (await this.pool.query<DestinationCursorRow>('SELECT * FROM destination_cursors')).rows.map(cursorOf);
  }

  async rows(
    filter: DeliveryFilter,
    after: { seq: number; destination: string } | null,
    limit: number,
    range: SeqRange,
  ) {
    const where = new Where('$n');
    if (range.after > 0) where.add('d.event_seq > ?', range.after);
    if (range.upTo < Number.MAX_SAFE_INTEGER) where.add('d.event_seq <= ?', range.upTo);
    if (after)
      where.raw(
        `(d.event_seq < ${where.param(after.seq)} OR (d.event_seq = ${where.param(after.seq)} AND d.destination COLLATE "C" > ${where.param(after.destination)}))`,
      );
    if (filter.state) where.add('d.state = ?', filter.state);
    if (filter.destination !== undefined) where.add('d.destination = ?', pgText(filter.destination));
    if (filter.docvTransactionId !== undefined)
      whereTransactionKeys(where, 'd.docv_transaction_id', filter.docvTransactionId, filter.source);
    if (filter.source !== undefined) where.add('e.source = ?', filter.source);
    // The source is the event's (deliveries has no column of its own): one primary key probe a row.
    // COLLATE "C": the order of destinations must be the one log-views.ts sorts by (code points).
    const sql = `SELECT ${ROW_COLUMNS.split(', ')
      .map((c) => `d.${c}`)
      .join(', ')}, e.source
                 FROM deliveries d JOIN events e ON e.seq = d.event_seq ${where}
                 ORDER BY d.event_seq DESC, d.destination COLLATE "C" LIMIT ${where.param(limit)}`;
    return (await this.pool.query<PositionedRow>(sql, where.values)).rows;
  }

  async eventsDesc(lo: number, hi: number, docvTransactionId: string | undefined, limit: number, source?: string) {
    const where = new Where('$n');
    where.add('seq > ?', lo);
    where.add('seq <= ?', hi);
    if (docvTransactionId !== undefined) whereTransactionKeys(where, 'docv_transaction_id', docvTransactionId, source);
    if (source !== undefined) where.add('source = ?', source);
    const sql = `SELECT ${LOG_EVENT_COLUMNS} FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(limit)}`;
    return (await this.pool.query<LogEventRow>(sql, where.values)).rows;
  }

  /** The stored destinations' subscriptions (a handful of rows). */
  async subscriptions() {
    const { rows } = await this.pool.query<{ name: string; subscription: string }>(
      'SELECT name, subscription FROM destinations WHERE subscription IS NOT NULL',
    );
    const out = new Map<string, Subscription>();
    for (const row of rows) {
      const subscription = subscriptionOfColumn(row.subscription);
      if (subscription) out.set(row.name, subscription);
    }
    return out;
  }

  /**
   * Events with lo < seq ≤ hi that `subscription` takes: a walk of the primary key over the span,
   * each row's source and type tested (no index has them: each would cost ingest a B-tree entry).
   * log-views.ts asks only for spans within EXACT_COUNT_SPAN (50,000 positions: about 30 ms with
   * bodies of 1.3 kB on a loaded two-core machine); past that, a subscribed destination's
   * delivered count and health attempts are those of every event its cursor passed, an upper
   * bound (eventsTakenBetween says so).
   */
  async countSubscribedEvents(lo: number, hi: number, subscription: Subscription) {
    const where = new Where('$n');
    where.add('seq > ?', lo);
    where.add('seq <= ?', Math.min(hi, Number.MAX_SAFE_INTEGER));
    if (subscription.sources) where.add('source = ANY(?::text[])', subscription.sources);
    if (subscription.eventTypes)
      where.add(
        'event_type = ANY(?::text[])',
        subscription.eventTypes.map((t) => pgText(t)),
      );
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT COUNT(*)::int AS n FROM events ${where}`,
      where.values,
    );
    return rows[0]?.n ?? 0;
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

  async logBounds() {
    const { rows } = await this.pool.query<{ min: string | null; max: string | null }>(
      'SELECT (SELECT MIN(seq) FROM events) AS min, (SELECT MAX(seq) FROM events) AS max',
    );
    const row = rows[0];
    return row && row.min !== null && row.max !== null ? { min: Number(row.min), max: Number(row.max) } : null;
  }

  /** Retention's deletion batches overlapping lo < seq ≤ hi (postgres/retention.ts). */
  async deletions(lo: number, hi: number): Promise<LogDeletion[]> {
    const { rows } = await this.pool.query<{ min_seq: string; max_seq: string; deleted: number }>(
      'SELECT min_seq, max_seq, deleted FROM log_deletions WHERE max_seq > $1 AND min_seq <= $2',
      [lo, Math.min(hi, Number.MAX_SAFE_INTEGER)],
    );
    return rows.map((r) => ({ min_seq: Number(r.min_seq), max_seq: Number(r.max_seq), deleted: Number(r.deleted) }));
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

  /**
   * A binary search on seq per time, all times at once in one statement (WITH RECURSIVE: each
   * round probes the primary key once per time still searching, about log2 of the log's length
   * rounds). No index on received_at: that would be one more B-tree written by every event for
   * the sake of a chart. It relies on events being committed nearly in receipt order (ingest
   * commits in seq order under the log lock, with receipt times taken just before).
   *
   * Per time: [lo, up) is the seq range still unknown and `found` the lowest seq known to be
   * received at or after the time (the log's end + 1 while none is). A probe reads the first
   * event at or after the middle, below `up`: seq has gaps (rolled back inserts), so the middle
   * may name no event. Received before the time: lo moves past it; else it is `found` and up
   * moves to the middle. Each round halves the range (or closes it).
   */
  async positionsAt(times: Date[]) {
    if (times.length === 0) return [];
    const { rows } = await this.pool.query<{ i: number; found: number }>({
      name: 'docv_positions_at',
      text: `WITH RECURSIVE ends AS (
               SELECT (SELECT seq FROM events ORDER BY seq LIMIT 1) AS first,
                      (SELECT seq FROM events ORDER BY seq DESC LIMIT 1) AS last
             ), search AS (
               SELECT t.i, t.at, e.first AS lo, e.last + 1 AS up, e.last + 1 AS found
               FROM unnest($1::timestamptz[]) WITH ORDINALITY AS t(at, i), ends e
               WHERE e.first IS NOT NULL
               UNION ALL
               SELECT s.i, s.at,
                 CASE WHEN p.seq IS NULL OR p.received_at >= s.at THEN s.lo ELSE p.seq + 1 END,
                 CASE WHEN p.seq IS NULL OR p.received_at >= s.at THEN (s.lo + s.up) / 2 ELSE s.up END,
                 CASE WHEN p.seq IS NOT NULL AND p.received_at >= s.at THEN p.seq ELSE s.found END
               FROM search s
               LEFT JOIN LATERAL (
                 SELECT seq, received_at FROM events
                 WHERE seq >= (s.lo + s.up) / 2 AND seq < s.up ORDER BY seq LIMIT 1
               ) p ON true
               WHERE s.lo < s.up
             )
             SELECT i::int, found FROM search WHERE lo >= up`,
      values: [times.map((t) => t.toISOString())],
    });
    const found = new Map(rows.map((r) => [Number(r.i), Number(r.found)]));
    // found − 1: the position just before that event. On an empty log, 0.
    return times.map((_, i) => Math.max(0, (found.get(i + 1) ?? 1) - 1));
  }

  async countRowsByDestination() {
    return (
      await this.pool.query<{ destination: string; state: DeliveryState; n: number }>(
        'SELECT destination, state, COUNT(*)::int AS n FROM deliveries GROUP BY destination, state',
      )
    ).rows;
  }

  /**
   * The stored destinations, and the destinations of rows: a skip scan of deliveries_by_destination
   * (one probe per destination), not a walk of every row, which an upgraded store has millions of.
   */
  async knownDestinations() {
    const { rows } = await this.pool.query<{ name: string }>({
      name: 'docv_known_destinations',
      text: `WITH RECURSIVE seen AS (
               (SELECT destination FROM deliveries ORDER BY destination LIMIT 1)
               UNION ALL
               SELECT (SELECT d.destination FROM deliveries d WHERE d.destination > s.destination ORDER BY d.destination LIMIT 1)
               FROM seen s WHERE s.destination IS NOT NULL
             )
             SELECT destination AS name FROM seen WHERE destination IS NOT NULL
             UNION
             SELECT name FROM destinations`,
    });
    return rows.map((r) => r.name);
  }

  /**
   * Marks are made in seq order (a cursor only moves forward): the primary key walked down from
   * the top to the first made by then (null: the top).
   */
  async markAtOrBefore(destination: string, at: Date | null) {
    const { rows } = await this.pool.query<{ seq: number; at: Date }>({
      name: 'docv_mark_at_or_before',
      text: `SELECT seq, at FROM cursor_marks WHERE destination = $1 AND ($2::timestamptz IS NULL OR at <= $2)
             ORDER BY seq DESC LIMIT 1`,
      values: [destination, at?.toISOString() ?? null],
    });
    const row = rows[0];
    return row ? { seq: Number(row.seq), at: row.at.toISOString() } : null;
  }

  async attemptsOf(destination: string, since: Date): Promise<RecordedAttempts> {
    const { rows } = await this.pool.query<{
      attempts: number;
      failures: number;
      last_delivered_at: Date | null;
      last_error: string | null;
      last_error_at: Date | null;
    }>({
      name: 'docv_attempts_of_destination',
      text: `SELECT r.attempts, r.failures,
               (SELECT a.started_at + a.duration_ms * interval '1 millisecond' FROM delivery_attempts a
                 WHERE a.destination = $1 AND a.outcome = 'delivered' ORDER BY a.started_at DESC LIMIT 1) AS last_delivered_at,
               x.error AS last_error, x.started_at AS last_error_at
             FROM (SELECT COUNT(*)::int AS attempts, COUNT(*) FILTER (WHERE outcome IN ('failed', 'dead'))::int AS failures
                     FROM delivery_attempts WHERE destination = $1 AND started_at >= $2) r
             LEFT JOIN LATERAL (
               SELECT error, started_at FROM delivery_attempts
               WHERE destination = $1 AND error IS NOT NULL ORDER BY started_at DESC LIMIT 1
             ) x ON true`,
      values: [destination, since.toISOString()],
    });
    const row = rows[0]!;
    return {
      attempts: row.attempts,
      failures: row.failures,
      lastDeliveredAt: row.last_delivered_at?.toISOString() ?? null,
      lastError: row.last_error,
      lastErrorAt: row.last_error_at?.toISOString() ?? null,
    };
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
    // An event its subscription does not take is no delivery of the destination.
    if (!takes(await this.subscriptions(), cursor.destination, event)) return null;
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
    const now = Date.now();
    const where = new Where('$n');
    const nowMs = where.param(now);
    const nowText = where.param(new Date(now).toISOString());
    const replayed = this.replayedFromLog(where, filter);
    if (replayed === null) return 0;
    const result = await this.pool.query(
      `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
         attempts, next_attempt_at, created_at, updated_at)
       SELECT ${LOG_DELIVERY_ID_SQL('e.event_id', 'c.destination')}, e.seq, e.event_id, e.docv_transaction_id, e.event_type,
         c.destination, 'pending', 0, ${nowMs}::bigint, e.received_at, ${nowText}::timestamptz
       FROM ${replayed.from}
       ${replayed.where}
       ON CONFLICT (delivery_id) DO NOTHING`,
      where.values,
    );
    return result.rowCount ?? 0;
  }

  /**
   * The log deliveries a replay gives a row (c: their cursor, e: their event), as a FROM and the
   * conditions added to `where`; null when the filter's state leaves none (only delivered ones
   * are replayed from the log). replayFromLog inserts them, countReplay counts them.
   */
  replayedFromLog(where: Where, filter: ReplayFilter): { from: string; where: Where } | null {
    if (filter.state !== undefined && filter.state !== 'delivered') return null;
    if (filter.from) where.add('e.received_at >= ?', filter.from.toISOString());
    if (filter.to) where.add('e.received_at < ?', filter.to.toISOString());
    if (filter.eventType) where.add('e.event_type = ?', pgText(filter.eventType));
    if (filter.docvTransactionId !== undefined)
      whereTransactionKeys(where, 'e.docv_transaction_id', filter.docvTransactionId, filter.source);
    if (filter.source !== undefined) where.add('e.source = ?', filter.source);
    if (filter.destination !== undefined) where.add('c.destination = ?', pgText(filter.destination));
    where.raw('NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.destination = c.destination AND d.event_seq = e.seq)');
    // Events the destination's subscription does not take were passed over, never delivered.
    where.raw(takenSql('c.destination', 'e.source', 'e.event_type'));
    return { from: 'destination_cursors c JOIN events e ON e.seq > c.from_seq AND e.seq <= c.seq', where };
  }
}
