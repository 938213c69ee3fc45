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

// Named statements: parsed and planned once per connection, whatever the batch size.
const INSERT_EVENTS = {
  name: 'docv_insert_events',
  text: `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
           event_time_ms, customer_user_id, decision, received_at, raw_body, headers)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
           $8::bigint[], $9::text[], $10::text[], $11::timestamptz[], $12::bytea[], $13::json[])
         ON CONFLICT (dedupe_key) DO NOTHING
         RETURNING seq, dedupe_key`,
};

const EVENTS_BY_KEY = {
  name: 'docv_events_by_key',
  text: 'SELECT dedupe_key, event_id, content_hash FROM events WHERE dedupe_key = ANY($1::text[])',
};

const TRANSACTION_COLUMNS =
  'docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at, first_received_at, last_received_at, event_count, anomaly_count, state';
const TRANSACTION_ARRAYS =
  '$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::json[]';

const INSERT_TRANSACTIONS = {
  name: 'docv_insert_transactions',
  text: `INSERT INTO transactions (${TRANSACTION_COLUMNS})
         SELECT * FROM unnest(${TRANSACTION_ARRAYS})
         ON CONFLICT (docv_transaction_id) DO NOTHING
         RETURNING docv_transaction_id`,
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

const INSERT_DELIVERIES = {
  name: 'docv_insert_deliveries',
  text: `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
           next_attempt_at, waits_for, wait_until, created_at, updated_at)
         SELECT d, s, e, t, y, n, 'pending', a, w, u, c, c
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[],
           $9::bigint[], $10::timestamptz[]) AS x(d, s, e, t, y, n, a, w, u, c)`,
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
  const inserted = await client.query<{ seq: number; dedupe_key: string }>({
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
  const seqByKey = new Map(inserted.rows.map((r) => [r.dedupe_key, r.seq]));

  // Keys another transaction holds: ON CONFLICT waited for it to commit, so the winner is visible now.
  const lost = ordered.filter(([key]) => !seqByKey.has(key)).map(([key]) => key);
  const winners = new Map<string, { eventId: string; contentHash: string }>();
  if (lost.length > 0) {
    const rows = await client.query<{ dedupe_key: string; event_id: string; content_hash: string }>({ ...EVENTS_BY_KEY, values: [lost] });
    for (const r of rows.rows) winners.set(r.dedupe_key, { eventId: r.event_id, contentHash: r.content_hash });
    if (winners.size !== lost.length) throw new Error('a conflicting event vanished before it could be read');
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
  if (accepted.length === 0) return outcomes;

  await foldLifecycles(client, accepted);
  await enqueueDeliveries(client, accepted, outbox);
  return outcomes;
}

async function foldLifecycles(client: pg.PoolClient, accepted: Candidate[]): Promise<void> {
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
  const ids = [...eventsByTransaction.keys()].sort((a, b) => (pgText(a) < pgText(b) ? -1 : pgText(a) > pgText(b) ? 1 : 0));

  // New transactions: one insert. Existing ones (or ones another instance just created) are
  // locked, folded and updated; the insert taking no lock on existing rows keeps the order safe.
  const fresh = ids.map((id) => fold(null, id));
  const created = await client.query<{ docv_transaction_id: string }>({ ...INSERT_TRANSACTIONS, values: transactionColumns(fresh) });
  if (created.rows.length === ids.length) return;
  const createdIds = new Set(created.rows.map((r) => r.docv_transaction_id));
  const existing = ids.filter((id) => !createdIds.has(pgText(id)));
  const locked = await client.query<{ docv_transaction_id: string; state: TransactionLifecycle }>({ ...LOCK_TRANSACTIONS, values: [existing.map((id) => pgText(id))] });
  const stateById = new Map(locked.rows.map((r) => [r.docv_transaction_id, r.state]));
  const updated = existing.map((id) => {
    const state = stateById.get(pgText(id));
    if (!state) throw new Error(`transaction ${JSON.stringify(id)} neither inserted nor found`);
    return fold(state, id);
  });
  await client.query({ ...UPDATE_TRANSACTIONS, values: transactionColumns(updated) });
}

async function enqueueDeliveries(client: pg.PoolClient, accepted: Candidate[], outbox: OutboxConfig): Promise<void> {
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
  if (rows.length === 0) return;
  await client.query({
    ...INSERT_DELIVERIES,
    values: [
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
    ],
  });
}
