import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { canonicalOfFlat, type DocvEvent } from '../../src/contract/index.js';
import { openStore, type IngestInput, type QuarantineInput, type Store } from '../../src/store/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { migratedUpTo, postgresBackend, writeRows, type TestDatabase } from '../helpers/backends.js';
import { riskosEvent, testWebhookEvent, uniqueId, v5Event } from '../helpers/canonical-events.js';
import { canonicalInput, ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/** The PostgreSQL store and the canonical events of every dialect (v5, RiskOS, flat). */
const postgres = await postgresBackend();

const FORWARD = 'forward:test';

function quarantined(fields: Partial<QuarantineInput> = {}): QuarantineInput {
  return {
    reason: 'invalid',
    status: 422,
    detail: null,
    headers: {},
    body: Buffer.from('{}'),
    bodySize: 2,
    receivedAt: new Date(),
    ...fields,
  };
}

/** The statements (by name, or their first word) this process sends while `fn` runs: its round trips. */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const spy = vi.spyOn(pg.Client.prototype, 'query');
  try {
    await fn();
    return spy.mock.calls.map(([first]) =>
      typeof first === 'string' ? first.split(/\s+/)[0]! : ((first as { name?: string }).name ?? 'unnamed'),
    );
  } finally {
    spy.mockRestore();
  }
}

describe.skipIf(postgres.skipReason !== null)('PostgreSQL store: canonical events of every dialect', () => {
  const databases: TestDatabase[] = [];
  const stores: Store[] = [];
  async function fresh(): Promise<TestDatabase> {
    const db = await postgres.create();
    databases.push(db);
    return db;
  }
  async function open(url?: string, options: Parameters<typeof openStore>[1] = {}): Promise<Store> {
    const store = await openStore(url ?? (await fresh()).url, options);
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  async function accepted(store: Store, input: IngestInput): Promise<string> {
    const outcome = await store.ingest(input);
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }

  it('a v5 event round-trips with its metadata; flat events read back as asyncapi; filters by dialect, test and evaluation', async () => {
    const store = await open();
    const v5 = v5Event({ created: null, customerUserId: 'cust-\u0000-nul' });
    const v5Id = await accepted(store, canonicalInput(v5));
    const flat = docvEvent();
    const flatId = await accepted(store, ingestInput(flat));
    const test = testWebhookEvent();
    const testId = await accepted(store, canonicalInput(test));
    const note = riskosEvent('case_notes_added', uniqueId('eval'));
    const noteId = await accepted(store, canonicalInput(note));

    const stored = await store.getEvent(v5Id);
    expect(stored).toMatchObject({
      eventId: v5Id,
      docvTransactionId: v5.docvTransactionId,
      eventType: 'APP_OPENED',
      eventTimeSource: 'receipt',
      dialect: 'socure-v5',
      test: false,
      evaluationId: null,
      payload: v5.payload,
    });
    expect(stored!.event).toEqual(v5);

    expect((await store.getEvent(flatId))!.event).toEqual(canonicalOfFlat(flat as unknown as DocvEvent));
    expect(await store.getEvent(flatId)).toMatchObject({
      dialect: 'asyncapi',
      test: false,
      evaluationId: null,
      eventTimeSource: 'event',
    });
    expect(await store.getEvent(testId)).toMatchObject({
      docvTransactionId: null,
      dialect: 'socure-v5',
      test: true,
      event: { test: true, docvTransactionId: null },
    });
    expect(await store.getEvent(noteId)).toMatchObject({
      docvTransactionId: null,
      dialect: 'riskos',
      evaluationId: note.evaluationId,
      event: note,
    });

    const ids = async (filter: Parameters<Store['listEvents']>[0]): Promise<string[]> =>
      (await store.listEvents(filter)).items.map((e) => e.eventId).sort();
    // The NUL in the v5 customerUserId is in the metadata: PostgreSQL's JSON operators would refuse that row.
    expect(await ids({ limit: 10, dialect: 'socure-v5' })).toEqual([v5Id, testId].sort());
    expect(await ids({ limit: 10, dialect: 'asyncapi' })).toEqual([flatId]);
    expect(await ids({ limit: 10, dialect: 'riskos' })).toEqual([noteId]);
    expect(await ids({ limit: 10, test: true })).toEqual([testId]);
    expect(await ids({ limit: 10, test: false })).toEqual([v5Id, flatId, noteId].sort());
    expect(await ids({ limit: 10, evaluationId: note.evaluationId! })).toEqual([noteId]);
    expect(await ids({ limit: 10, dialect: 'socure-v5', test: false })).toEqual([v5Id]);
    const listed = (await store.listEvents({ limit: 10 })).items.find((e) => e.eventId === v5Id);
    expect(listed).toMatchObject({
      dialect: 'socure-v5',
      test: false,
      eventTimeSource: 'receipt',
      customerUserId: 'cust-\uFFFD-nul',
    });

    // The envelope id deduplicates: a retry of the same notification is a duplicate.
    expect(await store.ingest(canonicalInput(v5))).toEqual({ kind: 'duplicate', eventId: v5Id });
    expect(await store.getTransaction(v5.docvTransactionId!)).toMatchObject({
      status: 'APP_OPENED',
      environment: 'Sandbox',
      eventCount: 1,
    });
  });

  it('TEST_WEBHOOK creates no transaction; its deliveries name none and are not held behind each other', async () => {
    const store = await open();
    store.configureOutbox({ destinations: [FORWARD], fetchDecisions: true });
    const ids = [
      await accepted(store, canonicalInput(testWebhookEvent())),
      await accepted(store, canonicalInput(testWebhookEvent())),
    ];
    const stats = await store.stats();
    expect(stats).toMatchObject({ events: 2, transactions: 0, transactionsByStatus: {} });
    expect((await store.listTransactions({ limit: 10 })).items).toEqual([]);
    const deliveries = (await store.listDeliveries({ limit: 10 })).items;
    // No decision fetch for a test event, one forward each.
    expect(deliveries.map((d) => [d.destination, d.docvTransactionId]).sort()).toEqual([
      [FORWARD, null],
      [FORWARD, null],
    ]);
    // Ordered claims order a transaction's deliveries; test events have none, so both go at once.
    const claimed = await store.claimDeliveries({
      workerId: 'w',
      limit: 10,
      leaseMs: 60_000,
      destinations: [FORWARD],
      ordered: true,
    });
    expect(claimed.map((c) => c.eventId).sort()).toEqual([...ids].sort());
    expect(claimed[0]).toMatchObject({
      docvTransactionId: null,
      event: { eventType: 'TEST_WEBHOOK', test: true, docvTransactionId: null },
    });
  });

  it('RiskOS: a note of an evaluation already linked is filed under its transaction', async () => {
    const store = await open();
    store.configureOutbox({ destinations: [FORWARD] });
    const evaluation = uniqueId('eval');
    const tx = uniqueId('tok');
    await accepted(
      store,
      canonicalInput(
        riskosEvent('evaluation_completed', evaluation, {
          docvTransactionId: tx,
          decision: 'REVIEW',
          eventTime: '2026-03-01T10:05:00.000Z',
        }),
      ),
    );
    const note = riskosEvent('case_notes_added', evaluation);
    const noteId = await accepted(store, canonicalInput(note));

    const view = await store.getTransaction(tx);
    expect(view).toMatchObject({
      status: 'evaluation_completed',
      decision: 'review',
      evaluationId: evaluation,
      eventCount: 2,
    });
    expect(view!.events.map((e) => e.eventId)).toContain(noteId);
    const stored = await store.getEvent(noteId);
    expect(stored).toMatchObject({
      docvTransactionId: tx,
      evaluationId: evaluation,
      event: { docvTransactionId: tx, eventType: 'case_notes_added' },
    });
    // The metadata keeps what the sender said; the event reads back filed.
    expect(stored!.event).toEqual({ ...note, docvTransactionId: tx });
    const notes = (await store.listDeliveries({ limit: 10, docvTransactionId: tx })).items;
    expect(notes).toHaveLength(2);
  });

  it('RiskOS: notes stored before the link move under the transaction, deliveries too, and are folded into its lifecycle', async () => {
    const store = await open();
    store.configureOutbox({ destinations: [FORWARD] });
    const evaluation = uniqueId('eval');
    const other = uniqueId('eval');
    const early = [
      await accepted(
        store,
        canonicalInput(riskosEvent('case_notes_added', evaluation, { eventTime: '2026-03-01T10:01:00.000Z' })),
      ),
      await accepted(
        store,
        canonicalInput(riskosEvent('case_notes_added', evaluation, { eventTime: '2026-03-01T10:02:00.000Z' })),
      ),
    ];
    const unrelated = await accepted(store, canonicalInput(riskosEvent('case_notes_added', other)));
    expect(await store.stats()).toMatchObject({ transactions: 0 });
    expect((await store.listDeliveries({ limit: 10 })).items.every((d) => d.docvTransactionId === null)).toBe(true);

    const tx = uniqueId('tok');
    const link = await accepted(
      store,
      canonicalInput(
        riskosEvent('evaluation_completed', evaluation, {
          docvTransactionId: tx,
          eventTime: '2026-03-01T10:05:00.000Z',
        }),
      ),
    );
    const view = await store.getTransaction(tx);
    expect(view).toMatchObject({
      status: 'evaluation_completed',
      eventCount: 3,
      evaluationId: evaluation,
      firstEventAt: '2026-03-01T10:01:00.000Z',
    });
    expect(view!.events.map((e) => e.eventId).sort()).toEqual([...early, link].sort());
    for (const id of early)
      expect(await store.getEvent(id)).toMatchObject({ docvTransactionId: tx, event: { docvTransactionId: tx } });
    const moved = (await store.listDeliveries({ limit: 10, docvTransactionId: tx })).items.map((d) => d.eventId).sort();
    expect(moved).toEqual([...early, link].sort());
    // Another evaluation's note stays unfiled.
    expect(await store.getEvent(unrelated)).toMatchObject({ docvTransactionId: null });
    // A later note of the evaluation is filed at once; moving happens only once.
    await accepted(
      store,
      canonicalInput(riskosEvent('case_notes_added', evaluation, { eventTime: '2026-03-01T10:06:00.000Z' })),
    );
    expect(await store.getTransaction(tx)).toMatchObject({ eventCount: 4 });
  });

  it('RiskOS: a note and its link in one batch, and notes and links racing through two instances, all end up filed', async () => {
    const db = await fresh();
    const a = await open(db.url);
    const b = await open(db.url, { migrate: false });
    const evaluation = uniqueId('eval');
    const tx = uniqueId('tok');
    // Same turn: one group commit holds both.
    await Promise.all([
      a.ingest(canonicalInput(riskosEvent('case_notes_added', evaluation))),
      a.ingest(canonicalInput(riskosEvent('evaluation_completed', evaluation, { docvTransactionId: tx }))),
    ]);
    expect(await a.getTransaction(tx)).toMatchObject({ eventCount: 2 });

    // A "link" that is rejected (its delivery id was used for another body) files nothing.
    await accepted(a, ingestInput(docvEvent(), 'reused-delivery-id'));
    const orphan = uniqueId('eval');
    const rejected = uniqueId('tok');
    const [lonely, conflict] = await Promise.all([
      a.ingest(canonicalInput(riskosEvent('case_notes_added', orphan))),
      a.ingest(
        canonicalInput(riskosEvent('evaluation_completed', orphan, { docvTransactionId: rejected }), {
          webhookId: 'reused-delivery-id',
        }),
      ),
    ]);
    expect(conflict!.kind).toBe('conflict');
    expect(await a.getEvent(lonely!.eventId)).toMatchObject({ docvTransactionId: null });
    expect(await a.getTransaction(rejected)).toBeNull();

    const pairs = Array.from({ length: 30 }, () => ({ evaluation: uniqueId('eval'), tx: uniqueId('tok') }));
    await Promise.all(
      pairs.flatMap((p, i) => [
        (i % 2 ? a : b).ingest(canonicalInput(riskosEvent('case_notes_added', p.evaluation))),
        (i % 2 ? b : a).ingest(
          canonicalInput(
            riskosEvent('evaluation_completed', p.evaluation, { docvTransactionId: p.tx, decision: 'ACCEPT' }),
          ),
        ),
        (i % 2 ? a : b).ingest(canonicalInput(riskosEvent('case_notes_added', p.evaluation))),
      ]),
    );
    for (const p of pairs)
      expect(await a.getTransaction(p.tx)).toMatchObject({
        eventCount: 3,
        decision: 'accept',
        evaluationId: p.evaluation,
      });
    const unfiled = (await a.listEvents({ limit: 500 })).items.filter((e) => e.docvTransactionId === null);
    expect(unfiled.map((e) => e.eventId)).toEqual([lonely!.eventId]);
  });

  it('decision fetches follow decisionFetchFor: uploads fetch, completions (with or without a decision) fetch and hold the forwards', async () => {
    const db = await fresh();
    const store = await open(db.url);
    store.configureOutbox({ destinations: [FORWARD], fetchDecisions: true, decisionWaitMs: 60_000 });
    const tx = uniqueId('tx');
    const flat = (eventType: string, extra: Record<string, unknown> = {}) =>
      ingestInput(docvEvent({ docvTransactionId: tx, eventType, ...extra }));
    const events = {
      opened: await accepted(store, flat('APP_OPENED')),
      uploaded: await accepted(store, flat('DOCUMENTS_UPLOADED')),
      completed: await accepted(store, flat('VERIFICATION_COMPLETED', { eventTime: '2026-03-01T10:09:00Z' })),
      decided: await accepted(
        store,
        canonicalInput(v5Event({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' })),
      ),
      test: await accepted(store, canonicalInput(testWebhookEvent())),
      evaluation: await accepted(
        store,
        canonicalInput(riskosEvent('evaluation_completed', uniqueId('eval'), { docvTransactionId: uniqueId('tok') })),
      ),
    };
    const rowsNow = () =>
      db.rows<{
        event_id: string;
        destination: string;
        waits_for: string | null;
        delivery_id: string;
      }>('SELECT event_id, destination, waits_for, delivery_id FROM deliveries ORDER BY seq');
    let rows = await rowsNow();
    const of = (eventId: string) => rows.filter((r) => r.event_id === eventId);
    const shape = (eventId: string) => of(eventId).map((r) => `${r.destination}${r.waits_for ? ' (waits)' : ''}`);
    // Accepting an event makes only its decision fetch: the forward reads the log.
    expect(shape(events.opened)).toEqual([]);
    expect(shape(events.uploaded)).toEqual(['decision-fetch']);
    expect(shape(events.completed)).toEqual(['decision-fetch']);
    expect(shape(events.decided)).toEqual(['decision-fetch']);
    expect(shape(events.test)).toEqual([]);
    expect(shape(events.evaluation)).toEqual(['decision-fetch']);

    // The forwards that must wait for their fetch get a row saying so when the reader comes to
    // them, and are not claimed while their fetch is pending.
    const forwards = await store.claimDeliveries({
      workerId: 'w',
      limit: 20,
      leaseMs: 60_000,
      destinations: [FORWARD],
      ordered: false,
    });
    expect(forwards.map((d) => d.eventId).sort()).toEqual([events.opened, events.uploaded, events.test].sort());
    rows = await rowsNow();
    expect(shape(events.opened)).toEqual([]);
    expect(shape(events.uploaded)).toEqual(['decision-fetch']);
    expect(shape(events.completed)).toEqual(['decision-fetch', `${FORWARD} (waits)`]);
    expect(shape(events.decided)).toEqual(['decision-fetch', `${FORWARD} (waits)`]);
    expect(shape(events.evaluation)).toEqual(['decision-fetch', `${FORWARD} (waits)`]);
    const fetchOf = (eventId: string) => of(eventId).find((r) => r.destination === 'decision-fetch')!.delivery_id;
    expect(of(events.completed).find((r) => r.destination === FORWARD)!.waits_for).toBe(fetchOf(events.completed));
    expect(
      await store.claimDeliveries({
        workerId: 'w',
        limit: 20,
        leaseMs: 60_000,
        destinations: [FORWARD],
        ordered: false,
      }),
    ).toEqual([]);

    // Once the fetch is done, the forward carries the fetched decision, its logic name included.
    const [fetch] = await store.claimDeliveries({
      workerId: 'w',
      limit: 1,
      leaseMs: 60_000,
      destinations: ['decision-fetch'],
      ordered: true,
    });
    expect(fetch!.eventId).toBe(events.uploaded);
    const rest = await store.claimDeliveries({
      workerId: 'w',
      limit: 5,
      leaseMs: 60_000,
      destinations: ['decision-fetch'],
      ordered: false,
    });
    const completedFetch = rest.find((d) => d.eventId === events.completed)!;
    await store.recordDecision(events.completed, tx, {
      decision: 'review',
      reasonCodes: ['R810'],
      fetchedAt: '2026-03-01T10:10:00.000Z',
      decisionName: 'lenient',
      details: null,
    });
    expect(
      await store.completeDelivery({
        deliveryId: completedFetch.deliveryId,
        workerId: 'w',
        outcome: 'delivered',
        status: 200,
        error: null,
        startedAt: new Date(),
        durationMs: 1,
      }),
    ).toBe(true);
    const [held] = await store.claimDeliveries({
      workerId: 'w',
      limit: 5,
      leaseMs: 60_000,
      destinations: [FORWARD],
      ordered: false,
    });
    expect(held).toMatchObject({
      eventId: events.completed,
      docvTransactionId: tx,
      fetchedDecision: { decision: 'review', decisionName: 'lenient', reasonCodes: ['R810'] },
    });
    expect(held!.event).toMatchObject({
      dialect: 'asyncapi',
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: tx,
    });
  });

  it('markDecisionUnavailable sets decisionUnavailable until a decision arrives; an unknown transaction is left alone', async () => {
    const store = await open();
    const tx = uniqueId('tx');
    const completed = await accepted(
      store,
      ingestInput(docvEvent({ docvTransactionId: tx, eventType: 'VERIFICATION_COMPLETED' })),
    );
    const at = new Date('2026-03-01T10:20:00.000Z');
    await store.markDecisionUnavailable(tx, 'no decision within 30 s', at);
    const unavailable = await store.getTransaction(tx);
    expect(unavailable).toMatchObject({
      decision: null,
      decisionUnavailable: { reason: 'no decision within 30 s', at: at.toISOString() },
    });
    expect(unavailable!.anomalies.map((a) => a.code)).toEqual(['decision_unavailable']);

    await store.recordDecision(completed, tx, {
      decision: 'review',
      reasonCodes: [],
      fetchedAt: '2026-03-01T10:21:00.000Z',
      details: null,
    });
    const decided = await store.getTransaction(tx);
    expect(decided).toMatchObject({
      decision: 'review',
      decisionSource: 'api',
      decisionUnavailable: null,
      anomalies: [],
    });

    // A decision carried by a later event clears it too.
    const tx2 = uniqueId('tx');
    await accepted(store, ingestInput(docvEvent({ docvTransactionId: tx2, eventType: 'VERIFICATION_COMPLETED' })));
    await store.markDecisionUnavailable(tx2, 'gave up', at);
    await accepted(
      store,
      ingestInput(
        docvEvent({
          docvTransactionId: tx2,
          eventType: 'VERIFICATION_COMPLETED',
          decision: 'reject',
          eventTime: '2026-03-01T10:30:00Z',
        }),
      ),
    );
    expect(await store.getTransaction(tx2)).toMatchObject({ decision: 'reject', decisionUnavailable: null });

    await store.markDecisionUnavailable('never-seen', 'gave up', at);
    expect(await store.getTransaction('never-seen')).toBeNull();
  });

  it('quarantine: dialect kept, filters by reason, status, reprocessing and time, pages, reads one entry, records reprocessing', async () => {
    const store = await open();
    const t0 = Date.parse('2026-03-01T10:00:00.000Z');
    for (let i = 0; i < 6; i++) {
      await store.quarantine(
        quarantined({
          reason: i % 2 ? 'invalid' : 'conflict',
          status: i % 2 ? 422 : 409,
          dialect: i % 3 === 0 ? 'socure-v5' : i % 3 === 1 ? 'riskos' : null,
          receivedAt: new Date(t0 + i * 60_000),
        }),
      );
    }
    const all = await store.listQuarantine({ limit: 10 });
    expect(all.items.map((q) => q.receivedAt)).toEqual(
      Array.from({ length: 6 }, (_, i) => new Date(t0 + (5 - i) * 60_000).toISOString()),
    );
    expect(all.items.map((q) => q.dialect)).toEqual([null, 'riskos', 'socure-v5', null, 'riskos', 'socure-v5']);
    expect(all.items.every((q) => q.reprocessed === null)).toBe(true);

    const invalid = await store.listQuarantine({ limit: 10, reason: 'invalid' });
    expect(invalid.items.map((q) => q.status)).toEqual([422, 422, 422]);
    expect((await store.listQuarantine({ limit: 10, status: 409 })).items).toHaveLength(3);
    const window = await store.listQuarantine({
      limit: 10,
      from: new Date(t0 + 60_000),
      to: new Date(t0 + 3 * 60_000),
    });
    expect(window.items.map((q) => q.receivedAt)).toEqual([
      new Date(t0 + 120_000).toISOString(),
      new Date(t0 + 60_000).toISOString(),
    ]);

    // Pages keep the filter.
    const first = await store.listQuarantine({ limit: 2, reason: 'conflict' });
    expect(first.items).toHaveLength(2);
    const second = await store.listQuarantine({ limit: 2, reason: 'conflict', cursor: first.nextCursor! });
    expect(second).toMatchObject({ nextCursor: null });
    expect(second.items.map((q) => q.reason)).toEqual(['conflict']);

    const target = all.items[1]!;
    expect(await store.getQuarantine(target.quarantineId)).toEqual(target);
    expect(await store.getQuarantine('qrn_missing')).toBeNull();
    const result = { at: '2026-03-02T08:00:00.000Z', outcome: 'accepted', status: 200, eventId: 'evt_1' };
    await store.markQuarantineReprocessed(target.quarantineId, result);
    expect(await store.getQuarantine(target.quarantineId)).toEqual({ ...target, reprocessed: result });
    expect((await store.listQuarantine({ limit: 10, reprocessed: true })).items.map((q) => q.quarantineId)).toEqual([
      target.quarantineId,
    ]);
    expect((await store.listQuarantine({ limit: 10, reprocessed: false })).items).toHaveLength(5);
    // Run again: the latest outcome replaces the first.
    const again = { at: '2026-03-02T09:00:00.000Z', outcome: 'duplicate', status: 200, eventId: 'evt_1' };
    await store.markQuarantineReprocessed(target.quarantineId, again);
    expect((await store.getQuarantine(target.quarantineId))!.reprocessed).toEqual(again);
  });

  it('a flat batch costs the same round trips as before; only batches with an evaluation id pay for the join', async () => {
    const store = await open();
    store.configureOutbox({ destinations: [FORWARD] });
    // The first commit after configureOutbox makes the handler's cursor (the log lock, one insert): once.
    await store.ingest(ingestInput(docvEvent()));
    const flat = await statementsOf(() =>
      Promise.all(Array.from({ length: 8 }, () => store.ingest(ingestInput(docvEvent())))),
    );
    expect(flat).toEqual(['BEGIN', 'docv_insert_events_v8', 'docv_create_and_lock_v3', 'COMMIT']);
    const evaluation = uniqueId('eval');
    const note = await statementsOf(() => store.ingest(canonicalInput(riskosEvent('case_notes_added', evaluation))));
    // A note of no transaction yet: no lifecycle to write, and no outbox row (the forward reads the log).
    expect(note).toEqual([
      'BEGIN',
      'docv_lock_evaluations',
      'docv_linked_transactions_v2',
      'docv_insert_events_v8',
      'COMMIT',
    ]);
    const link = await statementsOf(() =>
      store.ingest(
        canonicalInput(riskosEvent('evaluation_completed', evaluation, { docvTransactionId: uniqueId('tok') })),
      ),
    );
    expect(link).toEqual([
      'BEGIN',
      'docv_lock_evaluations',
      'docv_insert_events_v8',
      'docv_move_unfiled_v3',
      'docv_create_and_lock_v3',
      'COMMIT',
    ]);
  });

  it('migration 6 upgrades a database at version 5: old flat events and quarantine entries read back as before', async () => {
    const db = await fresh();
    await migratedUpTo(db, 5);
    const flat = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
    // What a release at version 5 wrote.
    await writeRows(
      db,
      `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time, event_time_ms,
         customer_user_id, decision, received_at, raw_body, headers)
       VALUES ('evt_old', 'id:old', 'old', 'sha256:x', ?, 'VERIFICATION_COMPLETED', '2026-03-01T10:00:00Z', ?, 'user-1', 'accept', '2026-03-01T10:00:01Z', ?, '{}')`,
      flat.docvTransactionId,
      Date.parse('2026-03-01T10:00:00Z'),
      Buffer.from(JSON.stringify(flat)),
    );
    await writeRows(
      db,
      `INSERT INTO quarantine (quarantine_id, received_at, reason, status, detail, headers, body, body_size)
       VALUES ('qrn_old', '2026-03-01T10:00:00Z', 'invalid', 422, 'null', '{}', ?, 2)`,
      Buffer.from('{}'),
    );
    const store = await open(db.url, { migrate: false });
    expect(await store.migrate()).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version).filter((v) => v > 5));
    const [index] = await db.rows<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'events_by_evaluation'",
    );
    expect(index!.indexdef).toContain('WHERE (evaluation_id IS NOT NULL)');

    const old = await store.getEvent('evt_old');
    expect(old).toMatchObject({
      dialect: 'asyncapi',
      test: false,
      evaluationId: null,
      eventTimeSource: 'event',
      docvTransactionId: flat.docvTransactionId,
    });
    expect(old!.event).toEqual(canonicalOfFlat(flat as unknown as DocvEvent));
    expect(
      (await store.listEvents({ limit: 10, dialect: 'asyncapi', test: false })).items.map((e) => e.eventId),
    ).toEqual(['evt_old']);
    expect((await store.listEvents({ limit: 10, dialect: 'socure-v5' })).items).toEqual([]);
    expect(await store.getQuarantine('qrn_old')).toMatchObject({ dialect: null, reprocessed: null, reason: 'invalid' });

    // And the upgraded schema takes every dialect.
    const v5 = v5Event();
    const id = await accepted(store, canonicalInput(v5));
    expect((await store.getEvent(id))!.event).toEqual(v5);
  });
});
