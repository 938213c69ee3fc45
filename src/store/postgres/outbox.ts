import type pg from 'pg';
import type { CanonicalFields } from '../../contract/index.js';
import { applyApiDecision, applyDecisionUnavailable } from '../../lifecycle/index.js';
import { decodeCursor } from '../cursor.js';
import { deliveryOf, wantsTransactionDecision, type DeliverySummaryRow } from '../rows.js';
import { Where } from '../where.js';
import type {
  AttemptResult,
  ClaimRequest,
  ClaimedDelivery,
  DeliveryAttempt,
  DeliveryFilter,
  DeliveryState,
  FetchedDecision,
  OutboxDelivery,
  ReplayFilter,
} from '../types.js';
import { updateLifecycle } from './lifecycle-rows.js';
import { pgText } from './pg-text.js';
import { storedEvent } from './stored-rows.js';

export interface DeliveryRow extends DeliverySummaryRow {
  seq: number;
  next_attempt_at: number;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
}

const DELIVERY_COLUMNS =
  'seq, delivery_id, event_id, docv_transaction_id, event_type, destination, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at';

/** Errors and statuses from other systems are stored, but never unbounded. */
function clip(text: string | null): string | null {
  if (text === null) return null;
  const t = pgText(text);
  return t.length > 1000 ? `${t.slice(0, 999)}…` : t;
}

/**
 * Leases due deliveries in one statement. SKIP LOCKED lets several workers claim at once without
 * waiting on each other or taking the same row; the lease (owner + expiry) outlives the statement,
 * so a crashed worker's deliveries come back when it runs out.
 */
function claimSql(ordered: boolean): string {
  return `
    WITH due AS (
      SELECT d.seq FROM deliveries d
      WHERE d.state IN ('pending', 'failed') AND d.next_attempt_at <= $1
        AND d.destination = ANY($2::text[])
        AND (d.lease_until IS NULL OR d.lease_until < $1)
        ${
          // '' is no transaction (test events, unlinked notes): nothing orders those.
          ordered
            ? `AND (d.docv_transaction_id = '' OR NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.docv_transaction_id = d.docv_transaction_id
                 AND e.destination = d.destination AND e.event_seq < d.event_seq AND e.state IN ('pending', 'failed')))`
            : ''
        }
        AND (d.waits_for IS NULL OR d.wait_until <= $1
             OR NOT EXISTS (SELECT 1 FROM deliveries w WHERE w.delivery_id = d.waits_for AND w.state IN ('pending', 'failed')))
      ORDER BY d.next_attempt_at, d.seq
      LIMIT $3
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE deliveries d SET lease_owner = $4, lease_until = $5
    FROM due, events ev LEFT JOIN decisions x ON x.event_id = ev.event_id
    WHERE d.seq = due.seq AND ev.seq = d.event_seq
    RETURNING ${DELIVERY_COLUMNS.split(', ')
      .map((c) => `d.${c}`)
      .join(', ')},
      ev.raw_body, ev.canonical, ev.received_at, x.decision AS fetched_decision, x.reason_codes, x.fetched_at, x.details, x.decision_name`;
}

const CLAIM_ORDERED = { name: 'docv_claim_ordered_v2', text: claimSql(true) };
const CLAIM_UNORDERED = { name: 'docv_claim_unordered_v2', text: claimSql(false) };

type ClaimRow = DeliveryRow & {
  raw_body: Buffer;
  canonical: CanonicalFields | null;
  received_at: Date;
  fetched_decision: FetchedDecision['decision'] | null;
  reason_codes: string[] | null;
  fetched_at: string | null;
  details: Record<string, unknown> | null;
  decision_name: string | null;
};

export async function claim(db: pg.Pool, request: ClaimRequest): Promise<ClaimedDelivery[]> {
  if (request.destinations.length === 0 || request.limit <= 0) return [];
  const now = request.now ?? Date.now();
  const result = await db.query<ClaimRow>({
    ...(request.ordered ? CLAIM_ORDERED : CLAIM_UNORDERED),
    values: [now, request.destinations, request.limit, request.workerId, now + request.leaseMs],
  });
  const claimed: ClaimedDelivery[] = result.rows
    .sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.seq - b.seq)
    .map((row) => ({
      ...deliveryOf(row),
      event: storedEvent(JSON.parse(row.raw_body.toString('utf8')), row),
      receivedAt: row.received_at.toISOString(),
      fetchedDecision: row.fetched_decision
        ? {
            decision: row.fetched_decision,
            reasonCodes: row.reason_codes ?? [],
            fetchedAt: row.fetched_at ?? '',
            details: row.details,
            ...(row.decision_name !== null ? { decisionName: row.decision_name } : {}),
          }
        : null,
    }));
  await withTransactionDecisions(db, claimed);
  return claimed;
}

const LATEST_DECISIONS = {
  name: 'docv_latest_decisions',
  text: `SELECT DISTINCT ON (docv_transaction_id) docv_transaction_id, decision, reason_codes, fetched_at, details, decision_name
           FROM decisions WHERE docv_transaction_id = ANY($1::text[]) ORDER BY docv_transaction_id, fetched_at DESC`,
};

/**
 * A completion's forward carries the transaction's latest fetched decision when none was fetched
 * for the completion itself (see wantsTransactionDecision). One query, and only when a claim has
 * such a delivery: the flat path without decision fetches never pays for it.
 */
async function withTransactionDecisions(db: pg.Pool, claimed: ClaimedDelivery[]): Promise<void> {
  const wanting = claimed.filter(wantsTransactionDecision);
  if (wanting.length === 0) return;
  const rows = await db.query<{
    docv_transaction_id: string;
    decision: FetchedDecision['decision'];
    reason_codes: string[];
    fetched_at: string;
    details: Record<string, unknown> | null;
    decision_name: string | null;
  }>({
    ...LATEST_DECISIONS,
    values: [[...new Set(wanting.map((d) => pgText(d.docvTransactionId!)))]],
  });
  const byTransaction = new Map(rows.rows.map((r) => [r.docv_transaction_id, r]));
  for (const delivery of wanting) {
    const r = byTransaction.get(pgText(delivery.docvTransactionId!));
    if (!r) continue;
    delivery.fetchedDecision = {
      decision: r.decision,
      reasonCodes: r.reason_codes,
      fetchedAt: r.fetched_at,
      details: r.details,
      ...(r.decision_name !== null ? { decisionName: r.decision_name } : {}),
    };
  }
}

/**
 * Records attempts, each only if its worker still holds the lease; one statement (so atomic, and
 * one commit) for every attempt that finished in the same turn of the event loop. Answers the
 * deliveries that were recorded.
 */
const COMPLETE_MANY = {
  name: 'docv_complete_many',
  text: `
    WITH done AS (
      UPDATE deliveries d SET state = u.outcome, attempts = d.attempts + 1,
        next_attempt_at = CASE WHEN u.outcome = 'failed' THEN u.next_at ELSE d.next_attempt_at END,
        lease_owner = NULL, lease_until = NULL, last_status = u.status, last_error = u.error, updated_at = u.now,
        delivered_at = CASE WHEN u.outcome = 'delivered' THEN u.now ELSE d.delivered_at END
      FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::float8[])
        AS u(delivery_id, worker, outcome, next_at, status, error, now, started_at, duration_ms)
      WHERE d.delivery_id = u.delivery_id AND d.lease_owner = u.worker
      RETURNING d.delivery_id, d.attempts, u.worker, u.started_at, u.duration_ms, u.outcome, u.status, u.error
    )
    INSERT INTO delivery_attempts (delivery_id, attempt, worker, started_at, duration_ms, outcome, status, error)
    SELECT delivery_id, attempts, worker, started_at, duration_ms, outcome, status, error FROM done
    RETURNING delivery_id`,
};

/** `results` must name each delivery once (the statement would update a row once for two inputs). */
export async function completeMany(db: pg.Pool, results: AttemptResult[]): Promise<boolean[]> {
  const now = new Date();
  const nowText = now.toISOString();
  const rows = await db.query<{ delivery_id: string }>({
    ...COMPLETE_MANY,
    values: [
      results.map((r) => pgText(r.deliveryId)),
      results.map((r) => r.workerId),
      results.map((r) => r.outcome),
      results.map((r) => r.nextAttemptAt ?? now.getTime()),
      results.map((r) => r.status),
      results.map((r) => clip(r.error)),
      results.map(() => nowText),
      results.map((r) => r.startedAt.toISOString()),
      results.map((r) => r.durationMs),
    ],
  });
  const recorded = new Set(rows.rows.map((r) => r.delivery_id));
  return results.map((r) => recorded.has(pgText(r.deliveryId)));
}

/** Saves a fetched decision and folds it into the lifecycle, in the caller's transaction. */
export async function saveDecision(
  client: pg.PoolClient,
  eventId: string,
  docvTransactionId: string,
  decision: FetchedDecision,
): Promise<void> {
  await client.query(
    `INSERT INTO decisions (event_id, docv_transaction_id, decision, reason_codes, fetched_at, details, decision_name)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (event_id) DO UPDATE SET decision = excluded.decision, reason_codes = excluded.reason_codes,
       fetched_at = excluded.fetched_at, details = excluded.details, decision_name = excluded.decision_name`,
    [
      eventId,
      pgText(docvTransactionId),
      decision.decision,
      JSON.stringify(decision.reasonCodes),
      decision.fetchedAt,
      decision.details ? JSON.stringify(decision.details) : null,
      pgText(decision.decisionName),
    ],
  );
  await updateLifecycle(client, docvTransactionId, (state) => applyApiDecision(state, decision));
}

/** The decision fetch gave up: the transaction says so until a decision arrives (in the caller's transaction). */
export async function saveDecisionUnavailable(
  client: pg.PoolClient,
  docvTransactionId: string,
  reason: string,
  at: Date,
): Promise<void> {
  await updateLifecycle(client, docvTransactionId, (state) =>
    applyDecisionUnavailable(state, reason, at.toISOString()),
  );
}

export async function nextDueAt(db: pg.Pool, destinations: string[]): Promise<number | null> {
  if (destinations.length === 0) return null;
  const row = await db.query<{ due: number | null }>({
    name: 'docv_next_due',
    text: `SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) AS due FROM deliveries
           WHERE state IN ('pending', 'failed') AND destination = ANY($1::text[])`,
    values: [destinations],
  });
  return row.rows[0]?.due ?? null;
}

export async function list(db: pg.Pool, filter: DeliveryFilter): Promise<DeliveryRow[]> {
  const where = new Where('$n');
  const after = decodeCursor(filter.cursor, 'dl');
  if (after !== null) where.add('seq < ?', after);
  if (filter.state) where.add('state = ?', filter.state);
  if (filter.destination !== undefined) where.add('destination = ?', pgText(filter.destination));
  if (filter.docvTransactionId !== undefined) where.add('docv_transaction_id = ?', pgText(filter.docvTransactionId));
  const sql = `SELECT ${DELIVERY_COLUMNS} FROM deliveries ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
  return (await db.query<DeliveryRow>(sql, where.values)).rows;
}

export async function get(
  db: pg.Pool,
  deliveryId: string,
): Promise<{ delivery: OutboxDelivery; history: DeliveryAttempt[] } | null> {
  const row = (
    await db.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE delivery_id = $1`, [
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

export async function retry(db: pg.Pool, deliveryId: string): Promise<OutboxDelivery | null> {
  const now = Date.now();
  const row = await db.query<DeliveryRow>(
    `UPDATE deliveries SET ${REQUEUE_SET} WHERE delivery_id = $3 RETURNING ${DELIVERY_COLUMNS}`,
    [now, new Date(now).toISOString(), pgText(deliveryId)],
  );
  return row.rows[0] ? deliveryOf(row.rows[0]) : null;
}

export async function replay(db: pg.Pool, filter: ReplayFilter): Promise<number> {
  const now = Date.now();
  const where = new Where('$n');
  // $1 and $2 of REQUEUE_SET.
  where.param(now);
  where.param(new Date(now).toISOString());
  where.raw('e.seq = d.event_seq');
  if (filter.from) where.add('e.received_at >= ?', filter.from.toISOString());
  if (filter.to) where.add('e.received_at < ?', filter.to.toISOString());
  if (filter.eventType) where.add('d.event_type = ?', filter.eventType);
  if (filter.docvTransactionId !== undefined) where.add('d.docv_transaction_id = ?', pgText(filter.docvTransactionId));
  if (filter.destination !== undefined) where.add('d.destination = ?', pgText(filter.destination));
  if (filter.state) where.add('d.state = ?', filter.state);
  const result = await db.query(`UPDATE deliveries d SET ${REQUEUE_SET} FROM events e ${where}`, where.values);
  return result.rowCount ?? 0;
}

export async function countByState(db: pg.Pool): Promise<Record<DeliveryState, number>> {
  const counts: Record<DeliveryState, number> = { pending: 0, failed: 0, delivered: 0, dead: 0 };
  for (const row of (
    await db.query<{ state: DeliveryState; n: number }>('SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state')
  ).rows) {
    counts[row.state] = row.n;
  }
  return counts;
}
