import type Database from 'better-sqlite3';
import {
  cursorOf,
  destinationTag,
  logDeliveryId,
  parseLogDeliveryId,
  type DestinationCursorRow,
} from '../log-outbox.js';
import { DEFAULT_SOURCE } from '../../contract/index.js';
import { subscriptionOfColumn, type Subscription } from '../destinations.js';
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
import { Where, whereTransaction } from '../where.js';
import { SqliteLogPositions } from './log-positions.js';
import type { DeliveryFilter, DeliveryState, OutboxDelivery, ReplayFilter } from '../types.js';

/**
 * The condition that the subscription in `subscription` (destinations.subscription, JSON: a SQL
 * expression) takes the event of `source` and `eventType` (SQL expressions), as subscribes()
 * says: NULL takes everything, a list that is null or absent takes every value, a list takes
 * its members. For replay (outbox.ts and below), which re-queues many deliveries in one statement.
 */
export function subscribedSql(subscription: string, source: string, eventType: string): string {
  const inList = (list: string, value: string) =>
    `(json_type(${subscription}, '$.${list}') IS NOT 'array' OR ${value} IN (SELECT value FROM json_each(${subscription}, '$.${list}')))`;
  return `(${subscription} IS NULL OR (${inList('sources', source)} AND ${inList('eventTypes', eventType)}))`;
}

/** The columns of events a delivery read back from the log needs (LogEventRow). */
const LOG_EVENT_COLUMNS = 'seq, event_id, docv_transaction_id, source, event_type, received_at';

/**
 * The SQLite answers to the outbox views' questions (store/log-views.ts), and the writes that give
 * a delivery read back from the log a row of its own (an operator's retry or replay).
 */
export class SqliteLogViews implements LogViewSource {
  private readonly stmts;
  private readonly positions: SqliteLogPositions;

  constructor(private readonly db: Database.Database) {
    this.positions = new SqliteLogPositions(db);
    // The one SQL spelling of a log delivery id, for replays that give thousands of them a row.
    db.function('docv_log_delivery_id', { deterministic: true }, (eventId: unknown, destination: unknown) =>
      logDeliveryId(String(eventId), String(destination)),
    );
    this.stmts = {
      cursors: db.prepare<[], DestinationCursorRow>('SELECT * FROM destination_cursors'),
      eventById: db.prepare<[string], LogEventRow>(`SELECT ${LOG_EVENT_COLUMNS} FROM events WHERE event_id = ?`),
      countEvents: db.prepare<[number, number], { n: number }>(
        'SELECT COUNT(*) AS n FROM events WHERE seq > ? AND seq <= ?',
      ),
      // Two subqueries: SQLite answers a lone min() or max() from the end of the key, not both at once.
      logBounds: db.prepare<[], { min: number | null; max: number | null }>(
        'SELECT (SELECT MIN(seq) FROM events) AS min, (SELECT MAX(seq) FROM events) AS max',
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
      storedNames: db.prepare<[], { name: string }>('SELECT name FROM destinations'),
      subscriptions: db.prepare<[], { name: string; subscription: string }>(
        'SELECT name, subscription FROM destinations WHERE subscription IS NOT NULL',
      ),
      // A loose index scan of deliveries_by_destination: one seek per distinct destination, not
      // one step per row (DISTINCT would walk every row of a destination that is down).
      rowDestinations: db.prepare<[], { name: string }>(
        `WITH RECURSIVE names(name) AS (
           SELECT MIN(destination) FROM deliveries
           UNION ALL
           SELECT (SELECT MIN(destination) FROM deliveries WHERE destination > names.name) FROM names WHERE names.name IS NOT NULL)
         SELECT name FROM names WHERE name IS NOT NULL`,
      ),
      rowsOfDestination: db.prepare<[string], { state: DeliveryState; n: number }>(
        'SELECT state, COUNT(*) AS n FROM deliveries WHERE destination = ? GROUP BY state',
      ),
      markAtOrBefore: db.prepare<[string, string], { seq: number; at: string }>(
        'SELECT seq, at FROM cursor_marks WHERE destination = ? AND at <= ? ORDER BY seq DESC LIMIT 1',
      ),
      latestMark: db.prepare<[string], { seq: number; at: string }>(
        'SELECT seq, at FROM cursor_marks WHERE destination = ? ORDER BY seq DESC LIMIT 1',
      ),
      attemptsSince: db.prepare<[string, string], { attempts: number; failures: number | null }>(
        `SELECT COUNT(*) AS attempts, SUM(outcome IN ('failed', 'dead')) AS failures
           FROM delivery_attempts WHERE destination = ? AND started_at >= ?`,
      ),
      lastDelivered: db.prepare<[string], { started_at: string; duration_ms: number }>(
        `SELECT started_at, duration_ms FROM delivery_attempts WHERE destination = ? AND outcome = 'delivered'
          ORDER BY started_at DESC LIMIT 1`,
      ),
      lastError: db.prepare<[string], { started_at: string; error: string }>(
        `SELECT started_at, error FROM delivery_attempts WHERE destination = ? AND error IS NOT NULL
          ORDER BY started_at DESC LIMIT 1`,
      ),
    };
  }

  async cursors() {
    return this.stmts.cursors.all().map(cursorOf);
  }

  async rows(
    filter: DeliveryFilter,
    after: { seq: number; destination: string } | null,
    limit: number,
    range: SeqRange,
  ) {
    const where = new Where('?');
    // With a transaction, its index (deliveries_in_order) finds the few rows: `+` keeps SQLite's
    // planner from walking the positions' range instead, which it rates the same.
    const seq = filter.docvTransactionId !== undefined ? '+d.event_seq' : 'd.event_seq';
    if (range.after > 0) where.add(`${seq} > ?`, range.after);
    if (range.upTo < Number.MAX_SAFE_INTEGER) where.add(`${seq} <= ?`, range.upTo);
    if (after)
      where.raw(
        `(d.event_seq < ${where.param(after.seq)} OR (d.event_seq = ${where.param(after.seq)} AND d.destination > ${where.param(after.destination)}))`,
      );
    if (filter.state) where.add('d.state = ?', filter.state);
    if (filter.destination !== undefined) where.add('d.destination = ?', filter.destination);
    if (filter.docvTransactionId !== undefined)
      whereTransaction(where, 'd.docv_transaction_id', filter.docvTransactionId, filter.source);
    if (filter.source !== undefined) where.add('e.source = ?', filter.source);
    // The source is the event's (deliveries has no column of its own): one primary key lookup a
    // row. LEFT: a row is listed even if its event were gone (nothing enforces the foreign key).
    const sql = `SELECT d.*, COALESCE(e.source, '${DEFAULT_SOURCE}') AS source
                 FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq ${where}
                 ORDER BY d.event_seq DESC, d.destination LIMIT ${where.param(limit)}`;
    return this.db.prepare<unknown[], PositionedRow>(sql).all(...where.values);
  }

  async eventsDesc(lo: number, hi: number, docvTransactionId: string | undefined, limit: number, source?: string) {
    const where = new Where('?');
    // With a transaction, events_by_transaction finds its few events (see rows()).
    const seq = docvTransactionId !== undefined ? '+seq' : 'seq';
    where.add(`${seq} > ?`, lo);
    where.add(`${seq} <= ?`, hi);
    if (docvTransactionId !== undefined) whereTransaction(where, 'docv_transaction_id', docvTransactionId, source);
    if (source !== undefined) where.add('source = ?', source);
    const sql = `SELECT ${LOG_EVENT_COLUMNS} FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(limit)}`;
    return this.db.prepare<unknown[], LogEventRow>(sql).all(...where.values);
  }

  async subscriptions() {
    return this.subscriptionsNow();
  }

  private subscriptionsNow(): Map<string, Subscription> {
    const out = new Map<string, Subscription>();
    for (const row of this.stmts.subscriptions.all()) {
      const subscription = subscriptionOfColumn(row.subscription);
      if (subscription) out.set(row.name, subscription);
    }
    return out;
  }

  async countSubscribedEvents(lo: number, hi: number, subscription: Subscription) {
    const where = new Where('?');
    where.add('seq > ?', lo);
    where.add('seq <= ?', Math.min(hi, Number.MAX_SAFE_INTEGER));
    const among = (column: string, values: string[] | null | undefined) => {
      if (!values) return;
      if (values.length === 0) where.raw('1 = 0');
      else where.raw(`${column} IN (${values.map((v) => where.param(v)).join(', ')})`);
    };
    among('source', subscription.sources);
    among('event_type', subscription.eventTypes);
    return (
      this.db.prepare<unknown[], { n: number }>(`SELECT COUNT(*) AS n FROM events ${where}`).get(...where.values)?.n ??
      0
    );
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

  /** Retention's deletion batches overlapping lo < seq ≤ hi (sqlite/retention.ts). */
  async deletions(lo: number, hi: number) {
    return this.db
      .prepare<[number, number], LogDeletion>(
        'SELECT min_seq, max_seq, deleted FROM log_deletions WHERE max_seq > ? AND min_seq <= ?',
      )
      .all(lo, Math.min(hi, Number.MAX_SAFE_INTEGER));
  }

  async logBounds() {
    const row = this.stmts.logBounds.get();
    return row && row.min !== null && row.max !== null ? { min: row.min, max: row.max } : null;
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

  async positionsAt(times: Date[]) {
    return this.positions.positionsAt(times);
  }

  async countRowsByDestination() {
    return (await this.rowDestinations()).flatMap((destination) =>
      this.stmts.rowsOfDestination.all(destination).map((r) => ({ destination, state: r.state, n: r.n })),
    );
  }

  private async rowDestinations(): Promise<string[]> {
    return this.stmts.rowDestinations.all().map((r) => r.name);
  }

  async knownDestinations() {
    return [...this.stmts.storedNames.all().map((r) => r.name), ...(await this.rowDestinations())];
  }

  async markAtOrBefore(destination: string, at: Date | null) {
    return (
      (at === null
        ? this.stmts.latestMark.get(destination)
        : this.stmts.markAtOrBefore.get(destination, at.toISOString())) ?? null
    );
  }

  async attemptsOf(destination: string, since: Date): Promise<RecordedAttempts> {
    const counts = this.stmts.attemptsSince.get(destination, since.toISOString());
    const delivered = this.stmts.lastDelivered.get(destination);
    const error = this.stmts.lastError.get(destination);
    return {
      attempts: counts?.attempts ?? 0,
      failures: counts?.failures ?? 0,
      lastDeliveredAt: delivered
        ? new Date(Date.parse(delivered.started_at) + Math.round(delivered.duration_ms)).toISOString()
        : null,
      lastError: error?.error ?? null,
      lastErrorAt: error?.started_at ?? null,
    };
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
    // An event its subscription does not take is no delivery of the destination.
    if (!takes(this.subscriptionsNow(), cursor.destination, event)) return null;
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
    const log = this.replayableFromLog(filter);
    if (!log) return 0;
    const now = Date.now();
    const sql = `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
                   attempts, next_attempt_at, created_at, updated_at)
                 SELECT docv_log_delivery_id(e.event_id, c.destination), e.seq, e.event_id, e.docv_transaction_id, e.event_type,
                   c.destination, 'pending', 0, ${now}, e.received_at, '${new Date(now).toISOString()}'
                   ${log.from}
                 ON CONFLICT (delivery_id) DO NOTHING`;
    return this.db.prepare(sql).run(...log.values).changes;
  }

  /** How many log deliveries replayFromLog(filter) would give a row now. */
  countReplayFromLog(filter: ReplayFilter): number {
    const log = this.replayableFromLog(filter);
    if (!log) return 0;
    return this.db.prepare<unknown[], { n: number }>(`SELECT COUNT(*) AS n ${log.from}`).get(...log.values)?.n ?? 0;
  }

  /** The FROM … WHERE of the log deliveries a replay re-queues (delivered, without a row); null for none. */
  private replayableFromLog(filter: ReplayFilter): { from: string; values: unknown[] } | null {
    if (filter.state !== undefined && filter.state !== 'delivered') return null;
    const where = new Where('?');
    if (filter.from) where.add('e.received_at >= ?', filter.from.toISOString());
    if (filter.to) where.add('e.received_at < ?', filter.to.toISOString());
    if (filter.eventType) where.add('e.event_type = ?', filter.eventType);
    if (filter.docvTransactionId !== undefined)
      whereTransaction(where, 'e.docv_transaction_id', filter.docvTransactionId, filter.source);
    if (filter.source !== undefined) where.add('e.source = ?', filter.source);
    if (filter.destination !== undefined) where.add('c.destination = ?', filter.destination);
    where.raw('NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.destination = c.destination)');
    // Events the destination's subscription does not take were passed over, never delivered.
    where.raw(subscribedSql('s.subscription', 'e.source', 'e.event_type'));
    return {
      from: `FROM destination_cursors c JOIN events e ON e.seq > c.from_seq AND e.seq <= c.seq
             LEFT JOIN destinations s ON s.name = c.destination ${where}`,
      values: where.values,
    };
  }
}
