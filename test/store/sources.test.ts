import { describe, expect, it } from 'vitest';
import { canonicalOfFlat, contentKey, type DocvEvent } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { startLifecycle, lifecycleEventOf } from '../../src/lifecycle/index.js';
import { logDeliveryId } from '../../src/store/log-outbox.js';
import {
  AmbiguousTransactionError,
  type ClaimedDelivery,
  type IngestInput,
  type NewDestination,
  type Store,
} from '../../src/store/index.js';
import { ThreadedSqliteStore } from '../../src/store/drivers.js';
import {
  migratedUpTo,
  scratchStores,
  skipUnavailable,
  testBackends,
  writeRows,
  type Backend,
} from '../helpers/backends.js';
import { canonicalInput, ingestInput } from '../helpers/ingest-input.js';
import { riskosEvent, uniqueId } from '../helpers/canonical-events.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * Sources (issue 20) in the store, on both backends: the same transaction id under two sources is
 * two transactions, the same webhook-id two events; every list filters by source; a destination's
 * subscription decides which events are its deliveries; retention steps touch only their sources'
 * rows; a RiskOS evaluation links only within its source; rows stored before sources are `default`.
 */
const backends = await testBackends();

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

/** What the ingest pipeline of `source` hands the store: the dedupe key scoped by the source (dedupe-key.ts). */
function underSource(input: IngestInput, source: string): IngestInput {
  return {
    ...input,
    dedupeKey: dedupeKeyOf(input.event, input.contentHash, input.webhookId, source),
    source,
  };
}

function forward(path: string, fields: Partial<NewDestination> = {}): NewDestination {
  return {
    name: `forward:sink.test${path}`,
    kind: 'forward',
    url: `https://sink.test${path}`,
    signed: false,
    urlCredentials: false,
    ...fields,
  };
}

describe.each(backends)('store: sources ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const open = scratchStores(backend);

  async function accept(
    store: Store,
    source: string,
    fields: Record<string, unknown> = {},
    options: { webhookId?: string; receivedAt?: Date } = {},
  ): Promise<string> {
    const input = underSource(ingestInput(docvEvent(fields), options.webhookId), source);
    const outcome = await store.ingest({ ...input, receivedAt: options.receivedAt ?? input.receivedAt });
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }
  function claim(store: Store, destination: string, limit = 50): Promise<ClaimedDelivery[]> {
    return store.claimDeliveries({
      workerId: 'w1',
      limit,
      leaseMs: 60_000,
      destinations: [destination],
      ordered: true,
    });
  }
  function complete(store: Store, d: ClaimedDelivery, outcome: 'delivered' | 'failed' = 'delivered') {
    return store.completeDelivery({
      deliveryId: d.deliveryId,
      workerId: 'w1',
      outcome,
      status: outcome === 'delivered' ? 200 : 500,
      error: outcome === 'delivered' ? null : 'HTTP 500',
      startedAt: new Date(),
      durationMs: 1,
      ...(outcome === 'failed' ? { nextAttemptAt: Date.now() + 3_600_000 } : {}),
    });
  }

  it('the same transaction id under two sources is two transactions, each with its events and lifecycle', async () => {
    const { store } = await open();
    const tx = uniqueId('same');
    await accept(store, 'sandbox', { docvTransactionId: tx, eventType: 'APP_OPENED' });
    await accept(store, 'sandbox', { docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' });
    await accept(store, 'prod', {
      docvTransactionId: tx,
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      customerUserId: 'user-prod',
    });

    const sandbox = await store.getTransaction(tx, 'sandbox');
    const prod = await store.getTransaction(tx, 'prod');
    expect(sandbox).toMatchObject({ docvTransactionId: tx, source: 'sandbox', eventCount: 2, decision: null });
    expect(sandbox!.events.map((e) => [e.eventType, e.source, e.docvTransactionId])).toEqual([
      ['APP_OPENED', 'sandbox', tx],
      ['DOCUMENTS_UPLOADED', 'sandbox', tx],
    ]);
    expect(prod).toMatchObject({
      docvTransactionId: tx,
      source: 'prod',
      status: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      customerUserId: 'user-prod',
      eventCount: 1,
    });
    expect(prod!.events.map((e) => e.source)).toEqual(['prod']);
    expect(await store.getTransaction(tx, 'default')).toBeNull();

    // Without a source: ambiguous when several sources have it; the one when only one does.
    const ambiguous = await store.getTransaction(tx).then(
      () => null,
      (err: unknown) => err,
    );
    expect(ambiguous).toBeInstanceOf(AmbiguousTransactionError);
    expect([...(ambiguous as AmbiguousTransactionError).sources].sort()).toEqual(['prod', 'sandbox']);
    expect((ambiguous as AmbiguousTransactionError).docvTransactionId).toBe(tx);
    const single = uniqueId('single');
    await accept(store, 'prod', { docvTransactionId: single });
    expect(await store.getTransaction(single)).toMatchObject({ docvTransactionId: single, source: 'prod' });
    const legacy = uniqueId('legacy');
    await accept(store, 'default', { docvTransactionId: legacy });
    expect(await store.getTransaction(legacy)).toMatchObject({ docvTransactionId: legacy, source: 'default' });
    expect(await store.getTransaction(uniqueId('none'))).toBeNull();
    expect(await store.getTransaction(uniqueId('none'), 'prod')).toBeNull();

    // A search by the id, exact or a prefix, finds every source's transaction of it.
    for (const search of [tx, tx.slice(0, tx.length - 3)]) {
      const found = await store.listTransactions({ limit: 10, search });
      expect(found.items.map((t) => [t.docvTransactionId, t.source]).sort()).toEqual([
        [tx, 'prod'],
        [tx, 'sandbox'],
      ]);
      expect(await store.countTransactions({ search }, 100)).toMatchObject({ count: 2, capped: false });
    }
    expect((await store.listTransactions({ limit: 10, search: tx, source: 'prod' })).items).toHaveLength(1);

    // Every listed transaction says its source.
    const listed = await store.listTransactions({ limit: 10 });
    expect(listed.items.map((t) => `${t.docvTransactionId}@${t.source}`).sort()).toEqual(
      [`${tx}@prod`, `${tx}@sandbox`, `${single}@prod`, `${legacy}@default`].sort(),
    );
  });

  it('the same webhook-id under two sources is two events; again under one of them, a duplicate', async () => {
    const { store } = await open();
    const tx = uniqueId('wh');
    const event = docvEvent({ docvTransactionId: tx });
    const a = await store.ingest(underSource(ingestInput(event, 'msg_shared'), 'sandbox'));
    const b = await store.ingest(underSource(ingestInput(event, 'msg_shared'), 'prod'));
    expect(a.kind).toBe('accepted');
    expect(b.kind).toBe('accepted');
    expect(a.eventId).not.toBe(b.eventId);
    expect(await store.ingest(underSource(ingestInput(event, 'msg_shared'), 'prod'))).toEqual({
      kind: 'duplicate',
      eventId: b.eventId,
    });
    expect(await store.getEvent(a.eventId)).toMatchObject({ source: 'sandbox', docvTransactionId: tx });
    const stored = await store.getEvent(b.eventId);
    expect(stored).toMatchObject({ source: 'prod', docvTransactionId: tx, webhookId: 'msg_shared', duplicates: 1 });
    expect(stored!.event.docvTransactionId).toBe(tx);
  });

  it('filters events, transactions and their counts by source; an id without a source means every source', async () => {
    const { store } = await open();
    const tx = uniqueId('flt');
    const sandboxEvent = await accept(store, 'sandbox', { docvTransactionId: tx });
    const prodEvent = await accept(store, 'prod', { docvTransactionId: tx });
    const other = await accept(store, 'prod', { docvTransactionId: uniqueId('other') });
    const defaultEvent = await accept(store, 'default');

    const events = async (filter: Parameters<Store['listEvents']>[0]) =>
      (await store.listEvents(filter)).items.map((e) => e.eventId);
    expect(await events({ limit: 10, source: 'prod' })).toEqual([other, prodEvent]);
    expect(await events({ limit: 10, source: 'default' })).toEqual([defaultEvent]);
    expect(await events({ limit: 10, docvTransactionId: tx })).toEqual([prodEvent, sandboxEvent]);
    expect(await events({ limit: 10, docvTransactionId: tx, source: 'sandbox' })).toEqual([sandboxEvent]);
    expect(await events({ limit: 10, docvTransactionId: tx, source: 'default' })).toEqual([]);
    // Paged: the cursor keeps the filter's meaning.
    const first = await store.listEvents({ limit: 1, docvTransactionId: tx });
    expect(first.items.map((e) => e.eventId)).toEqual([prodEvent]);
    expect(
      (await store.listEvents({ limit: 1, docvTransactionId: tx, cursor: first.nextCursor! })).items[0]?.eventId,
    ).toBe(sandboxEvent);

    const transactions = async (source: string) =>
      (await store.listTransactions({ limit: 10, source })).items.map((t) => t.source);
    expect(await transactions('prod')).toEqual(['prod', 'prod']);
    expect(await transactions('sandbox')).toEqual(['sandbox']);
    expect(await transactions('nowhere')).toEqual([]);
    expect(await store.countTransactions({ source: 'prod' }, 100)).toMatchObject({ count: 2, capped: false });
    expect(await store.countTransactions({ source: 'prod', status: 'APP_OPENED' }, 100)).toMatchObject({ count: 2 });
    expect(await store.countTransactions({ source: 'default' }, 100)).toMatchObject({ count: 1 });
  });

  it('deliveries say their source and filter by it; replay and its count too', async () => {
    const { store } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const tx = uniqueId('dlv');
    const sandboxEvent = await accept(store, 'sandbox', { docvTransactionId: tx });
    const prodEvent = await accept(store, 'prod', { docvTransactionId: tx });
    const prodOther = await accept(store, 'prod');

    const listed = async (filter: Omit<Parameters<Store['listDeliveries']>[0], 'limit'>) =>
      (await store.listDeliveries({ limit: 20, ...filter })).items.map((d) => [d.eventId, d.source, d.state]);
    expect(await listed({ source: 'prod' })).toEqual([
      [prodOther, 'prod', 'pending'],
      [prodEvent, 'prod', 'pending'],
    ]);
    expect(await listed({ docvTransactionId: tx })).toEqual([
      [prodEvent, 'prod', 'pending'],
      [sandboxEvent, 'sandbox', 'pending'],
    ]);
    expect(await listed({ docvTransactionId: tx, source: 'sandbox' })).toEqual([[sandboxEvent, 'sandbox', 'pending']]);

    const claimed = await claim(store, 'sink');
    expect(claimed.map((d) => [d.eventId, d.source, d.docvTransactionId])).toEqual([
      [sandboxEvent, 'sandbox', tx],
      [prodEvent, 'prod', tx],
      [prodOther, 'prod', expect.any(String)],
    ]);
    // What a destination is sent names the transaction by its id, not the store's key.
    expect(claimed.map((d) => d.event.docvTransactionId).slice(0, 2)).toEqual([tx, tx]);
    for (const d of claimed) await complete(store, d, d.eventId === prodEvent ? 'failed' : 'delivered');

    expect(await listed({ source: 'prod', state: 'failed' })).toEqual([[prodEvent, 'prod', 'failed']]);
    expect(await listed({ source: 'sandbox', state: 'failed' })).toEqual([]);
    expect(await listed({ source: 'sandbox' })).toEqual([[sandboxEvent, 'sandbox', 'delivered']]);
    const failed = (await store.listDeliveries({ limit: 5, state: 'failed' })).items[0]!;
    expect(await store.getDelivery(failed.deliveryId)).toMatchObject({ source: 'prod', docvTransactionId: tx });
    const retried = await store.retryDelivery(failed.deliveryId);
    expect(retried).toMatchObject({ source: 'prod', docvTransactionId: tx, state: 'pending' });

    // Replay: of one source, of one id under every source, of one source's transaction.
    expect(await store.countReplay({ source: 'sandbox' })).toBe(1);
    expect(await store.countReplay({ source: 'prod' })).toBe(2);
    expect(await store.countReplay({ docvTransactionId: tx })).toBe(2);
    expect(await store.countReplay({ docvTransactionId: tx, source: 'prod' })).toBe(1);
    expect(await store.replay({ source: 'sandbox' })).toBe(1);
    expect(await listed({ source: 'sandbox' })).toEqual([[sandboxEvent, 'sandbox', 'pending']]);
  });

  it("a destination's subscription decides which events are its deliveries: its worker passes over the rest", async () => {
    const { store } = await open();
    await store.addDestination(forward('/prod', { subscription: { sources: ['prod'] } }), 'keep');
    await store.addDestination(forward('/done', { subscription: { eventTypes: ['VERIFICATION_COMPLETED'] } }), 'keep');
    await store.addDestination(forward('/all'), 'keep');
    expect((await store.listDestinations()).map((d) => [d.name, d.subscription])).toEqual([
      ['forward:sink.test/all', null],
      ['forward:sink.test/done', { sources: null, eventTypes: ['VERIFICATION_COMPLETED'] }],
      ['forward:sink.test/prod', { sources: ['prod'], eventTypes: null }],
    ]);

    const events: Array<{ id: string; source: string; type: string }> = [];
    for (let i = 0; i < 6; i++) {
      const source = i % 2 === 0 ? 'sandbox' : 'prod';
      const type = i % 3 === 2 ? 'VERIFICATION_COMPLETED' : 'APP_OPENED';
      const fields = type === 'VERIFICATION_COMPLETED' ? { eventType: type, decision: 'accept' } : { eventType: type };
      events.push({ id: await accept(store, source, fields), source, type });
    }
    const takenBy = {
      'forward:sink.test/prod': events.filter((e) => e.source === 'prod').map((e) => e.id),
      'forward:sink.test/done': events.filter((e) => e.type === 'VERIFICATION_COMPLETED').map((e) => e.id),
      'forward:sink.test/all': events.map((e) => e.id),
    };

    for (const [destination, ids] of Object.entries(takenBy)) {
      // Before any worker: only the events it takes are its deliveries, pending.
      const pending = await store.listDeliveries({ limit: 50, destination });
      expect(pending.items.map((d) => d.eventId)).toEqual([...ids].reverse());
      expect(await store.countReplay({ destination, state: 'delivered' })).toBe(0);

      // Its worker is handed only those; the cursor moves past the others (the rest stay unclaimed).
      const claimed = await claim(store, destination, 2);
      expect(claimed.map((d) => d.eventId)).toEqual(ids.slice(0, 2));
      for (const d of claimed) await complete(store, d);
      const rest = await claim(store, destination);
      expect(rest.map((d) => d.eventId)).toEqual(ids.slice(2));
      for (const d of rest) await complete(store, d);
      expect(await claim(store, destination)).toEqual([]);
      expect(await store.nextDueAt([destination], 'w1')).toBeNull();

      const delivered = await store.listDeliveries({ limit: 50, destination });
      expect(delivered.items.map((d) => [d.eventId, d.state])).toEqual(
        [...ids].reverse().map((id) => [id, 'delivered']),
      );
      expect(await store.countReplay({ destination, state: 'delivered' })).toBe(ids.length);
      // An event it does not take has no delivery of it, whatever its id would be.
      for (const e of events.filter((x) => !ids.includes(x.id))) {
        expect(await store.getDelivery(logDeliveryId(e.id, destination))).toBeNull();
        expect(await store.retryDelivery(logDeliveryId(e.id, destination))).toBeNull();
      }
      const counts = await store.deliveryCountsByDestination();
      expect(counts[destination]).toEqual({ pending: 0, failed: 0, delivered: ids.length, dead: 0 });
    }
    const health = await store.destinationHealth(new Date(Date.now() - 3_600_000));
    expect(
      Object.fromEntries(
        health.filter((h) => h.destination.startsWith('forward:')).map((h) => [h.destination, h.attempts]),
      ),
    ).toEqual({ 'forward:sink.test/all': 6, 'forward:sink.test/done': 2, 'forward:sink.test/prod': 3 });

    // A replay re-queues only what the destination takes.
    expect(await store.replay({ destination: 'forward:sink.test/prod' })).toBe(3);
    expect((await claim(store, 'forward:sink.test/prod')).map((d) => d.source)).toEqual(['prod', 'prod', 'prod']);

    // Replacing the subscription is an update; later events are read with the new one.
    expect(
      (await store.addDestination(forward('/prod', { subscription: { sources: ['sandbox'] } }), 'replace')).outcome,
    ).toBe('updated');
    expect(
      (await store.addDestination(forward('/prod', { subscription: { sources: ['sandbox'] } }), 'replace')).outcome,
    ).toBe('unchanged');
    const later = await accept(store, 'sandbox');
    await accept(store, 'prod');
    expect((await claim(store, 'forward:sink.test/prod')).map((d) => d.eventId)).toEqual([later]);
  });

  it('quarantine keeps the source of the endpoint that refused the body, and filters by it', async () => {
    const { store } = await open();
    const refuse = (source: string | undefined, n: number) =>
      store.quarantine({
        reason: 'invalid',
        status: 422,
        detail: { n },
        headers: {},
        body: Buffer.from(`{"n":${n}}`),
        bodySize: 7,
        receivedAt: new Date(),
        ...(source === undefined ? {} : { source }),
      });
    await refuse('sandbox', 1);
    await refuse('prod', 2);
    await refuse(undefined, 3);
    const listed = async (source?: string) =>
      (await store.listQuarantine({ limit: 10, ...(source ? { source } : {}) })).items.map((q) => [
        (q.detail as { n: number }).n,
        q.source,
      ]);
    expect(await listed()).toEqual([
      [3, 'default'],
      [2, 'prod'],
      [1, 'sandbox'],
    ]);
    expect(await listed('prod')).toEqual([[2, 'prod']]);
    expect(await store.countQuarantine({ source: 'sandbox' }, 10)).toEqual({ count: 1, capped: false });
    expect(await store.countQuarantine({ source: 'default', reason: 'invalid' }, 10)).toEqual({
      count: 1,
      capped: false,
    });
    const one = (await store.listQuarantine({ limit: 1, source: 'sandbox' })).items[0]!;
    expect((await store.getQuarantine(one.quarantineId))?.source).toBe('sandbox');
  });

  it("a RiskOS note's evaluation links it only to a transaction of its own source", async () => {
    const { store } = await open();
    const ingest = async (source: string, event: ReturnType<typeof riskosEvent>) => {
      const outcome = await store.ingest(underSource(canonicalInput(event), source));
      expect(outcome.kind).toBe('accepted');
      return outcome.eventId;
    };
    // Completed first under prod (names the transaction): a note of the same evaluation id under
    // sandbox is not filed under it; one under prod is.
    const tx = uniqueId('eval-tx');
    const evaluation = uniqueId('eval');
    await ingest(
      'prod',
      riskosEvent('evaluation_completed', evaluation, { docvTransactionId: tx, decision: 'ACCEPT' }),
    );
    const sandboxNote = await ingest('sandbox', riskosEvent('case_notes_added', evaluation));
    const prodNote = await ingest('prod', riskosEvent('case_notes_added', evaluation));
    expect((await store.getEvent(sandboxNote))?.docvTransactionId).toBeNull();
    expect((await store.getEvent(prodNote))?.docvTransactionId).toBe(tx);
    expect((await store.getTransaction(tx, 'prod'))?.events.map((e) => e.eventId)).toContain(prodNote);
    expect(await store.getTransaction(tx, 'sandbox')).toBeNull();

    // A note first under sandbox, then the evaluation naming the transaction under prod: prod's
    // transaction does not adopt sandbox's note; sandbox's own completion does.
    const tx2 = uniqueId('eval-tx');
    const evaluation2 = uniqueId('eval');
    const early = await ingest('sandbox', riskosEvent('case_notes_added', evaluation2));
    await ingest(
      'prod',
      riskosEvent('evaluation_completed', evaluation2, { docvTransactionId: tx2, decision: 'ACCEPT' }),
    );
    expect((await store.getEvent(early))?.docvTransactionId).toBeNull();
    expect((await store.getTransaction(tx2, 'prod'))?.eventCount).toBe(1);
    await ingest(
      'sandbox',
      riskosEvent('evaluation_completed', evaluation2, { docvTransactionId: tx2, decision: 'REJECT' }),
    );
    expect((await store.getEvent(early))?.docvTransactionId).toBe(tx2);
    expect(await store.getTransaction(tx2, 'sandbox')).toMatchObject({
      source: 'sandbox',
      eventCount: 2,
      decision: 'reject',
    });
    expect(await store.getTransaction(tx2, 'prod')).toMatchObject({ eventCount: 1, decision: 'accept' });
  });

  it("a fetched decision, or its absence, goes to the source's transaction", async () => {
    const { store } = await open();
    const tx = uniqueId('dec');
    await accept(store, 'sandbox', { docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' });
    const prodUpload = await accept(store, 'prod', { docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' });
    const decision = {
      decision: 'reject' as const,
      reasonCodes: ['R1'],
      fetchedAt: new Date().toISOString(),
      details: null,
    };
    // Without a source: the transaction of the event the decision was fetched for.
    await store.recordDecision(prodUpload, tx, decision);
    expect(await store.getTransaction(tx, 'prod')).toMatchObject({ decision: 'reject', decisionSource: 'api' });
    expect((await store.getTransaction(tx, 'sandbox'))?.decision).toBeNull();

    await store.markDecisionUnavailable(tx, 'Socure answered 404', new Date(), 'sandbox');
    expect((await store.getTransaction(tx, 'sandbox'))?.decisionUnavailable).toMatchObject({
      reason: 'Socure answered 404',
    });
    expect((await store.getTransaction(tx, 'prod'))?.decisionUnavailable ?? null).toBeNull();
  });

  it("a retention step with sources touches only those sources' rows", async () => {
    const { store } = await open();
    const finished = async (source: string, tx: string, receivedAt: Date) =>
      accept(
        store,
        source,
        { docvTransactionId: tx, eventType: 'VERIFICATION_COMPLETED', decision: 'accept' },
        { receivedAt },
      );
    // Older than the scoped source's transaction, more of other sources than one step examines.
    const others: string[] = [];
    for (let i = 0; i < 25; i++) {
      const tx = uniqueId('keep');
      others.push(tx);
      await finished(i % 2 ? 'prod' : 'default', tx, at(i * 1000));
    }
    const scopedTx = uniqueId('go');
    const scopedEvent = await finished('sandbox', scopedTx, at(60_000));
    const otherEvent = (await store.listEvents({ limit: 1, docvTransactionId: others[0]! })).items[0]!.eventId;
    const now = at(30 * DAY);
    const before = at(DAY);

    const steps = async (kind: 'raw' | 'events' | 'quarantine', sources: { only: string[] } | { except: string[] }) => {
      let removed = 0;
      for (let i = 0; i < 100; i++) {
        const result = await store.retentionStep({ kind, before, limit: 2, now, sources });
        removed += result.removed;
        if (result.done) return removed;
      }
      throw new Error('the step never said it was done');
    };

    expect(await steps('raw', { only: ['sandbox'] })).toBe(1);
    expect((await store.getEvent(scopedEvent))?.removedByRetention).toBeDefined();
    expect((await store.getEvent(otherEvent))?.removedByRetention).toBeUndefined();
    // Another set of sources has a watermark of its own: the events passed over above are still due for it.
    expect(await steps('raw', { except: ['sandbox'] })).toBe(25);
    expect((await store.getEvent(otherEvent))?.removedByRetention).toBeDefined();

    expect(await steps('events', { only: ['sandbox'] })).toBe(1);
    expect(await store.getTransaction(scopedTx, 'sandbox')).toBeNull();
    expect(await store.getTombstone(scopedTx)).toMatchObject({ docvTransactionId: scopedTx, source: 'sandbox' });
    expect(await store.getTombstone(scopedTx, 'sandbox')).toMatchObject({ source: 'sandbox', reason: 'retention' });
    expect(await store.getTombstone(scopedTx, 'prod')).toBeNull();
    expect(await store.countTransactions({}, 100)).toMatchObject({ count: 25 });
    expect(await steps('events', { except: ['sandbox', 'prod'] })).toBe(13);
    expect(await store.countTransactions({}, 100)).toMatchObject({ count: 12 });
    expect(await store.countTransactions({ source: 'prod' }, 100)).toMatchObject({ count: 12 });

    for (const source of ['sandbox', 'prod', 'sandbox'])
      await store.quarantine({
        reason: 'invalid',
        status: 422,
        detail: null,
        headers: {},
        body: Buffer.from('{}'),
        bodySize: 2,
        receivedAt: at(0),
        source,
      });
    expect(await steps('quarantine', { only: ['sandbox'] })).toBe(2);
    expect((await store.listQuarantine({ limit: 10 })).items.map((q) => q.source)).toEqual(['prod']);
    expect(await steps('quarantine', { only: [] })).toBe(0);
    expect(await steps('quarantine', { except: [] })).toBe(1);
  });

  it('rows stored before sources read back as the default source after the upgrade', async () => {
    const db = await backend.create();
    try {
      const added = backend.name === 'sqlite' ? 11 : 12;
      await migratedUpTo(db, added - 1);
      const tx = uniqueId('old');
      const event = canonicalOfFlat(
        docvEvent({ docvTransactionId: tx, eventTime: '2026-03-01T10:00:00.000Z' }) as unknown as DocvEvent,
      );
      const receivedAt = '2026-03-01T10:00:01.000Z';
      const state = startLifecycle(tx, lifecycleEventOf(event, receivedAt));
      await writeRows(
        db,
        `INSERT INTO events (event_id, dedupe_key, content_hash, docv_transaction_id, event_type, event_time,
           event_time_ms, customer_user_id, received_at, raw_body, headers)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        'evt_01old',
        'old-key',
        contentKey(event.payload),
        tx,
        event.eventType,
        event.eventTime,
        Date.parse(event.eventTime),
        event.customerUserId,
        receivedAt,
        Buffer.from(JSON.stringify(event.payload)),
        '{}',
      );
      await writeRows(
        db,
        `INSERT INTO transactions (docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at,
           first_received_at, last_received_at, event_count, anomaly_count, state, dialects)
         VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 1, 0, ?, ?)`,
        tx,
        state.status,
        state.customerUserId,
        state.firstEventAt,
        state.lastEventAt,
        state.firstReceivedAt,
        state.lastReceivedAt,
        JSON.stringify(state),
        backend.name === 'sqlite' ? ',asyncapi,' : ['asyncapi'],
      );
      await writeRows(
        db,
        `INSERT INTO quarantine (quarantine_id, received_at, reason, status, detail, headers, body, body_size)
         VALUES (?, ?, 'invalid', 422, 'null', '{}', ?, 2)`,
        'qrn_01old',
        receivedAt,
        Buffer.from('{}'),
      );
      await writeRows(
        db,
        `INSERT INTO destinations (name, kind, url, state, signed, url_credentials, created_at, updated_at)
         VALUES ('forward:old.test/', 'forward', 'https://old.test/', 'active', ?, ?, ?, ?)`,
        backend.name === 'sqlite' ? 0 : false,
        backend.name === 'sqlite' ? 0 : false,
        receivedAt,
        receivedAt,
      );

      const store = await (await import('../../src/store/index.js')).openStore(db.url, { migrate: false });
      try {
        expect(await store.migrate()).toEqual([added]);
        expect(await store.getTransaction(tx)).toMatchObject({ docvTransactionId: tx, source: 'default' });
        expect(await store.getTransaction(tx, 'default')).toMatchObject({ source: 'default', eventCount: 1 });
        expect(await store.getEvent('evt_01old')).toMatchObject({ source: 'default', docvTransactionId: tx });
        expect((await store.listQuarantine({ limit: 5, source: 'default' })).items.map((q) => q.source)).toEqual([
          'default',
        ]);
        expect((await store.listDestinations()).map((d) => [d.name, d.subscription])).toEqual([
          ['forward:old.test/', null],
        ]);
        // The default source continues the transaction; another source starts its own.
        await accept(store, 'default', { docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' });
        await accept(store, 'prod', { docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' });
        expect((await store.getTransaction(tx, 'default'))?.eventCount).toBe(2);
        expect((await store.getTransaction(tx, 'prod'))?.eventCount).toBe(1);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('store: sources on the SQLite writer thread', () => {
  it('the source-scoped reads and writes cross to the writer and back', async () => {
    const db = await (await testBackends()).find((b) => b.name === 'sqlite')!.create();
    const store = await ThreadedSqliteStore.open({ path: db.path! });
    try {
      const tx = uniqueId('thr');
      for (const source of ['sandbox', 'prod']) {
        const input = underSource(
          ingestInput(docvEvent({ docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' })),
          source,
        );
        expect((await store.ingest(input)).kind).toBe('accepted');
      }
      await expect(store.getTransaction(tx)).rejects.toBeInstanceOf(AmbiguousTransactionError);
      await store.markDecisionUnavailable(tx, 'gone', new Date(), 'prod');
      expect((await store.getTransaction(tx, 'prod'))?.decisionUnavailable).toMatchObject({ reason: 'gone' });
      expect((await store.getTransaction(tx, 'sandbox'))?.decisionUnavailable ?? null).toBeNull();
      await store.recordDecision(
        'evt_unknown',
        tx,
        { decision: 'accept', reasonCodes: [], fetchedAt: new Date().toISOString(), details: null },
        'sandbox',
      );
      expect((await store.getTransaction(tx, 'sandbox'))?.decision).toBe('accept');
      expect(await store.getTombstone(tx, 'prod')).toBeNull();
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
