import { describe, expect, it } from 'vitest';
import { canonicalOfFlat, contentKey, type DocvEvent } from '../../src/contract/index.js';
import { type QuarantineInput, type Store } from '../../src/store/index.js';
import { SqliteStore, ThreadedSqliteStore } from '../../src/store/drivers.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { migratedUpTo, sqliteDatabase, writeRows } from '../helpers/backends.js';
import { canonicalInput, ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';
import { sqliteScratch } from '../helpers/sqlite-scratch.js';
import { riskosEvent, testWebhookEvent, uniqueId, v5Event } from '../helpers/canonical-events.js';

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

describe('SQLite store: canonical events of every dialect', () => {
  const scratch = sqliteScratch('docv-canonical-');
  /** The store on a new file; the file is also in `lastPath`, to read rows as another process would. */
  let lastPath = '';
  function open(): SqliteStore {
    lastPath = scratch.path();
    return scratch.keep(new SqliteStore({ path: lastPath }));
  }

  it('a v5 event round-trips with its metadata; flat events read back as asyncapi; filters by dialect, test and evaluation', async () => {
    const store = open();
    // No `created`: the receipt time stands in, and the store must say so.
    const v5 = v5Event({ created: null });
    const flat = docvEvent();
    const note = riskosEvent('case_notes_added', uniqueId('eval'));
    const v5Id = (await store.ingest(canonicalInput(v5))).eventId;
    const flatId = (await store.ingest(ingestInput(flat))).eventId;
    const noteId = (await store.ingest(canonicalInput(note))).eventId;

    const stored = (await store.getEvent(v5Id))!;
    expect(stored.event).toEqual(v5);
    expect(stored.payload).toEqual(v5.payload);
    expect(stored).toMatchObject({
      docvTransactionId: v5.docvTransactionId,
      eventType: 'APP_OPENED',
      dialect: 'socure-v5',
      test: false,
      evaluationId: null,
      eventTimeSource: 'receipt',
      customerUserId: '121212',
    });
    const flatStored = (await store.getEvent(flatId))!;
    expect(flatStored).toMatchObject({
      dialect: 'asyncapi',
      test: false,
      eventTimeSource: 'event',
      evaluationId: null,
    });
    expect(flatStored.event).toEqual(canonicalOfFlat(flat as unknown as DocvEvent));
    const noteStored = (await store.getEvent(noteId))!;
    expect(noteStored).toMatchObject({ docvTransactionId: null, dialect: 'riskos', evaluationId: note.evaluationId });
    expect(noteStored.event).toEqual(note);

    const ids = async (filter: Parameters<Store['listEvents']>[0]) =>
      (await store.listEvents(filter)).items.map((e) => e.eventId);
    expect(await ids({ limit: 10, dialect: 'socure-v5' })).toEqual([v5Id]);
    expect(await ids({ limit: 10, dialect: 'asyncapi' })).toEqual([flatId]);
    expect(await ids({ limit: 10, dialect: 'riskos' })).toEqual([noteId]);
    expect(await ids({ limit: 10, test: false })).toEqual([noteId, flatId, v5Id]);
    expect(await ids({ limit: 10, test: true })).toEqual([]);
    expect(await ids({ limit: 10, evaluationId: note.evaluationId! })).toEqual([noteId]);
    expect(await ids({ limit: 10, evaluationId: 'no-such-evaluation' })).toEqual([]);
    // The flat event wrote nothing into the new columns.
    const raw = await sqliteDatabase(lastPath).rows<{ canonical: string | null; evaluation_id: string | null }>(
      'SELECT canonical, evaluation_id FROM events WHERE event_id = ?',
      flatId,
    );
    expect(raw).toEqual([{ canonical: null, evaluation_id: null }]);
  });

  it('a TEST_WEBHOOK is stored and handed to destinations, but makes no transaction and no decision fetch', async () => {
    const store = open();
    store.configureOutbox({ destinations: ['sink'], fetchDecisions: true });
    const event = testWebhookEvent();
    const { eventId } = await store.ingest(canonicalInput(event));
    expect(await store.getEvent(eventId)).toMatchObject({
      eventType: 'TEST_WEBHOOK',
      docvTransactionId: null,
      test: true,
    });
    expect((await store.listEvents({ limit: 10, test: true })).items.map((e) => e.eventId)).toEqual([eventId]);
    expect(await store.stats()).toMatchObject({ events: 1, transactions: 0 });
    expect((await store.listTransactions({ limit: 10 })).items).toEqual([]);

    const deliveries = (await store.listDeliveries({ limit: 10 })).items;
    expect(deliveries).toEqual([expect.objectContaining({ eventId, destination: 'sink', docvTransactionId: null })]);
    const [claimed] = await store.claimDeliveries({
      workerId: 'w',
      limit: 5,
      leaseMs: 30_000,
      destinations: ['sink'],
      ordered: true,
    });
    expect(claimed).toMatchObject({ eventId, docvTransactionId: null, event: { test: true, docvTransactionId: null } });
  });

  it('events without a transaction are not held behind one another in ordered delivery', async () => {
    const store = open();
    store.configureOutbox({ destinations: ['sink'] });
    const first = await store.ingest(canonicalInput(testWebhookEvent()));
    const second = await store.ingest(canonicalInput(riskosEvent('case_notes_added', uniqueId('eval'))));
    const claimed = await store.claimDeliveries({
      workerId: 'w',
      limit: 5,
      leaseMs: 30_000,
      destinations: ['sink'],
      ordered: true,
    });
    expect(claimed.map((c) => c.eventId).sort()).toEqual([first.eventId, second.eventId].sort());
  });

  it('RiskOS: a note that came before its evaluation named the transaction joins it when the evaluation completes', async () => {
    const store = open();
    store.configureOutbox({ destinations: ['sink'] });
    const evaluationId = uniqueId('eval');
    const token = uniqueId('tok');
    const note = riskosEvent('case_notes_added', evaluationId, { eventTime: '2026-03-01T10:00:00.000Z' });
    const noteId = (await store.ingest(canonicalInput(note))).eventId;
    expect(await store.getEvent(noteId)).toMatchObject({ docvTransactionId: null, evaluationId });
    expect(await store.stats()).toMatchObject({ transactions: 0 });

    const completed = riskosEvent('evaluation_completed', evaluationId, {
      docvTransactionId: token,
      eventTime: '2026-03-01T10:05:00.000Z',
      decision: 'ACCEPT',
    });
    const completedId = (await store.ingest(canonicalInput(completed))).eventId;
    const tx = (await store.getTransaction(token))!;
    expect(tx).toMatchObject({
      docvTransactionId: token,
      status: 'evaluation_completed',
      decision: 'accept',
      eventCount: 2,
      evaluationId,
      firstEventAt: note.eventTime,
    });
    expect(tx.events.map((e) => e.eventId)).toEqual([noteId, completedId]);
    // The note is filed under the transaction now: as a summary, as a canonical event, and its delivery.
    expect(await store.getEvent(noteId)).toMatchObject({
      docvTransactionId: token,
      event: { docvTransactionId: token, eventType: 'case_notes_added' },
    });
    expect((await store.listEvents({ limit: 10, docvTransactionId: token })).items).toHaveLength(2);
    const deliveries = (await store.listDeliveries({ limit: 10, docvTransactionId: token })).items;
    expect(deliveries.map((d) => d.eventId).sort()).toEqual([noteId, completedId].sort());
  });

  it('RiskOS: a note whose evaluation already named its transaction is filed and folded under it', async () => {
    const store = open();
    const evaluationId = uniqueId('eval');
    const token = uniqueId('tok');
    await store.ingest(
      canonicalInput(
        riskosEvent('evaluation_completed', evaluationId, { docvTransactionId: token, decision: 'REVIEW' }),
      ),
    );
    const noteId = (
      await store.ingest(
        canonicalInput(riskosEvent('case_notes_added', evaluationId, { eventTime: '2026-03-01T10:06:00.000Z' })),
      )
    ).eventId;
    const tx = (await store.getTransaction(token))!;
    expect(tx).toMatchObject({
      status: 'evaluation_completed',
      decision: 'review',
      eventCount: 2,
      lastEventAt: '2026-03-01T10:06:00.000Z',
    });
    expect(tx.events.map((e) => e.eventId)).toContain(noteId);
    expect(await store.getEvent(noteId)).toMatchObject({
      docvTransactionId: token,
      event: { docvTransactionId: token },
    });
    // A note of another evaluation stays unlinked.
    const other = (await store.ingest(canonicalInput(riskosEvent('case_notes_added', uniqueId('eval'))))).eventId;
    expect(await store.getEvent(other)).toMatchObject({ docvTransactionId: null });
    expect(await store.stats()).toMatchObject({ transactions: 1, events: 3 });
  });

  it('quarantine: dialect, filters, one entry by id, and what reprocessing gave', async () => {
    const store = open();
    const t0 = Date.parse('2026-03-01T10:00:00Z');
    await store.quarantine(
      quarantined({ reason: 'invalid', status: 422, dialect: 'socure-v5', receivedAt: new Date(t0) }),
    );
    await store.quarantine(
      quarantined({ reason: 'conflict', status: 409, dialect: 'asyncapi', receivedAt: new Date(t0 + 60_000) }),
    );
    await store.quarantine(quarantined({ reason: 'invalid', status: 422, receivedAt: new Date(t0 + 120_000) }));
    await store.quarantine(
      quarantined({ reason: 'invalid', status: 422, dialect: 'riskos', receivedAt: new Date(t0 + 180_000) }),
    );

    const all = (await store.listQuarantine({ limit: 10 })).items;
    expect(all.map((q) => q.dialect)).toEqual(['riskos', null, 'asyncapi', 'socure-v5']);
    expect(all.every((q) => q.reprocessed === null)).toBe(true);
    const reasons = async (filter: Omit<Parameters<Store['listQuarantine']>[0], 'limit'>) =>
      (await store.listQuarantine({ limit: 10, ...filter })).items.map((q) => q.receivedAt);
    const at = (offset: number) => new Date(t0 + offset).toISOString();
    expect(await reasons({ reason: 'conflict' })).toEqual([at(60_000)]);
    expect(await reasons({ status: 422 })).toEqual([at(180_000), at(120_000), at(0)]);
    expect(await reasons({ from: new Date(t0 + 60_000), to: new Date(t0 + 180_000) })).toEqual([
      at(120_000),
      at(60_000),
    ]);

    const target = all[2]!;
    expect(await store.getQuarantine(target.quarantineId)).toEqual(target);
    expect(await store.getQuarantine('qrn_missing')).toBeNull();
    const result = { at: '2026-03-02T00:00:00.000Z', outcome: 'accepted', status: 200, eventId: 'evt_1' };
    await store.markQuarantineReprocessed(target.quarantineId, result);
    expect(await store.getQuarantine(target.quarantineId)).toMatchObject({
      quarantineId: target.quarantineId,
      reprocessed: result,
      dialect: 'asyncapi',
    });
    expect(await reasons({ reprocessed: true })).toEqual([at(60_000)]);
    expect(await reasons({ reprocessed: false })).toEqual([at(180_000), at(120_000), at(0)]);
    // Marking an id that is gone (trimmed) is no error.
    await store.markQuarantineReprocessed('qrn_missing', result);

    // Paging keeps the filter.
    const first = await store.listQuarantine({ limit: 2, status: 422 });
    expect(first.items).toHaveLength(2);
    const second = await store.listQuarantine({ limit: 2, status: 422, cursor: first.nextCursor! });
    expect(second.items.map((q) => q.receivedAt)).toEqual([at(0)]);
    expect(second.nextCursor).toBeNull();
  });

  it('a decision fetch that gives up marks the transaction until a decision arrives', async () => {
    const store = open();
    const id = uniqueId('tx');
    await store.ingest(
      ingestInput(
        docvEvent({ docvTransactionId: id, eventType: 'VERIFICATION_COMPLETED', eventTime: '2026-03-01T10:05:00Z' }),
      ),
    );
    const at = new Date('2026-03-01T10:06:00Z');
    await store.markDecisionUnavailable(id, 'no decision after 5 attempts', at);
    const marked = (await store.getTransaction(id))!;
    expect(marked.decisionUnavailable).toEqual({ reason: 'no decision after 5 attempts', at: at.toISOString() });
    expect(marked.anomalies.map((a) => a.code)).toContain('decision_unavailable');
    expect((await store.listTransactions({ limit: 10 })).items[0]).toMatchObject({
      decisionUnavailable: { reason: 'no decision after 5 attempts' },
    });

    const completed = marked.events[0]!;
    await store.recordDecision(completed.eventId, id, {
      decision: 'review',
      decisionName: 'lenient',
      reasonCodes: ['I831'],
      fetchedAt: '2026-03-01T10:07:00Z',
      details: null,
    });
    const decided = (await store.getTransaction(id))!;
    expect(decided).toMatchObject({ decision: 'review', decisionSource: 'api', decisionUnavailable: null });
    expect(decided.anomalies.map((a) => a.code)).not.toContain('decision_unavailable');

    // A transaction never seen: nothing happens, nothing is created.
    await store.markDecisionUnavailable('tx-never-seen', 'gone', at);
    expect(await store.getTransaction('tx-never-seen')).toBeNull();
  });

  it("decision fetch rows: uploads fetch without holding forwards; a completion holds them, with or without a decision (the event's word is confirmed)", async () => {
    const store = open();
    store.configureOutbox({ destinations: ['sink'], fetchDecisions: true, decisionWaitMs: 60_000 });
    const claimSink = () =>
      store.claimDeliveries({ workerId: 'w', limit: 10, leaseMs: 30_000, destinations: ['sink'], ordered: false });
    const deliveriesOf = async (eventId: string) =>
      (await store.listDeliveries({ limit: 50 })).items.filter((d) => d.eventId === eventId);

    const uploaded = await store.ingest(canonicalInput(v5Event({ eventType: 'DOCUMENTS_UPLOADED' })));
    expect((await deliveriesOf(uploaded.eventId)).map((d) => d.destination).sort()).toEqual(['decision-fetch', 'sink']);
    expect((await claimSink()).map((c) => c.eventId)).toEqual([uploaded.eventId]);

    const token = uniqueId('tok');
    const completion = await store.ingest(
      ingestInput(docvEvent({ docvTransactionId: token, eventType: 'VERIFICATION_COMPLETED' })),
    );
    expect((await deliveriesOf(completion.eventId)).map((d) => d.destination).sort()).toEqual([
      'decision-fetch',
      'sink',
    ]);
    expect(await claimSink()).toEqual([]);
    const fetches = await store.claimDeliveries({
      workerId: 'f',
      limit: 10,
      leaseMs: 30_000,
      destinations: ['decision-fetch'],
      ordered: false,
    });
    expect(fetches.map((f) => f.eventId)).toEqual([uploaded.eventId, completion.eventId]);
    const fetch = fetches[1];
    expect(fetch).toMatchObject({ docvTransactionId: token, event: { eventType: 'VERIFICATION_COMPLETED' } });
    await store.recordDecision(completion.eventId, token, {
      decision: 'accept',
      decisionName: 'standard',
      reasonCodes: ['I831'],
      fetchedAt: new Date().toISOString(),
      details: null,
    });
    await store.completeDelivery({
      deliveryId: fetch!.deliveryId,
      workerId: 'f',
      outcome: 'delivered',
      status: 200,
      error: null,
      startedAt: new Date(),
      durationMs: 1,
    });
    const [held] = await claimSink();
    expect(held).toMatchObject({
      eventId: completion.eventId,
      fetchedDecision: { decision: 'accept', decisionName: 'standard', reasonCodes: ['I831'] },
    });

    const decided = await store.ingest(
      ingestInput(docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'reject' })),
    );
    expect((await deliveriesOf(decided.eventId)).map((d) => d.destination).sort()).toEqual(['decision-fetch', 'sink']);
    const evaluation = await store.ingest(
      canonicalInput(
        riskosEvent('evaluation_completed', uniqueId('eval'), {
          docvTransactionId: uniqueId('tok'),
          decision: 'ACCEPT',
        }),
      ),
    );
    expect((await deliveriesOf(evaluation.eventId)).map((d) => d.destination).sort()).toEqual([
      'decision-fetch',
      'sink',
    ]);
    expect((await claimSink()).map((c) => c.eventId)).not.toContain(decided.eventId);

    // Without fetchDecisions, no fetch rows at all.
    store.configureOutbox({ fetchDecisions: false });
    const plain = await store.ingest(ingestInput(docvEvent({ eventType: 'VERIFICATION_COMPLETED' })));
    expect((await deliveriesOf(plain.eventId)).map((d) => d.destination)).toEqual(['sink']);
  });

  it('a database made by an earlier release migrates to 5; its flat events read back as asyncapi', async () => {
    const path = scratch.path();
    const db = sqliteDatabase(path);
    await migratedUpTo(db, 4);
    const flat = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
    await writeRows(
      db,
      `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time, event_time_ms,
         customer_user_id, decision, received_at, raw_body, headers) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')`,
      'evt_old',
      `id:old-1`,
      contentKey(flat),
      flat.docvTransactionId,
      flat.eventType,
      flat.eventTime,
      Date.parse(flat.eventTime as string),
      flat.customerUserId,
      'accept',
      '2026-03-01T10:00:01.000Z',
      Buffer.from(JSON.stringify(flat)),
    );
    await writeRows(
      db,
      `INSERT INTO quarantine (quarantine_id, received_at, reason, status, detail, headers, body, body_size) VALUES ('qrn_old', ?, 'invalid', 422, 'null', '{}', ?, 2)`,
      '2026-03-01T10:00:02.000Z',
      Buffer.from('{}'),
    );

    const store = scratch.keep(new SqliteStore({ path, migrate: false }));
    expect(await store.migrate()).toEqual(SQLITE_MIGRATIONS.map((m) => m.version).filter((v) => v > 4));
    const indexes = (
      await db.rows<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
    ).map((r) => r.name);
    expect(indexes).toContain('events_by_evaluation');

    const old = (await store.getEvent('evt_old'))!;
    expect(old).toMatchObject({
      dialect: 'asyncapi',
      test: false,
      eventTimeSource: 'event',
      evaluationId: null,
      docvTransactionId: flat.docvTransactionId,
      decision: 'accept',
    });
    expect(old.event).toEqual(canonicalOfFlat(flat as unknown as DocvEvent));
    expect(
      (await store.listEvents({ limit: 10, dialect: 'asyncapi', test: false })).items.map((e) => e.eventId),
    ).toEqual(['evt_old']);
    expect(await store.getQuarantine('qrn_old')).toMatchObject({ dialect: null, reprocessed: null, reason: 'invalid' });
    // And the upgraded file takes events of the new dialects.
    const v5 = v5Event();
    const { eventId } = await store.ingest(canonicalInput(v5));
    expect((await store.getEvent(eventId))!.event).toEqual(v5);
  });
});

describe('SQLite store on a writer thread: the methods added for dialects', () => {
  const scratch = sqliteScratch('docv-canonical-threaded-');

  it('forwards quarantine reprocessing and decision unavailability to the writer, and reads canonical events back', async () => {
    const store = scratch.keep(await ThreadedSqliteStore.open({ path: scratch.path() }));
    const v5 = v5Event({ eventType: 'VERIFICATION_COMPLETED' });
    const { eventId } = await store.ingest(canonicalInput(v5));
    expect((await store.getEvent(eventId))!.event).toEqual(v5);

    await store.markDecisionUnavailable(v5.docvTransactionId!, 'timed out', new Date('2026-03-01T10:10:00Z'));
    expect((await store.getTransaction(v5.docvTransactionId!))!.decisionUnavailable).toEqual({
      reason: 'timed out',
      at: '2026-03-01T10:10:00.000Z',
    });

    await store.quarantine(quarantined({ dialect: 'riskos' }));
    const [entry] = (await store.listQuarantine({ limit: 1 })).items;
    await store.markQuarantineReprocessed(entry!.quarantineId, {
      at: '2026-03-02T00:00:00.000Z',
      outcome: 'invalid',
      status: 422,
      eventId: null,
    });
    expect(await store.getQuarantine(entry!.quarantineId)).toMatchObject({
      dialect: 'riskos',
      reprocessed: { outcome: 'invalid', status: 422, eventId: null },
    });
  });
});
