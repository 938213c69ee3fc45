import type Database from 'better-sqlite3';
import type { TransactionLifecycle } from '../../lifecycle/index.js';
import { decodeActivityCursor, decodeCursor } from '../cursor.js';
import type { Sealer } from '../encryption/sealer.js';
import { receiptCountsFromLog } from '../log-views.js';
import {
  activityPage,
  canonicalOfRow,
  EVENT_SUMMARY_COLUMNS,
  eventSummaryOf,
  page,
  removedByRetention,
  shownHeaders,
  transactionColumn,
  transactionKeyRange,
  withoutBookkeeping,
  type EventSummaryRow,
} from '../rows.js';
import {
  AmbiguousTransactionError,
  type BoundedCount,
  type EventFilter,
  type Page,
  type ReceiptBucket,
  type StoredEvent,
  type StoredEventSummary,
  type StoreStats,
  type TransactionFilter,
  type TransactionSummary,
  type TransactionView,
} from '../types.js';
import { prefixEnd, SEARCH_CANDIDATES, searchTermOf, Where, whereTransaction } from '../where.js';
import { hasUnindexedCondition, unindexedWalk, walkedFilter } from '../unindexed-walk.js';
import { SqliteLogPositions } from './log-positions.js';

type TransactionConditions = Omit<TransactionFilter, 'limit' | 'cursor'>;

interface EventRow extends EventSummaryRow {
  seq: number;
  content_hash: string;
  received_at: string;
  raw_body?: Buffer;
  headers?: string;
  key_id?: string | null;
  raw_removed_at?: string | null;
}

interface TransactionRow {
  seq: number;
  last_received_at: string;
  state: string;
  source: string;
}

/**
 * The reads of the SQLite store: transactions, events and counts, straight from the connection
 * (reads need no write queue). The statements of the lookups are prepared once each (preparing
 * costs more than a lookup); the listings' vary with their filters.
 */
export class SqliteReadModel {
  private readonly statements = new Map<string, Database.Statement>();
  /** Prepared on first use: after migrations have created the tables. */
  private positionsInstance: SqliteLogPositions | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
  ) {}

  private get positions(): SqliteLogPositions {
    this.positionsInstance ??= new SqliteLogPositions(this.db);
    return this.positionsInstance;
  }

  cached<P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt as unknown as Database.Statement<P, R>;
  }

  /**
   * With `source`, that source's transaction of the id; without, the id's transaction under any
   * source: the key itself, then the keys of other sources (rows.ts, transactionKeyRange), two
   * seeks of the unique index. Several: AmbiguousTransactionError (the caller says which).
   */
  getTransaction(docvTransactionId: string, source?: string): TransactionView | null {
    let row: (TransactionRow & { docv_transaction_id: string }) | undefined;
    if (source !== undefined) {
      row = this.cached<[string], TransactionRow & { docv_transaction_id: string }>(
        'SELECT seq, state, source, docv_transaction_id FROM transactions WHERE docv_transaction_id = ?',
      ).get(transactionColumn(docvTransactionId, source));
    } else {
      const { exact, from, to } = transactionKeyRange(docvTransactionId);
      const rows = this.cached<[string, string, string], TransactionRow & { docv_transaction_id: string }>(
        `SELECT seq, state, source, docv_transaction_id FROM transactions WHERE docv_transaction_id = ?
         UNION ALL
         SELECT * FROM (SELECT seq, state, source, docv_transaction_id FROM transactions
                         WHERE docv_transaction_id >= ? AND docv_transaction_id < ? LIMIT 3)`,
      ).all(exact, from, to);
      if (rows.length > 1) throw new AmbiguousTransactionError(docvTransactionId, rows.map((r) => r.source).sort());
      row = rows[0];
    }
    if (!row) return null;
    const events = this.cached<[string], EventRow>(
      `SELECT ${EVENT_SUMMARY_COLUMNS} FROM events WHERE docv_transaction_id = ? ORDER BY event_time_ms, seq`,
    ).all(row.docv_transaction_id);
    return {
      ...withoutBookkeeping(JSON.parse(row.state) as TransactionLifecycle, row.source),
      events: events.map(eventSummaryOf),
    };
  }

  /**
   * By last activity, newest first (transactions_by_activity, or the status, decision or
   * anomalous index when the filter names one: each holds (last_received_at, seq) after its
   * key, so the walk is in list order and stops at the page); the cursor is a keyset on both.
   * Dialect and environment are tested on the rows of that walk, which examines at most
   * unindexedWalk() of them (unindexed-walk.ts).
   */
  listTransactions(filter: TransactionFilter): Page<TransactionSummary> {
    const after = decodeActivityCursor(filter.cursor);
    const cursorOf = (where: Where) => {
      if (after !== null)
        where.raw(`(last_received_at, seq) < (${where.param(after.at.toISOString())}, ${where.param(after.seq)})`);
      return where;
    };
    const summaryOf = (r: TransactionRow) => withoutBookkeeping(JSON.parse(r.state) as TransactionLifecycle, r.source);
    if (!hasUnindexedCondition(filter)) {
      const where = cursorOf(this.transactionWhere(filter));
      const sql = `SELECT seq, last_received_at, state, source FROM transactions ${where}
                   ORDER BY last_received_at DESC, seq DESC LIMIT ${where.param(filter.limit + 1)}`;
      return activityPage(
        this.db.prepare<unknown[], TransactionRow>(sql).all(...where.values),
        filter.limit,
        summaryOf,
      );
    }
    // One statement, so one snapshot: the matches among the first `bound` rows of the walk, and
    // the rows at bound and bound + 1 (from the index alone), which say whether the walk stopped
    // at its bound and where the next page starts when it did and the page is not full.
    const bound = unindexedWalk();
    const walk = cursorOf(this.transactionWhere(walkedFilter(filter)));
    const tested = this.unindexedWhere(filter);
    const sql = `SELECT seq, last_received_at, state, source, 1 AS matched FROM (
                   SELECT seq, last_received_at, state, source FROM (${this.walkSql(walk, bound, 'seq, last_received_at, state, source, dialects, environment')})
                   ${tested} ORDER BY last_received_at DESC, seq DESC LIMIT ${tested.param(filter.limit + 1)})
                 UNION ALL
                 SELECT seq, last_received_at, NULL, NULL, 0 FROM (
                   SELECT seq, last_received_at FROM transactions ${walk}
                   ORDER BY last_received_at DESC, seq DESC LIMIT 2 OFFSET ${bound - 1})`;
    const rows = this.db
      .prepare<unknown[], TransactionRow & { matched: number }>(sql)
      .all(...walk.values, ...tested.values, ...walk.values);
    const edge = rows.filter((r) => r.matched === 0);
    return activityPage(
      rows.filter((r) => r.matched === 1),
      filter.limit,
      summaryOf,
      edge.length === 2 ? { at: edge[0]!, examined: bound } : undefined,
    );
  }

  /**
   * The filter counted through the same indexes as the list, stopping at cap + 1 rows; with
   * dialect or environment, among the unindexedWalk() most recent rows the rest picks.
   */
  countTransactions(filter: TransactionConditions, cap: number): BoundedCount {
    const limit = Math.max(0, Math.floor(cap));
    const counted = (n: number): BoundedCount =>
      n > limit ? { count: limit, capped: true } : { count: n, capped: false };
    if (!hasUnindexedCondition(filter)) {
      const where = this.transactionWhere(filter);
      const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM transactions ${where} LIMIT ${where.param(limit + 1)})`;
      return counted(this.db.prepare<unknown[], { n: number }>(sql).get(...where.values)?.n ?? 0);
    }
    // One statement (one snapshot): the matches among the first `bound` rows, and whether there
    // is a row after them.
    const bound = unindexedWalk();
    const walk = this.transactionWhere(walkedFilter(filter));
    const tested = this.unindexedWhere(filter);
    const columns =
      filter.anomaly !== undefined && filter.anomaly !== 'any'
        ? 'state, source, dialects, environment'
        : 'source, dialects, environment';
    const sql = `SELECT
                   (SELECT COUNT(*) FROM (SELECT 1 FROM (${this.walkSql(walk, bound, columns)})
                     ${tested} LIMIT ${tested.param(limit + 1)})) AS n,
                   (SELECT seq FROM transactions ${walk}
                     ORDER BY last_received_at DESC, seq DESC LIMIT 1 OFFSET ${bound}) IS NOT NULL AS more`;
    const row = this.db
      .prepare<unknown[], { n: number; more: number }>(sql)
      .get(...walk.values, ...tested.values, ...walk.values);
    const n = row?.n ?? 0;
    return n <= limit && row?.more === 1 ? { ...counted(n), examined: bound } : counted(n);
  }

  /** The first `bound` rows of a walk in list order, with the columns the conditions tested on them need. */
  private walkSql(walk: Where, bound: number, columns: string): string {
    return `SELECT ${columns} FROM transactions ${walk} ORDER BY last_received_at DESC, seq DESC LIMIT ${bound}`;
  }

  /** The conditions of a transaction filter (AND), each answerable by an index or tested on the rows one brings up. */
  private transactionWhere(filter: TransactionConditions): Where {
    const where = new Where('?');
    const term = searchTermOf(filter.search);
    if (term !== null) where.raw(`docv_transaction_id IN (${this.searchCandidates(where, term)})`);
    if (filter.status) where.add('status = ?', filter.status);
    if (filter.decision) where.add('decision = ?', filter.decision);
    if (filter.customerUserId !== undefined) where.add('customer_user_id = ?', filter.customerUserId);
    // Written as the partial index's condition, so SQLite walks transactions_anomalous.
    if (filter.anomaly !== undefined) where.raw('anomaly_count > 0');
    if (filter.from) where.add('last_received_at >= ?', filter.from.toISOString());
    if (filter.to) where.add('last_received_at < ?', filter.to.toISOString());
    return this.unindexedWhere(filter, where);
  }

  /** The conditions tested on the rows an index brings up: an anomaly's code, dialect, environment, source. */
  private unindexedWhere(filter: TransactionConditions, where = new Where('?')): Where {
    if (filter.anomaly !== undefined && filter.anomaly !== 'any')
      where.add(
        "EXISTS (SELECT 1 FROM json_each(state, '$.anomalies') a WHERE json_extract(a.value, '$.code') = ?)",
        filter.anomaly,
      );
    if (filter.dialect !== undefined) where.add('instr(dialects, ?) > 0', `,${filter.dialect},`);
    if (filter.environment !== undefined) where.add('environment = ?', filter.environment);
    if (filter.source !== undefined) where.add('source = ?', filter.source);
    return where;
  }

  /**
   * The transactions a search may mean, as a sub-select: ids, customer user ids and event ids
   * equal to the term or starting with it, each a range scan of its unique or customer index
   * (an exact match sorts first in its range) bounded to SEARCH_CANDIDATES. The id range holds
   * the id's transaction under every source: a transaction key starts with its id (rows.ts).
   */
  private searchCandidates(where: Where, term: string): string {
    const end = prefixEnd(term);
    const range = (column: string) =>
      `${column} >= ${where.param(term)}${end === null ? '' : ` AND ${column} < ${where.param(end)}`}`;
    const limit = SEARCH_CANDIDATES;
    return [
      `SELECT docv_transaction_id FROM (SELECT docv_transaction_id FROM transactions WHERE ${range('docv_transaction_id')} ORDER BY docv_transaction_id LIMIT ${limit})`,
      `SELECT docv_transaction_id FROM (SELECT docv_transaction_id FROM transactions WHERE ${range('customer_user_id')} ORDER BY customer_user_id LIMIT ${limit})`,
      `SELECT docv_transaction_id FROM (SELECT docv_transaction_id FROM events WHERE ${range('event_id')} ORDER BY event_id LIMIT ${limit})`,
    ].join(' UNION ALL ');
  }

  /** Receipt counts from log positions (log-positions.ts): no event is counted one by one. */
  receiptCounts(from: Date, to: Date, bucketMs: number): Promise<ReceiptBucket[]> {
    return receiptCountsFromLog(
      { positionsAt: async (times) => this.positions.positionsAt(times) },
      from,
      to,
      bucketMs,
    );
  }

  getEvent(eventId: string): StoredEvent | null {
    const row = this.cached<[string], EventRow>(
      `SELECT ${EVENT_SUMMARY_COLUMNS}, raw_body, headers, key_id, raw_removed_at FROM events WHERE event_id = ?`,
    ).get(eventId);
    if (!row) return null;
    const keyId = row.key_id ?? null;
    const rawBody = this.sealer.openBytes(row.raw_body!, keyId, 'events', 'raw_body', row.event_id).toString('utf8');
    const payload = JSON.parse(rawBody) as Record<string, unknown>;
    return {
      ...eventSummaryOf(row),
      payload,
      event: canonicalOfRow(payload, row),
      rawBody,
      headers: shownHeaders(this.sealer.openJsonText(row.headers!, keyId, 'events', 'headers', row.event_id)),
      ...removedByRetention(row.raw_removed_at),
    };
  }

  listEvents(filter: EventFilter): Page<StoredEventSummary> {
    const where = new Where('?');
    const after = decodeCursor(filter.cursor, 'ev');
    if (after !== null) where.add('seq < ?', after);
    if (filter.docvTransactionId !== undefined)
      whereTransaction(where, 'docv_transaction_id', filter.docvTransactionId, filter.source);
    // Tested on the rows the walk brings up: no index has the source (migration 11).
    if (filter.source !== undefined) where.add('source = ?', filter.source);
    if (filter.eventType) where.add('event_type = ?', filter.eventType);
    if (filter.evaluationId !== undefined) where.add('evaluation_id = ?', filter.evaluationId);
    // Dialect and test live in the canonical JSON; flat events (canonical NULL) are asyncapi, not test.
    if (filter.dialect !== undefined)
      where.add("COALESCE(json_extract(canonical, '$.dialect'), 'asyncapi') = ?", filter.dialect);
    if (filter.test !== undefined) where.add("COALESCE(json_extract(canonical, '$.test'), 0) = ?", filter.test ? 1 : 0);
    const sql = `SELECT ${EVENT_SUMMARY_COLUMNS} FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
    return page(this.db.prepare<unknown[], EventRow>(sql).all(...where.values), filter.limit, 'ev', eventSummaryOf);
  }

  /** Every count but the outbox's and the events' (both come from the log's positions: log-views.ts). */
  counts(): Omit<StoreStats, 'deliveries' | 'events'> {
    const count = (table: string) =>
      this.db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? 0;
    const byStatus = this.db
      .prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM transactions GROUP BY status')
      .all();
    // From the partial index of transactions that have a decision; the rest have none.
    const byDecision = this.db
      .prepare<[], { decision: string; n: number }>(
        'SELECT decision, COUNT(*) AS n FROM transactions WHERE decision IS NOT NULL GROUP BY decision',
      )
      .all();
    const transactions = count('transactions');
    const decided = byDecision.reduce((sum, r) => sum + r.n, 0);
    return {
      transactions,
      transactionsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      transactionsByDecision: {
        ...Object.fromEntries(byDecision.map((r) => [r.decision, r.n])),
        ...(transactions > decided ? { none: transactions - decided } : {}),
      },
      quarantine: count('quarantine'),
    };
  }
}
