import type pg from 'pg';
import { eventTimeMs, storedMetadata, type CanonicalEvent } from '../../contract/index.js';
import {
  applyEvent,
  decisionFetchFor,
  lifecycleEventOf,
  startLifecycle,
  type LifecycleEvent,
  type TransactionLifecycle,
} from '../../lifecycle/index.js';
import { outboxTargets, type ActiveDestination } from '../destinations.js';
import { NO_ENCRYPTION, type Sealer } from '../encryption/sealer.js';
import { newId } from '../ids.js';
import { transactionColumn } from '../rows.js';
import { DECISION_FETCH_DESTINATION, type IngestInput, type IngestOutcome, type OutboxConfig } from '../types.js';
import { fileEvent, linkEvaluations, moveUnfiledEvents, transactionOf, type MovedEvent } from './evaluation-join.js';
import { DIALECTS_OF, TRANSACTION_ARRAYS, TRANSACTION_COLUMNS, transactionColumns } from './lifecycle-rows.js';
import { LOG_CHANNEL, LOG_LOCK_KEY } from './log-order.js';
import { ensureCursors } from './log-reader.js';
import { pgText } from './pg-text.js';
import { sourceOfInput } from './source-keys.js';

// Named statements: parsed and planned once per connection, whatever the batch size. A batch is
// BEGIN, INSERT_EVENTS, CREATE_AND_LOCK, UPDATE_TRANSACTIONS (only when some transaction already
// existed), COMMIT: every round trip to the server is one more wake-up of a backend that shares the
// machine's cores, so each statement does as much of the batch as its inputs allow. A batch that
// holds a RiskOS event with an evaluation id adds the round trips of evaluation-join.ts; no other
// batch does. (A statement whose text changes gets a new name: the name is what a connection caches.)

/**
 * Inserts the batch's events and, in the same round trip, reads the events that already held a
 * key before this statement began (the usual duplicate: a retry of something committed long ago).
 * `existing` cannot see the rows of the insert (one snapshot per statement), so it returns only
 * earlier events. A key held by a transaction that committed while this statement waited on it is
 * in neither and is read by EVENTS_BY_KEY afterwards.
 *
 * Keys found in `existing` are not offered to the insert at all: ON CONFLICT takes a seq for every
 * row it is offered, conflicting or not, and a seq taken and not used is a gap in the log, which
 * receiptCounts would count as an event (postgres-store.ts). Only the rare race above still burns
 * one.
 *
 * The third branch is one row (dedupe_key NULL) with the active destinations (store/destinations.ts):
 * whether the batch's events get decision fetches. Read here rather than cached, so that a
 * destination another instance added or disabled counts from the next batch on, and rather than
 * by a statement of its own, which would be one more round trip per batch (per event when they
 * come one at a time). `ORDER BY name` lets it walk the primary key: as a sequential scan (priced
 * out on our connections, see connection.ts) its cost crossed jit_above_cost, and JIT compiling
 * the statement took 300 ms of every commit.
 *
 * `log_lock` takes the log's advisory lock before any event gets its seq, held to the commit, so
 * events commit in seq order (log-order.ts). The fourth branch NOTIFYs the schema's channel when
 * the batch accepted an event (delivered at the commit, once however many events; a row with
 * every column NULL): dispatchers on any instance wake (log-listener.ts).
 *
 * `registered` adds $18, the batch's sources this process has not added yet (source-keys.ts), to
 * `sources`: empty but for the first batch of each source a process commits. Under the log lock,
 * so it never waits on another ingest's uncommitted name (that one holds the lock to its commit).
 */
const INSERT_EVENTS = {
  name: 'docv_insert_events_v8',
  text: `WITH log_lock AS MATERIALIZED (
           SELECT pg_advisory_xact_lock(${LOG_LOCK_KEY})
         ), existing AS MATERIALIZED (
           SELECT dedupe_key, event_id, content_hash FROM events WHERE dedupe_key = ANY($2::text[])
         ), inserted AS (
           INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
             event_time_ms, customer_user_id, decision, received_at, raw_body, headers, canonical, evaluation_id, key_id, source)
           SELECT u.* FROM log_lock, unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::bigint[], $9::text[], $10::text[], $11::timestamptz[], $12::bytea[], $13::json[], $14::json[], $15::text[],
             $16::text[], $17::text[])
             AS u(event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
               event_time_ms, customer_user_id, decision, received_at, raw_body, headers, canonical, evaluation_id, key_id, source)
           WHERE u.dedupe_key NOT IN (SELECT dedupe_key FROM existing)
           ON CONFLICT (dedupe_key) DO NOTHING
           RETURNING seq, dedupe_key
         ), registered AS (
           INSERT INTO sources (name) SELECT n FROM log_lock, unnest($18::text[]) AS n
           ON CONFLICT (name) DO NOTHING
         )
         SELECT seq, dedupe_key, NULL AS event_id, NULL AS content_hash, NULL::json AS destinations FROM inserted
         UNION ALL
         SELECT NULL, dedupe_key, event_id, content_hash, NULL FROM existing
         UNION ALL
         SELECT NULL, NULL, NULL, NULL, COALESCE(json_agg(json_build_object('name', name, 'kind', kind)), '[]'::json)
         FROM (SELECT name, kind FROM destinations WHERE state = 'active' ORDER BY name) active
         UNION ALL
         SELECT NULL, NULL, NULL, NULL, NULL FROM (SELECT pg_notify(${LOG_CHANNEL}, '') FROM (SELECT 1 FROM inserted LIMIT 1) one) notified`,
};

/**
 * The same event arrived again (answered `duplicate`): its count goes up and the time of the last
 * one is kept. Only batches with a duplicate run it, after the lifecycle writes, so every ingest
 * locks transactions before events; rows in event id order, so concurrent batches of several
 * instances do not deadlock on each other. Each instance's increment applies to the row as the
 * one before it committed it (an UPDATE re-reads a row it waited for), so none is lost.
 */
const COUNT_DUPLICATES = {
  name: 'docv_count_duplicates',
  text: `UPDATE events e SET duplicates = e.duplicates + d.n, last_duplicate_at = d.at
         FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS d(event_id, n, at)
         WHERE e.event_id = d.event_id`,
};

const EVENTS_BY_KEY = {
  name: 'docv_events_by_key',
  text: 'SELECT dedupe_key, event_id, content_hash FROM events WHERE dedupe_key = ANY($1::text[])',
};

/**
 * One round trip for the rest of the inserts: the lifecycle of every transaction of the batch as
 * if it were new (ON CONFLICT DO NOTHING takes no lock on an existing row; its source, $24, is
 * written only here, when the row is made), the decision fetches, and the transactions that
 * existed before, locked in key order so that concurrent batches of several instances neither
 * lose updates nor deadlock. Answers the keys it created (state null) and the locked rows. UNION ALL runs its branches in order, so the insert (which may wait on another
 * instance's insert of the same id) finishes before any row is locked, as when they were two
 * statements. Rows inserted here are invisible to the locking read (one snapshot per statement);
 * a transaction another instance created and committed while the insert waited on it is in
 * neither branch and is locked by LOCK_TRANSACTIONS afterwards.
 */
const CREATE_AND_LOCK = {
  name: 'docv_create_and_lock_v3',
  text: `WITH created AS (
           INSERT INTO transactions (${TRANSACTION_COLUMNS}, source)
           SELECT ${TRANSACTION_COLUMNS.replace('dialects', DIALECTS_OF('u.dialects'))}, source
           FROM unnest(${TRANSACTION_ARRAYS}, $24::text[]) AS u(${TRANSACTION_COLUMNS}, source)
           ON CONFLICT (docv_transaction_id) DO NOTHING
           RETURNING docv_transaction_id
         ), locked AS (
           SELECT docv_transaction_id, state FROM transactions WHERE docv_transaction_id = ANY($1::text[])
           ORDER BY docv_transaction_id FOR UPDATE
         ), queued AS (
           INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
             next_attempt_at, waits_for, wait_until, created_at, updated_at)
           SELECT d, s, e, t, y, n, 'pending', a, w, u, c, c
           FROM unnest($14::text[], $15::bigint[], $16::text[], $17::text[], $18::text[], $19::text[], $20::bigint[], $21::text[],
             $22::bigint[], $23::timestamptz[]) AS x(d, s, e, t, y, n, a, w, u, c)
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
  name: 'docv_update_transactions_v2',
  text: `UPDATE transactions t SET status = u.status, decision = u.decision, customer_user_id = u.customer_user_id,
           first_event_at = u.first_event_at, last_event_at = u.last_event_at, first_received_at = u.first_received_at,
           last_received_at = u.last_received_at, event_count = u.event_count, anomaly_count = u.anomaly_count, state = u.state,
           dialects = ${DIALECTS_OF('u.dialects')}, environment = u.environment
         FROM unnest(${TRANSACTION_ARRAYS}) AS u(${TRANSACTION_COLUMNS})
         WHERE t.docv_transaction_id = u.docv_transaction_id`,
};

/** An accepted event of the batch. */
interface Candidate {
  input: IngestInput;
  source: string;
  /** The event as filed (see evaluation-join.ts): a note of a linked evaluation carries its transaction. */
  event: CanonicalEvent;
  /** The transaction it is part of; null (stored as '') for a test event or an unlinked note. */
  docvTransactionId: string | null;
  /** Its transaction key as stored (pgText of rows.ts transactionColumn): '' for none. */
  key: string;
  eventId: string;
  seq: number;
  receivedAt: string;
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** The events of the batch, one array per column of INSERT_EVENTS, and the sources to register ($18). */
function eventColumns(
  ordered: Array<[string, IngestInput]>,
  filed: Map<string, CanonicalEvent>,
  eventIds: Map<string, string>,
  sealer: Sealer,
  register: readonly string[],
): unknown[] {
  const events = ordered.map(([key]) => filed.get(key)!);
  // With a key, the body and headers are sealed, each bound to its event id (store/encryption/).
  const keyId = sealer.currentKeyId;
  const rawBody = (key: string, i: IngestInput) => {
    const bytes = Buffer.from(i.rawBody.buffer, i.rawBody.byteOffset, i.rawBody.byteLength);
    return keyId ? sealer.sealBytes(bytes, 'events', 'raw_body', eventIds.get(key)!) : bytes;
  };
  const headers = (key: string, i: IngestInput) => {
    const json = JSON.stringify(i.headers);
    return keyId ? sealer.sealJson(json, 'events', 'headers', eventIds.get(key)!) : json;
  };
  return [
    ordered.map(([key]) => eventIds.get(key)),
    ordered.map(([key]) => key),
    ordered.map(([, i]) => i.webhookId),
    ordered.map(([, i]) => i.contentHash),
    events.map((e, i) => pgText(transactionColumn(transactionOf(e), sourceOfInput(ordered[i]![1])))),
    events.map((e) => pgText(e.eventType)),
    events.map((e) => e.eventTime),
    events.map((e) => eventTimeMs(e.eventTime)),
    events.map((e) => pgText(e.customerUserId)),
    events.map((e) => e.decision ?? null),
    ordered.map(([, i]) => i.receivedAt.toISOString()),
    ordered.map(([key, i]) => rawBody(key, i)),
    ordered.map(([key, i]) => headers(key, i)),
    // What the sender said, not where the event was filed: the column says that (rows.ts reads it back).
    ordered.map(([, i]) => storedMetadata(i.event)),
    events.map((e) => pgText(e.evaluationId)),
    ordered.map(() => keyId),
    ordered.map(([, i]) => sourceOfInput(i)),
    register,
  ];
}

/**
 * Commits a batch of deliveries in the caller's transaction with a handful of statements, however
 * many there are. Deduplication rests on the UNIQUE dedupe_key (so it holds across processes);
 * the lifecycle rows are written in key order under row locks, so concurrent batches of several
 * instances neither lose updates nor deadlock. `cursors`: this process's own destinations whose
 * cursors configureOutbox changed since the last commit; written first, so the batch's events
 * are theirs (and no longer those of a retired one). `register`: sources of the batch to add to
 * `sources` (source-keys.ts, SourceRegistry), confirmed by the caller once this commits.
 */
export async function ingestBatch(
  client: pg.PoolClient,
  inputs: IngestInput[],
  outbox: OutboxConfig,
  cursors: { ensure: readonly string[]; retire: readonly string[] } = { ensure: [], retire: [] },
  sealer: Sealer = NO_ENCRYPTION,
  register: readonly string[] = [],
): Promise<IngestOutcome[]> {
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
  const links = await linkEvaluations(
    client,
    ordered.map(([, i]) => ({ event: i.event, source: sourceOfInput(i) })),
  );
  const filed = new Map(ordered.map(([key, input]) => [key, fileEvent(input.event, sourceOfInput(input), links)]));
  const eventIds = new Map(ordered.map(([key, input]) => [key, newId('evt', input.receivedAt.getTime())]));
  // After the evaluation locks, as INSERT_EVENTS: every ingest takes its locks in one order.
  await ensureCursors(client, cursors.ensure, cursors.retire);
  const inserted = await client.query<{
    seq: number | null;
    dedupe_key: string | null;
    event_id: string | null;
    content_hash: string | null;
    destinations: ActiveDestination[] | null;
  }>({
    ...INSERT_EVENTS,
    values: eventColumns(ordered, filed, eventIds, sealer, register),
  });
  const seqByKey = new Map<string, number>();
  const winners = new Map<string, { eventId: string; contentHash: string }>();
  let active: ActiveDestination[] = [];
  for (const r of inserted.rows) {
    if (r.dedupe_key === null) active = r.destinations ?? active;
    else if (r.seq !== null) seqByKey.set(r.dedupe_key, r.seq);
    else winners.set(r.dedupe_key, { eventId: r.event_id!, contentHash: r.content_hash! });
  }

  // Keys another transaction committed while the insert waited on it: visible to a new statement.
  const lost = ordered.filter(([key]) => !seqByKey.has(key) && !winners.has(key)).map(([key]) => key);
  if (lost.length > 0) {
    const rows = await client.query<{ dedupe_key: string; event_id: string; content_hash: string }>({
      ...EVENTS_BY_KEY,
      values: [lost],
    });
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
      const event = filed.get(input.dedupeKey)!;
      const source = sourceOfInput(input);
      accepted.push({
        input,
        source,
        event,
        docvTransactionId: transactionOf(event),
        key: pgText(transactionColumn(transactionOf(event), source)),
        eventId: winner.eventId,
        seq,
        receivedAt: input.receivedAt.toISOString(),
      });
      return { kind: 'accepted', eventId: winner.eventId };
    }
    return { kind: winner.contentHash === input.contentHash ? 'duplicate' : 'conflict', eventId: winner.eventId };
  });
  if (accepted.length > 0) {
    const moved =
      links === null
        ? []
        : fileNotesOfBatch(
            accepted,
            await moveUnfiledEvents(
              client,
              accepted.map((c) => ({ event: c.event, source: c.source })),
              links,
              sealer,
            ),
          );
    await writeLifecyclesAndOutbox(client, accepted, moved, outboxTargets(outbox, active));
  }
  await countDuplicates(client, inputs, outcomes);
  return outcomes;
}

/** Adds the batch's duplicates to their events (COUNT_DUPLICATES); nothing when it has none. */
async function countDuplicates(client: pg.PoolClient, inputs: IngestInput[], outcomes: IngestOutcome[]): Promise<void> {
  const byEvent = new Map<string, { n: number; at: Date }>();
  outcomes.forEach((outcome, i) => {
    if (outcome.kind !== 'duplicate') return;
    const at = inputs[i]!.receivedAt;
    const seen = byEvent.get(outcome.eventId);
    // The batch's last arrival by receipt time (the order within a batch is not the arrival order).
    if (seen) byEvent.set(outcome.eventId, { n: seen.n + 1, at: at > seen.at ? at : seen.at });
    else byEvent.set(outcome.eventId, { n: 1, at });
  });
  if (byEvent.size === 0) return;
  const rows = [...byEvent].sort(byKey);
  await client.query({
    ...COUNT_DUPLICATES,
    values: [rows.map(([id]) => id), rows.map(([, d]) => d.n), rows.map(([, d]) => d.at.toISOString())],
  });
}

/**
 * Notes of this batch that a link of the same batch moved are filed as if they had arrived
 * linked: their lifecycle events and outbox rows (written next) go under the transaction. Answers
 * the moved events that were stored before this batch.
 */
function fileNotesOfBatch(accepted: Candidate[], moved: MovedEvent[]): MovedEvent[] {
  if (moved.length === 0) return moved;
  const bySeq = new Map(accepted.map((c) => [c.seq, c]));
  return moved.filter((m) => {
    const candidate = bySeq.get(m.seq);
    if (candidate === undefined) return true;
    candidate.docvTransactionId = m.docvTransactionId;
    candidate.key = m.key;
    candidate.event = { ...candidate.event, docvTransactionId: m.docvTransactionId };
    return false;
  });
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A transaction of the batch: its id (as the sender spelled it), source and lifecycle events. */
interface BatchTransaction {
  docvTransactionId: string;
  source: string;
  events: LifecycleEvent[];
}

/**
 * The lifecycle events of the batch by transaction key (as stored): accepted events that are part
 * of one, and events just moved under one.
 */
function eventsByTransaction(accepted: Candidate[], moved: MovedEvent[]): Map<string, BatchTransaction> {
  const byTransaction = new Map<string, BatchTransaction>();
  const add = (key: string, docvTransactionId: string, source: string, event: LifecycleEvent): void => {
    const found = byTransaction.get(key);
    if (found) found.events.push(event);
    else byTransaction.set(key, { docvTransactionId, source, events: [event] });
  };
  for (const c of accepted)
    if (c.docvTransactionId !== null)
      add(c.key, c.docvTransactionId, c.source, lifecycleEventOf(c.event, c.receivedAt));
  for (const m of moved) add(m.key, m.docvTransactionId, m.source, m.event);
  return byTransaction;
}

/**
 * New transactions and decision fetches in one statement; transactions that already existed are
 * locked by it, folded here and written back by one more.
 */
async function writeLifecyclesAndOutbox(
  client: pg.PoolClient,
  accepted: Candidate[],
  moved: MovedEvent[],
  outbox: OutboxConfig,
): Promise<void> {
  const byTransaction = eventsByTransaction(accepted, moved);
  const fold = (state: TransactionLifecycle | null, key: string): TransactionLifecycle => {
    const { docvTransactionId, events } = byTransaction.get(key)!;
    let s = state ?? startLifecycle(docvTransactionId, events[0]!);
    for (const e of state ? events : events.slice(1)) s = applyEvent(s, e);
    return s;
  };
  // Keys as stored (pgText), in one order on every instance: concurrent inserts of the same keys
  // queue behind each other, never cross.
  const ids = [...byTransaction.keys()].sort(byText);
  const deliveries = deliveryColumns(accepted, outbox);
  // Test events with no destination configured: nothing to write.
  if (ids.length === 0 && (deliveries[0] as unknown[]).length === 0) return;
  const fresh = ids.map((id) => fold(null, id));
  const answer = await client.query<{ docv_transaction_id: string; state: TransactionLifecycle | null }>({
    ...CREATE_AND_LOCK,
    values: [...transactionColumns(fresh, ids), ...deliveries, ids.map((id) => byTransaction.get(id)!.source)],
  });
  const created = new Set<string>();
  const stateById = new Map<string, TransactionLifecycle>();
  for (const r of answer.rows) {
    if (r.state === null) created.add(r.docv_transaction_id);
    else stateById.set(r.docv_transaction_id, r.state);
  }
  if (created.size === ids.length) return;

  // Created and committed by another instance while our insert waited: a new statement sees it.
  const missing = ids.filter((id) => !created.has(id) && !stateById.has(id));
  if (missing.length > 0) {
    const late = await client.query<{ docv_transaction_id: string; state: TransactionLifecycle }>({
      ...LOCK_TRANSACTIONS,
      values: [missing],
    });
    for (const r of late.rows) stateById.set(r.docv_transaction_id, r.state);
  }
  const existed = ids.filter((id) => !created.has(id));
  const updated = existed.map((id) => {
    const state = stateById.get(id);
    if (!state) throw new Error(`transaction ${JSON.stringify(id)} neither inserted nor found`);
    return fold(state, id);
  });
  await client.query({ ...UPDATE_TRANSACTIONS, values: transactionColumns(updated, existed) });
}

/**
 * The outbox rows of the accepted events, one array per column of CREATE_AND_LOCK ($14…$23): a
 * decision fetch where decisionFetchFor calls for one, nothing else. Forwards and handlers read
 * the log (log-reader.ts); a completion's delivery that must wait for its fetch (`fetch-and-wait`)
 * gets its row when its reader comes to it.
 */
function deliveryColumns(accepted: Candidate[], outbox: OutboxConfig): unknown[] {
  const rows: Array<{
    id: string;
    c: Candidate;
    destination: string;
    waitsFor: string | null;
    waitUntil: number | null;
  }> = [];
  for (const c of accepted) {
    const rule = outbox.fetchDecisions ? decisionFetchFor(c.event) : 'none';
    if (rule !== 'none')
      rows.push({
        id: newId('dlv', c.input.receivedAt.getTime()),
        c,
        destination: DECISION_FETCH_DESTINATION,
        waitsFor: null,
        waitUntil: null,
      });
  }
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.c.seq),
    rows.map((r) => r.c.eventId),
    rows.map((r) => r.c.key),
    rows.map((r) => pgText(r.c.event.eventType)),
    rows.map((r) => r.destination),
    rows.map((r) => r.c.input.receivedAt.getTime()),
    rows.map((r) => r.waitsFor),
    rows.map((r) => r.waitUntil),
    rows.map((r) => r.c.receivedAt),
  ];
}
