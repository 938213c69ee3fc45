import type pg from 'pg';
import type { Sealer } from '../encryption/sealer.js';
import { applyApiDecision, applyDecisionUnavailable } from '../../lifecycle/index.js';
import { deliveryOf, type DeliverySummaryRow } from '../rows.js';
import { Where } from '../where.js';
import type { DeliveryAttempt, FetchedDecision, OutboxDelivery, ReplayFilter } from '../types.js';
import { updateLifecycle } from './lifecycle-rows.js';
import { takenSql, type PostgresLogViews } from './log-views.js';
import { pgText } from './pg-text.js';
import { whereTransactionKeys } from './source-keys.js';

/*
 * The rows of the PostgreSQL outbox: decision fetches, and the deliveries of forwards and handlers
 * that left the log (log-outbox.ts). Claims and attempt records of both are log-reader.ts.
 */

export interface DeliveryRow extends DeliverySummaryRow {
  seq: number;
  next_attempt_at: number;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
}

const DELIVERY_COLUMNS =
  'seq, delivery_id, event_id, docv_transaction_id, event_type, destination, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at';

/**
 * A row's columns (of `d`) and its event's source, as deliveryOf reads them (deliveries has no
 * source column of its own: one primary key probe of events).
 */
const DELIVERY_VIEW = `${DELIVERY_COLUMNS.split(', ')
  .map((c) => `d.${c}`)
  .join(', ')}, (SELECT e.source FROM events e WHERE e.seq = d.event_seq) AS source`;

/**
 * Saves a fetched decision and folds it into the lifecycle, in the caller's transaction. `key`:
 * the transaction key (rows.ts, transactionColumn) the decision is filed under.
 */
export async function saveDecision(
  client: pg.PoolClient,
  eventId: string,
  key: string,
  decision: FetchedDecision,
  sealer: Sealer,
): Promise<void> {
  // Socure's answer can hold document data (kept on purpose): sealed with the row's key.
  const keyId = sealer.currentKeyId;
  const details = decision.details ? JSON.stringify(decision.details) : null;
  await client.query(
    `INSERT INTO decisions (event_id, docv_transaction_id, decision, reason_codes, fetched_at, details, decision_name, key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (event_id) DO UPDATE SET decision = excluded.decision, reason_codes = excluded.reason_codes,
       fetched_at = excluded.fetched_at, details = excluded.details, decision_name = excluded.decision_name,
       key_id = excluded.key_id`,
    [
      eventId,
      pgText(key),
      decision.decision,
      JSON.stringify(decision.reasonCodes),
      decision.fetchedAt,
      details !== null && keyId ? sealer.sealJson(details, 'decisions', 'details', eventId) : details,
      pgText(decision.decisionName),
      keyId,
    ],
  );
  await updateLifecycle(client, key, (state) => applyApiDecision(state, decision));
}

/**
 * The transaction key a decision fetched for `eventId` is filed under, when the store still has
 * the event and it is part of a transaction: the event row's own (it moves with the event when a
 * RiskOS note is filed late), right whatever the source.
 */
export async function keyOfEvent(client: pg.PoolClient, eventId: string): Promise<string | null> {
  const { rows } = await client.query<{ key: string }>(
    'SELECT docv_transaction_id AS key FROM events WHERE event_id = $1',
    [pgText(eventId)],
  );
  const key = rows[0]?.key;
  return key === undefined || key === '' ? null : key;
}

/** The decision fetch gave up: the transaction says so until a decision arrives (in the caller's transaction). */
export async function saveDecisionUnavailable(
  client: pg.PoolClient,
  key: string,
  reason: string,
  at: Date,
): Promise<void> {
  await updateLifecycle(client, key, (state) => applyDecisionUnavailable(state, reason, at.toISOString()));
}

export async function get(
  db: pg.Pool,
  deliveryId: string,
): Promise<{ delivery: OutboxDelivery; history: DeliveryAttempt[] } | null> {
  const row = (
    await db.query<DeliveryRow>(`SELECT ${DELIVERY_VIEW} FROM deliveries d WHERE d.delivery_id = $1`, [
      pgText(deliveryId),
    ])
  ).rows[0];
  if (!row) return null;
  const attempts = await db.query<{
    attempt: number;
    started_at: Date;
    duration_ms: number;
    outcome: DeliveryAttempt['outcome'];
    status: number | null;
    error: string | null;
  }>(
    'SELECT attempt, started_at, duration_ms, outcome, status, error FROM delivery_attempts WHERE delivery_id = $1 ORDER BY seq',
    [row.delivery_id],
  );
  const history = attempts.rows.map((a) => ({
    attempt: a.attempt,
    startedAt: a.started_at.toISOString(),
    durationMs: a.duration_ms,
    outcome: a.outcome,
    status: a.status,
    error: a.error,
  }));
  return { delivery: deliveryOf(row), history };
}

/** Due now, with a fresh attempt budget and no lease: retry and replay share it. */
const REQUEUE_SET = `state = 'pending', attempts = 0, next_attempt_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2`;

/**
 * Due now with a fresh attempt budget. A delivery read back from the log (no row) gets a row when
 * it was delivered, and is answered as it is when it is still on its way (log-views.ts).
 */
export async function retry(db: pg.Pool, views: PostgresLogViews, deliveryId: string): Promise<OutboxDelivery | null> {
  const now = Date.now();
  const row = await db.query<DeliveryRow>(
    `UPDATE deliveries d SET ${REQUEUE_SET} WHERE d.delivery_id = $3 RETURNING ${DELIVERY_VIEW}`,
    [now, new Date(now).toISOString(), pgText(deliveryId)],
  );
  if (row.rows[0]) return deliveryOf(row.rows[0]);
  const onItsWay = await views.retryFromLog(deliveryId);
  if (onItsWay) return onItsWay;
  const made = await db.query<DeliveryRow>(`SELECT ${DELIVERY_VIEW} FROM deliveries d WHERE d.delivery_id = $1`, [
    pgText(deliveryId),
  ]);
  return made.rows[0] ? deliveryOf(made.rows[0]) : null;
}

/**
 * The rows (d) a replay re-queues, joined to their events (e): replay and countReplay share it.
 * A row of an event its destination's subscription does not take now (made before the
 * subscription changed) is left out: replaying it would deliver what the destination no longer
 * takes.
 */
function replayedRows(where: Where, filter: ReplayFilter): Where {
  where.raw('e.seq = d.event_seq');
  if (filter.from) where.add('e.received_at >= ?', filter.from.toISOString());
  if (filter.to) where.add('e.received_at < ?', filter.to.toISOString());
  if (filter.eventType) where.add('d.event_type = ?', filter.eventType);
  if (filter.docvTransactionId !== undefined)
    whereTransactionKeys(where, 'd.docv_transaction_id', filter.docvTransactionId, filter.source);
  if (filter.source !== undefined) where.add('e.source = ?', filter.source);
  if (filter.destination !== undefined) where.add('d.destination = ?', pgText(filter.destination));
  if (filter.state) where.add('d.state = ?', filter.state);
  where.raw(takenSql('d.destination', 'e.source', 'e.event_type'));
  return where;
}

/** Rows that match are due again; delivered log deliveries that match get a row (log-views.ts). */
export async function replay(db: pg.Pool, views: PostgresLogViews, filter: ReplayFilter): Promise<number> {
  const now = Date.now();
  const where = new Where('$n');
  // $1 and $2 of REQUEUE_SET.
  where.param(now);
  where.param(new Date(now).toISOString());
  replayedRows(where, filter);
  const result = await db.query(`UPDATE deliveries d SET ${REQUEUE_SET} FROM events e ${where}`, where.values);
  return (result.rowCount ?? 0) + (await views.replayFromLog(filter));
}

/**
 * What replay(filter) would re-queue now: the same conditions as its two statements, counted by
 * one statement (one snapshot for both parts).
 */
export async function countReplay(db: pg.Pool, views: PostgresLogViews, filter: ReplayFilter): Promise<number> {
  const rows = replayedRows(new Where('$n'), filter);
  // The log part's placeholders continue after the rows part's.
  const continued = new Where('$n');
  for (const value of rows.values) continued.param(value);
  const log = views.replayedFromLog(continued, filter);
  const { rows: counted } = await db.query<{ n: number }>(
    `SELECT (SELECT COUNT(*) FROM deliveries d, events e ${rows})
          + ${log === null ? '0' : `(SELECT COUNT(*) FROM ${log.from} ${log.where})`} AS n`,
    log === null ? rows.values : log.where.values,
  );
  return Number(counted[0]?.n ?? 0);
}
