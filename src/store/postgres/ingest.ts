import type pg from 'pg';
import { applyEvent, startLifecycle, type LifecycleEvent, type TransactionLifecycle } from '../../lifecycle/index.js';
import { eventTimeMs } from '../../contract/index.js';
import { newId } from '../ids.js';
import { DECISION_FETCH_DESTINATION, type IngestInput, type IngestOutcome, type OutboxConfig } from '../types.js';

/**
 * PostgreSQL text cannot hold U+0000, which JSON strings may carry; such characters in the
 * indexed columns become U+FFFD (lone surrogates get the same from the UTF-8 encoder). The raw
 * body, the headers and the lifecycle JSON keep the exact value.
 */
export function pgText(value: string): string;
export function pgText(value: string | null | undefined): string | null;
export function pgText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

// Named statements: parsed and planned once per connection, whatever the batch size. A batch is
// BEGIN, INSERT_EVENTS, CREATE_AND_LOCK, UPDATE_TRANSACTIONS (only when some transaction already
// existed), COMMIT: every round trip to the server is one more wake-up of a backend that shares the
// machine's cores, so each statement does as much of the batch as its inputs allow.

/**
 * Inserts the batch's events and, in the same round trip, reads the events that already held a
 * key before this statement began (the usual duplicate: a retry of something committed long ago).
 * The second branch cannot see the rows of the first (one snapshot per statement), so it returns
 * only earlier events. A key held by a transaction that committed while this statement waited on
 * it is in neither branch and is read by EVENTS_BY_KEY afterwards.
 */
const INSERT_EVENTS = {
  name: 'docv_insert_events_v2',
  text: `WITH inserted AS (
           INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
             event_time_ms, customer_user_id, decision, received_at, raw_body, headers)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::bigint[], $9::text[], $10::text[], $11::timestamptz[], $12::bytea[], $13::json[])
           ON CONFLICT (dedupe_key) DO NOTHING
           RETURNING seq, dedupe_key
         )
         SELECT seq, dedupe_key, NULL AS event_id, NULL AS content_hash FROM inserted
         UNION ALL
         SELECT NULL, dedupe_key, event_id, content_hash FROM events WHERE dedupe_key = ANY($2::text[])`,
};

const EVENTS_BY_KEY = {
  name: 'docv_events_by_key',
  text: 'SELECT dedupe_key, event_id, content_hash FROM events WHERE dedupe_key = ANY($1::text[])',
};

const TRANSACTION_COLUMNS =
  'docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at, first_received_at, last_received_at, event_count, anomaly_count, state';
const TRANSACTION_ARRAYS =
  '$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::json[]';

/**
 * One round trip for the rest of the inserts: the lifecycle of every transaction of the batch as
 * if it were new (ON CONFLICT DO NOTHING takes no lock on an existing row), the outbox rows, and
 * the transactions that existed before, locked in key order so that concurrent batches of several
 * instances neither lose updates nor deadlock. Answers the ids it created (state null) and the
 * locked rows. UNION ALL runs its branches in order, so the insert (which may wait on another
 * instance's insert of the same id) finishes before any row is locked, as when they were two
 * statements. Rows inserted here are invisible to the locking read (one snapshot per statement);
 * a transaction another instance created and committed while the insert waited on it is in
 * neither branch and is locked by LOCK_TRANSACTIONS afterwards.
 */
const CREATE_AND_LOCK = {
  name: 'docv_create_and_lock',
  text: `WITH created AS (
           INSERT INTO transactions (${TRANSACTION_COLUMNS})
           SELECT * FROM unnest(${TRANSACTION_ARRAYS})
           ON CONFLICT (docv_transaction_id) DO NOTHING
           RETURNING docv_transaction_id
         ), locked AS (
           SELECT docv_transaction_id, state FROM transactions WHERE docv_transaction_id = ANY($1::text[])
           ORDER BY docv_transaction_id FOR UPDATE
         ), queued AS (
           INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
             next_attempt_at, waits_for, wait_until, created_at, updated_at)
           SELECT d, s, e, t, y, n, 'pending', a, w, u, c, c
           FROM unnest($12::text[], $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bigint[], $19::text[],
             $20::bigint[], $21::timestamptz[]) AS x(d, s, e, t, y, n, a, w, u, c)
         )
         SELECT docv_transaction_id, NULL::json AS state FROM created
         UNION ALL
         SELECT docv_transaction_id, state FROM locked`,
};

const LOCK_TRANSACTIONS = {
  name: 'docv_lock_transactions',
  text: `SELECT docv_transaction_id, state FROM transactions WHERE docv_transaction_id = ANY($1::text[])
         ORDER BY docv_transaction_id FOR UPDATE`,
};

const UPDATE_TRANSACTIONS = {
  name: 'docv_update_transactions',
  text: `UPDATE transactions t SET status = u.status, decision = u.decision, customer_user_id = u.customer_user_id,
           first_event_at = u.first_event_at, last_event_at = u.last_event_at, first_received_at = u.first_received_at,
           last_received_at = u.last_received_at, event_count = u.event_count, anomaly_count = u.anomaly_count, state = u.state
         FROM unnest(${TRANSACTION_ARRAYS}) AS u(${TRANSACTION_COLUMNS})
         WHERE t.docv_transaction_id = u.docv_transaction_id`,
};

/** Lifecycle state as the row of `transactions` it is stored in, one array per column. */
export function transactionColumns(states: TransactionLifecycle[]): unknown[] {
  return [
    states.map((s) => pgText(s.docvTransactionId)),
    states.map((s) => s.status),
    states.map((s) => s.decision),
    states.map((s) => pgText(s.customerUserId)),
    states.map((s) => s.firstEventAt),
    states.map((s) => s.lastEventAt),
    states.map((s) => s.firstReceivedAt),
    states.map((s) => s.lastReceivedAt),
    states.map((s) => s.eventCount),
    states.map((s) => s.anomalies.length),
    states.map((s) => JSON.stringify(s)),
  ];
}

interface Candidate {
  input: IngestInput;
  eventId: string;
  seq: number;
}

function lifecycleEventOf(input: IngestInput): LifecycleEvent {
  const event = input.event;
  return {
    eventType: event.eventType,
    eventTime: event.eventTime,
    receivedAt: input.receivedAt.toISOString(),
    ...(event.decision !== undefined ? { decision: event.decision } : {}),
    ...(event.customerUserId !== undefined ? { customerUserId: event.customerUserId } : {}),
  };
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * Commits a batch of deliveries in the caller's transaction with a handful of statements, however
 * many there are. Deduplication rests on the UNIQUE dedupe_key (so it holds across processes);
 * the lifecycle rows are written in key order under row locks, so concurrent batches of several
 * instances neither lose updates nor deadlock.
 */
export async function ingestBatch(client: pg.PoolClient, inputs: IngestInput[], outbox: OutboxConfig): Promise<IngestOutcome[]> {
  // Within the batch the first delivery of a key is the candidate; later ones compare against it.
  // (By position: the same input object may be queued twice.)
  const first = new Map<string, IngestInput>();
  const firstIndex = new Map<string, number>();
  inputs.forEach((input, i) => {
    if (first.has(input.dedupeKey)) return;
    first.set(input.dedupeKey, input);
    firstIndex.set(input.dedupeKey, i);
  });
  // Key order: two instances inserting overlapping keys wait on each other in the same order.
  const ordered = [...first.entries()].sort(byKey);
  const eventIds = new Map(ordered.map(([key, input]) => [key, newId('evt', input.receivedAt.getTime())]));
  const inserted = await client.query<{ seq: number | null; dedupe_key: string; event_id: string | null; content_hash: string | null }>({
    ...INSERT_EVENTS,
    values: [
      ordered.map(([key]) => eventIds.get(key)),
      ordered.map(([key]) => key),
      ordered.map(([, i]) => i.deliveryId),
      ordered.map(([, i]) => i.contentHash),
      ordered.map(([, i]) => pgText(i.event.docvTransactionId)),
      ordered.map(([, i]) => i.event.eventType),
      ordered.map(([, i]) => i.event.eventTime),
      ordered.map(([, i]) => eventTimeMs(i.event.eventTime)),
      ordered.map(([, i]) => pgText(i.event.customerUserId)),
      ordered.map(([, i]) => i.event.decision ?? null),
      ordered.map(([, i]) => i.receivedAt.toISOString()),
      ordered.map(([, i]) => Buffer.from(i.rawBody.buffer, i.rawBody.byteOffset, i.rawBody.byteLength)),
      ordered.map(([, i]) => JSON.stringify(i.headers)),
    ],
  });
  const seqByKey = new Map<string, number>();
  const winners = new Map<string, { eventId: string; contentHash: string }>();
  for (const r of inserted.rows) {
    if (r.seq !== null) seqByKey.set(r.dedupe_key, r.seq);
    else winners.set(r.dedupe_key, { eventId: r.event_id!, contentHash: r.content_hash! });
  }

  // Keys another transaction committed while the insert waited on it: visible to a new statement.
  const lost = ordered.filter(([key]) => !seqByKey.has(key) && !winners.has(key)).map(([key]) => key);
  if (lost.length > 0) {
    const rows = await client.query<{ dedupe_key: string; event_id: string; content_hash: string }>({ ...EVENTS_BY_KEY, values: [lost] });
    for (const r of rows.rows) winners.set(r.dedupe_key, { eventId: r.event_id, contentHash: r.content_hash });
    if (lost.some((key) => !winners.has(key))) throw new Error('a conflicting event vanished before it could be read');
  }
  for (const [key, input] of first) {
    if (seqByKey.has(key)) winners.set(key, { eventId: eventIds.get(key)!, contentHash: input.contentHash });
  }

  const accepted: Candidate[] = [];
  const outcomes: IngestOutcome[] = inputs.map((input, i) => {
    const winner = winners.get(input.dedupeKey)!;
    const seq = seqByKey.get(input.dedupeKey);
    if (seq !== undefined && firstIndex.get(input.dedupeKey) === i) {
      accepted.push({ input, eventId: winner.eventId, seq });
      return { kind: 'accepted', eventId: winner.eventId };
    }
    return { kind: winner.contentHash === input.contentHash ? 'duplicate' : 'conflict', eventId: winner.eventId };
  });
  if (accepted.length > 0) await writeLifecyclesAndOutbox(client, accepted, outbox);
  return outcomes;
}

function byPgText(a: string, b: string): number {
  const x = pgText(a);
  const y = pgText(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * New transactions and outbox rows in one statement; transactions that already existed are
 * locked by it, folded here and written back by one more.
 */
async function writeLifecyclesAndOutbox(client: pg.PoolClient, accepted: Candidate[], outbox: OutboxConfig): Promise<void> {
  const eventsByTransaction = new Map<string, LifecycleEvent[]>();
  for (const c of accepted) {
    const id = c.input.event.docvTransactionId;
    const list = eventsByTransaction.get(id);
    if (list) list.push(lifecycleEventOf(c.input));
    else eventsByTransaction.set(id, [lifecycleEventOf(c.input)]);
  }
  const fold = (state: TransactionLifecycle | null, id: string): TransactionLifecycle => {
    const events = eventsByTransaction.get(id)!;
    let s = state ?? startLifecycle(id, events[0]!);
    for (const e of state ? events : events.slice(1)) s = applyEvent(s, e);
    return s;
  };
  const ids = [...eventsByTransaction.keys()].sort(byPgText);
  const fresh = ids.map((id) => fold(null, id));
  const answer = await client.query<{ docv_transaction_id: string; state: TransactionLifecycle | null }>({
    ...CREATE_AND_LOCK,
    values: [...transactionColumns(fresh), ...deliveryColumns(accepted, outbox)],
  });
  const created = new Set<string>();
  const stateById = new Map<string, TransactionLifecycle>();
  for (const r of answer.rows) {
    if (r.state === null) created.add(r.docv_transaction_id);
    else stateById.set(r.docv_transaction_id, r.state);
  }
  if (created.size === ids.length) return;

  // Created and committed by another instance while our insert waited: a new statement sees it.
  const missing = ids.filter((id) => !created.has(pgText(id)) && !stateById.has(pgText(id))).map((id) => pgText(id));
  if (missing.length > 0) {
    const late = await client.query<{ docv_transaction_id: string; state: TransactionLifecycle }>({ ...LOCK_TRANSACTIONS, values: [missing] });
    for (const r of late.rows) stateById.set(r.docv_transaction_id, r.state);
  }
  const updated = ids
    .filter((id) => !created.has(pgText(id)))
    .map((id) => {
      const state = stateById.get(pgText(id));
      if (!state) throw new Error(`transaction ${JSON.stringify(id)} neither inserted nor found`);
      return fold(state, id);
    });
  await client.query({ ...UPDATE_TRANSACTIONS, values: transactionColumns(updated) });
}

/** The outbox rows of the accepted events, one array per column of CREATE_AND_LOCK ($12…$21). */
function deliveryColumns(accepted: Candidate[], outbox: OutboxConfig): unknown[] {
  const rows: Array<{ id: string; c: Candidate; destination: string; waitsFor: string | null; waitUntil: number | null }> = [];
  for (const c of accepted) {
    const now = c.input.receivedAt.getTime();
    let fetchId: string | null = null;
    if (outbox.fetchDecisions && c.input.event.eventType === 'VERIFICATION_COMPLETED') {
      fetchId = newId('dlv', now);
      rows.push({ id: fetchId, c, destination: DECISION_FETCH_DESTINATION, waitsFor: null, waitUntil: null });
    }
    for (const destination of outbox.destinations) {
      // Destinations get the fetched decision with the event, if it comes within the wait.
      rows.push({ id: newId('dlv', now), c, destination, waitsFor: fetchId, waitUntil: fetchId ? now + outbox.decisionWaitMs : null });
    }
  }
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.c.seq),
    rows.map((r) => r.c.eventId),
    rows.map((r) => pgText(r.c.input.event.docvTransactionId)),
    rows.map((r) => r.c.input.event.eventType),
    rows.map((r) => r.destination),
    rows.map((r) => r.c.input.receivedAt.getTime()),
    rows.map((r) => r.waitsFor),
    rows.map((r) => r.waitUntil),
    rows.map((r) => r.c.input.receivedAt.toISOString()),
  ];
}
