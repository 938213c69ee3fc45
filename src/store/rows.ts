import {
  canonicalFromStored,
  COMPLETION_EVENT_TYPES,
  type CanonicalDecision,
  type CanonicalEvent,
  type CanonicalFields,
} from '../contract/index.js';
import type { TransactionLifecycle } from '../lifecycle/index.js';
import { DEFAULT_SOURCE } from '../contract/source.js';
import { encodeActivityCursor, encodeCursor, type CursorKind } from './cursor.js';
import type { DeliveryState, OutboxDelivery, Page, StoredEventSummary, TransactionSummary } from './types.js';
import { headersWithoutCredentials } from '../auth/redact.js';

/** SQLite hands timestamps back as ISO text, PostgreSQL as Date: both read out as ISO text. */
type Timestamp = string | Date;

function iso(t: Timestamp): string {
  return typeof t === 'string' ? t : t.toISOString();
}

export const EVENT_SUMMARY_COLUMNS =
  'seq, event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, source, event_type, event_time, customer_user_id, decision, received_at, canonical, evaluation_id, duplicates, last_duplicate_at';

/**
 * "No transaction" (a test event, a RiskOS note not linked yet) is stored as the empty string,
 * which no dialect accepts as a transaction id, so that docv_transaction_id stays NOT NULL with
 * its indexes as they are: dropping NOT NULL in SQLite means rebuilding the events table, minutes
 * of stopped ingest on a large database. Every read maps it back to null.
 */
export const NO_TRANSACTION = '';

/**
 * Between a transaction id and its source in a transaction key. A control character, which every
 * dialect refuses in an id (contract keyTextProblem), so no id can forge another source's key.
 */
export const SOURCE_SEPARATOR = '\u001f';

/**
 * The transaction key: what docv_transaction_id holds in every table (events, transactions,
 * deliveries, decisions, tombstones). The same id under two sources is two transactions (issue
 * 20), so the key is scoped: the id alone under the default source (every row stored before
 * sources existed, and a single-source receiver's), `<id>\u001f<source>` under any other. Why a
 * scoped key rather than a (source, id) pair: every per-transaction index and query stays as it
 * is, no table is rebuilt on upgrade, and a prefix search of ids still finds every source's
 * transaction (the id comes first). Readers map it back with transactionOfColumn and the row's
 * source column (decision 0015).
 */
export function transactionColumn(docvTransactionId: string | null, source: string): string {
  if (docvTransactionId === null) return NO_TRANSACTION;
  return source === DEFAULT_SOURCE ? docvTransactionId : `${docvTransactionId}${SOURCE_SEPARATOR}${source}`;
}

/** The transaction id of a stored key, given the row's source. */
export function transactionOfColumn(value: string, source: string): string | null {
  if (value === NO_TRANSACTION) return null;
  if (source === DEFAULT_SOURCE) return value;
  const suffix = `${SOURCE_SEPARATOR}${source}`;
  return value.endsWith(suffix) ? value.slice(0, -suffix.length) : value;
}

/** The source a stored key names (rows that have no source column of their own: tombstones). */
export function sourceOfColumn(value: string): string {
  const at = value.indexOf(SOURCE_SEPARATOR);
  return at < 0 ? DEFAULT_SOURCE : value.slice(at + 1);
}

/**
 * The keys of one transaction id under any source: the id itself (default source) and the range
 * `[<id>\u001f, <id>\u0020)`, which holds exactly `<id>\u001f<every other source>` in byte order:
 * SQLite's (where.ts, whereTransaction). PostgreSQL's collation may not be byte order; it probes
 * each known source's key instead (postgres/source-keys.ts).
 */
export function transactionKeyRange(docvTransactionId: string): { exact: string; from: string; to: string } {
  return {
    exact: docvTransactionId,
    from: `${docvTransactionId}${SOURCE_SEPARATOR}`,
    to: `${docvTransactionId}\u0020`,
  };
}

/** The columns of `events` that every listing shows, as both stores name them. */
export interface EventSummaryRow {
  event_id: string;
  dedupe_key: string;
  delivery_id: string | null;
  docv_transaction_id: string;
  /** Added in issue 20 (SQLite v11, PostgreSQL v12), `default` for rows stored before. */
  source: string;
  event_type: string;
  event_time: string;
  customer_user_id: string | null;
  decision: CanonicalDecision | null;
  received_at: Timestamp;
  /** The canonical fields as JSON (see contract/stored-event.ts); null for flat events. SQLite text, PostgreSQL json. */
  canonical: string | CanonicalFields | null;
  evaluation_id: string | null;
  /** Added in issue 19 (SQLite v8, PostgreSQL v9): default 0 / NULL, written only when a duplicate arrives. */
  duplicates: number | string;
  last_duplicate_at: Timestamp | null;
}

export function metadataOf(row: Pick<EventSummaryRow, 'canonical'>): CanonicalFields | null {
  if (row.canonical === null || row.canonical === undefined) return null;
  return typeof row.canonical === 'string' ? (JSON.parse(row.canonical) as CanonicalFields) : row.canonical;
}

/**
 * The canonical event of a stored row, filed under the row's transaction. That differs from what
 * the sender said only for a RiskOS note the store linked to its transaction through the
 * evaluation id: the link is what a reader, and a destination, needs.
 */
export function canonicalOfRow(
  payload: unknown,
  row: Pick<EventSummaryRow, 'canonical' | 'docv_transaction_id' | 'source'>,
): CanonicalEvent {
  const event = canonicalFromStored(payload, metadataOf(row));
  event.docvTransactionId = transactionOfColumn(row.docv_transaction_id, row.source);
  return event;
}

export function eventSummaryOf(row: EventSummaryRow): StoredEventSummary {
  const meta = metadataOf(row);
  return {
    eventId: row.event_id,
    docvTransactionId: transactionOfColumn(row.docv_transaction_id, row.source),
    source: row.source,
    eventType: row.event_type,
    eventTime: row.event_time,
    eventTimeSource: meta?.eventTimeSource ?? 'event',
    decision: row.decision,
    customerUserId: row.customer_user_id,
    dialect: meta?.dialect ?? 'asyncapi',
    test: meta?.test ?? false,
    evaluationId: row.evaluation_id,
    webhookId: row.delivery_id,
    dedupeKey: row.dedupe_key,
    receivedAt: iso(row.received_at),
    duplicates: Number(row.duplicates),
    lastDuplicateAt: row.last_duplicate_at === null ? null : iso(row.last_duplicate_at),
  };
}

export interface DeliverySummaryRow {
  delivery_id: string;
  event_id: string;
  docv_transaction_id: string;
  /** The event's source (joined from events, or the deliveries row's own column). */
  source: string;
  event_type: string;
  destination: string;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: number | string;
  last_status: number | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  delivered_at: Timestamp | null;
}

export function deliveryOf(row: DeliverySummaryRow): OutboxDelivery {
  return {
    deliveryId: row.delivery_id,
    eventId: row.event_id,
    docvTransactionId: transactionOfColumn(row.docv_transaction_id, row.source),
    source: row.source,
    eventType: row.event_type,
    destination: row.destination,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt:
      row.state === 'pending' || row.state === 'failed' ? new Date(Number(row.next_attempt_at)).toISOString() : null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    deliveredAt: row.delivered_at === null ? null : iso(row.delivered_at),
  };
}

/** The lifecycle as the API shows it: without the sets kept to fold the next event in. */
export function withoutBookkeeping(state: TransactionLifecycle, source: string): TransactionSummary {
  const { seen: _seen, ...summary } = state;
  return { ...summary, source };
}

/** A page of `limit` rows out of `limit + 1` fetched: the extra row says whether more follow. */
export function page<R extends { seq: number | string }, T>(
  rows: R[],
  limit: number,
  kind: CursorKind,
  map: (row: R) => T,
): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last ? encodeCursor(Number(last.seq), kind) : null,
  };
}

/**
 * The transactions.dialects column: every dialect the transaction's events came in, each between
 * commas (`,asyncapi,riskos,`), so a filter finds `,riskos,` with instr/strpos and no other name.
 * A lifecycle from before dialects were recorded had flat events only.
 */
export function dialectsColumn(state: TransactionLifecycle): string {
  const dialects = state.seen.dialects?.length ? state.seen.dialects : ['asyncapi'];
  return `,${dialects.join(',')},`;
}

/** A transaction row as the activity-ordered list reads it (last_received_at: SQLite text, PostgreSQL Date). */
export interface ActivityRow {
  seq: number | string;
  last_received_at: Timestamp;
}

/**
 * A page of transactions by last activity: the cursor is the last row's (last_received_at, seq).
 * `stopped`: a bounded walk (unindexed-walk.ts) examined up to this row and found no match past
 * the page: the next page starts after it, and the page says how many it examined.
 */
export function activityPage<R extends ActivityRow, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  stopped?: { at: ActivityRow; examined: number },
): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const cursorAt = (row: ActivityRow) =>
    encodeActivityCursor({ at: new Date(iso(row.last_received_at)), seq: Number(row.seq) });
  if (rows.length <= limit && stopped)
    return { items: items.map(map), nextCursor: cursorAt(stopped.at), partial: { examined: stopped.examined } };
  return { items: items.map(map), nextCursor: rows.length > limit && last ? cursorAt(last) : null };
}

/**
 * Whether a claimed delivery without a decision of its own should carry the transaction's latest
 * fetched one: a completion's forward must carry the decision even when it was fetched for the
 * upload (whose fetch found it first, so the completion's own fetch made no call).
 */
export function wantsTransactionDecision(delivery: {
  eventType: string;
  docvTransactionId: string | null;
  fetchedDecision: unknown;
}): boolean {
  return (
    delivery.fetchedDecision === null &&
    delivery.docvTransactionId !== null &&
    COMPLETION_EVENT_TYPES.includes(delivery.eventType)
  );
}

/**
 * Stored headers as shown to readers: filtered again on the way out, so rows kept before a
 * credential pattern was added (an `X-Auth-Token` stored by an older version) are not shown either.
 */
export function shownHeaders(stored: string | Record<string, string>): Record<string, string> {
  return headersWithoutCredentials(
    typeof stored === 'string' ? (JSON.parse(stored) as Record<string, string>) : stored,
  );
}

/**
 * What getEvent adds for an event whose raw body retention removed (events.raw_removed_at): the
 * marker, and an empty raw body (the column holds `{}` so every reader still parses it).
 */
export function removedByRetention(
  rawRemovedAt: Timestamp | null | undefined,
): { removedByRetention: { raw: string }; rawBody: string; payload: Record<string, unknown> } | object {
  if (rawRemovedAt === null || rawRemovedAt === undefined) return {};
  return { removedByRetention: { raw: iso(rawRemovedAt) }, rawBody: '', payload: {} };
}

/** Errors and statuses from other systems are stored, but never unbounded. */
export function clipText(text: string | null): string | null {
  return text === null ? null : text.length > 1000 ? `${text.slice(0, 999)}…` : text;
}
