import type Database from 'better-sqlite3';
import type { TransactionLifecycle } from '../../lifecycle/index.js';
import { decodeCursor } from '../cursor.js';
import {
  canonicalOfRow,
  EVENT_SUMMARY_COLUMNS,
  eventSummaryOf,
  page,
  shownHeaders,
  withoutBookkeeping,
  type EventSummaryRow,
} from '../rows.js';
import type {
  EventFilter,
  Page,
  StoredEvent,
  StoredEventSummary,
  StoreStats,
  TransactionFilter,
  TransactionSummary,
  TransactionView,
} from '../types.js';
import { Where } from '../where.js';

interface EventRow extends EventSummaryRow {
  seq: number;
  content_hash: string;
  received_at: string;
  raw_body?: Buffer;
  headers?: string;
}

interface TransactionRow {
  seq: number;
  state: string;
}

/**
 * The reads of the SQLite store: transactions, events and counts, straight from the connection
 * (reads need no write queue). The statements of the lookups are prepared once each (preparing
 * costs more than a lookup); the listings' vary with their filters.
 */
export class SqliteReadModel {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  cached<P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt as unknown as Database.Statement<P, R>;
  }

  getTransaction(docvTransactionId: string): TransactionView | null {
    const row = this.cached<[string], TransactionRow>(
      'SELECT seq, state FROM transactions WHERE docv_transaction_id = ?',
    ).get(docvTransactionId);
    if (!row) return null;
    const events = this.cached<[string], EventRow>(
      `SELECT ${EVENT_SUMMARY_COLUMNS} FROM events WHERE docv_transaction_id = ? ORDER BY event_time_ms, seq`,
    ).all(docvTransactionId);
    return { ...withoutBookkeeping(JSON.parse(row.state) as TransactionLifecycle), events: events.map(eventSummaryOf) };
  }

  listTransactions(filter: TransactionFilter): Page<TransactionSummary> {
    const where = new Where('?');
    const after = decodeCursor(filter.cursor, 'tx');
    if (after !== null) where.add('seq < ?', after);
    if (filter.status) where.add('status = ?', filter.status);
    if (filter.decision) where.add('decision = ?', filter.decision);
    if (filter.customerUserId !== undefined) where.add('customer_user_id = ?', filter.customerUserId);
    const sql = `SELECT seq, state FROM transactions ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
    const rows = this.db.prepare<unknown[], TransactionRow>(sql).all(...where.values);
    return page(rows, filter.limit, 'tx', (r) => withoutBookkeeping(JSON.parse(r.state) as TransactionLifecycle));
  }

  getEvent(eventId: string): StoredEvent | null {
    const row = this.cached<[string], EventRow>(
      `SELECT ${EVENT_SUMMARY_COLUMNS}, raw_body, headers FROM events WHERE event_id = ?`,
    ).get(eventId);
    if (!row) return null;
    const rawBody = row.raw_body!.toString('utf8');
    const payload = JSON.parse(rawBody) as Record<string, unknown>;
    return {
      ...eventSummaryOf(row),
      payload,
      event: canonicalOfRow(payload, row),
      rawBody,
      headers: shownHeaders(row.headers!),
    };
  }

  listEvents(filter: EventFilter): Page<StoredEventSummary> {
    const where = new Where('?');
    const after = decodeCursor(filter.cursor, 'ev');
    if (after !== null) where.add('seq < ?', after);
    if (filter.docvTransactionId !== undefined) where.add('docv_transaction_id = ?', filter.docvTransactionId);
    if (filter.eventType) where.add('event_type = ?', filter.eventType);
    if (filter.evaluationId !== undefined) where.add('evaluation_id = ?', filter.evaluationId);
    // Dialect and test live in the canonical JSON; flat events (canonical NULL) are asyncapi, not test.
    if (filter.dialect !== undefined)
      where.add("COALESCE(json_extract(canonical, '$.dialect'), 'asyncapi') = ?", filter.dialect);
    if (filter.test !== undefined) where.add("COALESCE(json_extract(canonical, '$.test'), 0) = ?", filter.test ? 1 : 0);
    const sql = `SELECT ${EVENT_SUMMARY_COLUMNS} FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
    return page(this.db.prepare<unknown[], EventRow>(sql).all(...where.values), filter.limit, 'ev', eventSummaryOf);
  }

  /** Every count but the outbox's (the outbox counts its own). */
  counts(): Omit<StoreStats, 'deliveries'> {
    const count = (table: string) =>
      this.db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? 0;
    const byStatus = this.db
      .prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM transactions GROUP BY status')
      .all();
    return {
      events: count('events'),
      transactions: count('transactions'),
      transactionsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      quarantine: count('quarantine'),
    };
  }
}
