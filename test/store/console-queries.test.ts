import { afterEach, describe, expect, it } from 'vitest';
import { setUnindexedWalkForTests } from '../../src/store/unindexed-walk.js';
import {
  InvalidCursorError,
  MAX_RECEIPT_BUCKETS,
  type ClaimedDelivery,
  type Store,
  type TransactionFilter,
} from '../../src/store/index.js';
import { scratchStores, skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { canonicalInput, ingestInput } from '../helpers/ingest-input.js';
import { riskosEvent, uniqueId, v5Event } from '../helpers/canonical-events.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * The store's queries behind the operations console (issue 19): transactions by last activity
 * with keyset pages and filters, bounded counts, duplicates, receipt counts, the deliveries'
 * event and time filters, the replay count, per-destination counts and destinations' health.
 */
const backends = await testBackends();

/** Receipt times in a fixed past hour, so every case knows which bucket each event fell in. */
const T0 = Date.parse('2026-04-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

describe.each(backends)('store: console queries ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const open = scratchStores(backend);
  async function accept(store: Store, receivedAt: Date, fields: Record<string, unknown> = {}): Promise<string> {
    const outcome = await store.ingest({ ...ingestInput(docvEvent(fields)), receivedAt });
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }
  async function ids(store: Store, filter: Omit<TransactionFilter, 'limit'>, limit = 100): Promise<string[]> {
    return (await store.listTransactions({ limit, ...filter })).items.map((t) => t.docvTransactionId);
  }

  it('lists transactions by last activity, newest first; keyset pages neither repeat nor skip while transactions are added', async () => {
    const { store } = await open();
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      const tx = uniqueId(`act${i}`);
      made.push(tx);
      await accept(store, at(i * 1000), { docvTransactionId: tx });
    }
    // The oldest transaction gets a new event: it moves to the top.
    await accept(store, at(60_000), { docvTransactionId: made[0], eventType: 'DOCUMENTS_UPLOADED' });
    expect(await ids(store, {})).toEqual([made[0], ...made.slice(1).reverse()]);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const found = await store.listTransactions({ limit: 5, ...(cursor ? { cursor } : {}) });
      seen.push(...found.items.map((t) => t.docvTransactionId));
      // New transactions arrive while someone pages: they go on the first page, not this one.
      await accept(store, at(120_000 + page * 1000), { docvTransactionId: uniqueId('late') });
      if (!found.nextCursor) break;
      cursor = found.nextCursor;
    }
    expect(seen).toEqual([made[0], ...made.slice(1).reverse()]);

    // Transactions with the same last receipt are ordered by creation, newest first.
    const tied = [uniqueId('tie'), uniqueId('tie'), uniqueId('tie')];
    for (const tx of tied) await accept(store, at(500_000), { docvTransactionId: tx });
    const first = await store.listTransactions({ limit: 2 });
    expect(first.items.map((t) => t.docvTransactionId)).toEqual([tied[2], tied[1]]);
    const second = await store.listTransactions({ limit: 2, cursor: first.nextCursor! });
    expect(second.items[0]!.docvTransactionId).toBe(tied[0]);

    // A cursor of the list as it was ordered before (by seq alone) is refused.
    const old = Buffer.from('tx:12').toString('base64url');
    await expect(store.listTransactions({ limit: 5, cursor: old })).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it('filters by status, decision, anomaly, dialect, environment and activity time, combined with AND; counts stop at the cap', async () => {
    const { store } = await open();
    const opened = uniqueId('opened');
    const accepted = uniqueId('accepted');
    const rejected = uniqueId('rejected');
    const changed = uniqueId('changed');
    await accept(store, at(0), { docvTransactionId: opened });
    await accept(store, at(1000), {
      docvTransactionId: accepted,
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'accept',
    });
    await accept(store, at(2000), {
      docvTransactionId: rejected,
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'reject',
    });
    await accept(store, at(3000), { docvTransactionId: changed, customerUserId: 'user-a' });
    await accept(store, at(4000), {
      docvTransactionId: changed,
      customerUserId: 'user-b',
      eventType: 'DOCUMENTS_UPLOADED',
    });
    const production = v5Event({ environment: 'Production', receivedAt: at(5000) });
    expect((await store.ingest(canonicalInput(production, { receivedAt: at(5000) }))).kind).toBe('accepted');
    const sandbox = v5Event({ environment: 'Sandbox', receivedAt: at(6000) });
    expect((await store.ingest(canonicalInput(sandbox, { receivedAt: at(6000) }))).kind).toBe('accepted');

    expect(await ids(store, { status: 'VERIFICATION_COMPLETED' })).toEqual([rejected, accepted]);
    expect(await ids(store, { decision: 'accept' })).toEqual([accepted]);
    expect(await ids(store, { anomaly: 'any' })).toEqual([changed]);
    expect(await ids(store, { anomaly: 'customer_user_id_changed' })).toEqual([changed]);
    expect(await ids(store, { anomaly: 'conflicting_decisions' })).toEqual([]);
    expect(await ids(store, { dialect: 'socure-v5' })).toEqual([
      sandbox.docvTransactionId,
      production.docvTransactionId,
    ]);
    expect(await ids(store, { dialect: 'asyncapi' })).toEqual([changed, rejected, accepted, opened]);
    expect(await ids(store, { environment: 'Production' })).toEqual([production.docvTransactionId]);
    expect(await ids(store, { from: at(1000), to: at(3000) })).toEqual([rejected, accepted]);
    expect(await ids(store, { status: 'VERIFICATION_COMPLETED', from: at(1500) })).toEqual([rejected]);
    expect(await ids(store, { dialect: 'socure-v5', environment: 'Sandbox' })).toEqual([sandbox.docvTransactionId]);

    expect(await store.countTransactions({}, 100)).toEqual({ count: 6, capped: false });
    expect(await store.countTransactions({}, 6)).toEqual({ count: 6, capped: false });
    expect(await store.countTransactions({}, 4)).toEqual({ count: 4, capped: true });
    expect(await store.countTransactions({ status: 'VERIFICATION_COMPLETED' }, 10)).toEqual({
      count: 2,
      capped: false,
    });
    expect(await store.countTransactions({ anomaly: 'any' }, 10)).toEqual({ count: 1, capped: false });
    expect(await store.countTransactions({ search: accepted }, 10)).toEqual({ count: 1, capped: false });

    expect((await store.stats()).transactionsByDecision).toEqual({ accept: 1, reject: 1, none: 4 });
  });

  it('searches transaction ids, customer user ids and event ids, exact or by prefix, and nothing else', async () => {
    const { store } = await open();
    const stem = uniqueId('srch');
    const a = `${stem}-alpha`;
    const b = `${stem}-beta`;
    const other = uniqueId('other');
    await accept(store, at(0), { docvTransactionId: a, customerUserId: `cust-${stem}-1` });
    await accept(store, at(1000), { docvTransactionId: b, customerUserId: 'someone' });
    const eventOfOther = await accept(store, at(2000), { docvTransactionId: other, customerUserId: 'someone' });

    expect(await ids(store, { search: a })).toEqual([a]);
    expect(await ids(store, { search: `  ${stem}-  ` })).toEqual([b, a]);
    expect(await ids(store, { search: `cust-${stem}` })).toEqual([a]);
    expect(await ids(store, { search: `cust-${stem}-1` })).toEqual([a]);
    expect(await ids(store, { search: eventOfOther })).toEqual([other]);
    expect(await ids(store, { search: eventOfOther.slice(0, -3) })).toEqual([other]);
    expect(await ids(store, { search: `${stem}-gamma` })).toEqual([]);
    // A search is a prefix, never a substring.
    expect(await ids(store, { search: 'alpha' })).toEqual([]);
    // Combined with another filter: AND.
    expect(await ids(store, { search: stem, from: at(500) })).toEqual([b]);
    // Empty after trimming: no search.
    expect(await ids(store, { search: '   ' })).toHaveLength(3);
    // Characters that LIKE would treat as wildcards are plain characters here.
    expect(await ids(store, { search: '%' })).toEqual([]);
    expect(await ids(store, { search: `${stem}_alpha` })).toEqual([]);
  });

  it('counts an event that arrives again: duplicates and the last arrival, on every read of the event', async () => {
    const { store } = await open();
    const tx = uniqueId('dup');
    const input = { ...ingestInput(docvEvent({ docvTransactionId: tx })), receivedAt: at(0) };
    const first = await store.ingest(input);
    expect(first.kind).toBe('accepted');
    const other = await accept(store, at(100), { docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED' });
    expect((await store.getEvent(first.eventId))!).toMatchObject({ duplicates: 0, lastDuplicateAt: null });
    expect(await store.ingest({ ...input, receivedAt: at(5000) })).toEqual({
      kind: 'duplicate',
      eventId: first.eventId,
    });
    expect(await store.ingest({ ...input, receivedAt: at(9000) })).toEqual({
      kind: 'duplicate',
      eventId: first.eventId,
    });

    const expected = { duplicates: 2, lastDuplicateAt: at(9000).toISOString() };
    expect(await store.getEvent(first.eventId)).toMatchObject(expected);
    const view = (await store.getTransaction(tx))!;
    expect(view.events.find((e) => e.eventId === first.eventId)).toMatchObject(expected);
    expect(view.events.find((e) => e.eventId === other)).toMatchObject({ duplicates: 0, lastDuplicateAt: null });
    const listed = (await store.listEvents({ limit: 10, docvTransactionId: tx })).items;
    expect(listed.find((e) => e.eventId === first.eventId)).toMatchObject(expected);
    // A duplicate is not activity: the transaction's last receipt stays the accepted event's.
    expect(view.lastReceivedAt).toBe(at(100).toISOString());
  });

  it('counts events received per time bucket, from known receipt times', async () => {
    const { store } = await open();
    expect(await store.receiptCounts(at(0), at(3000), 1000)).toEqual([
      { start: at(0).toISOString(), events: 0 },
      { start: at(1000).toISOString(), events: 0 },
      { start: at(2000).toISOString(), events: 0 },
    ]);
    for (const ms of [-500, 0, 999, 1000, 1500, 1999, 4200, 7000]) await accept(store, at(ms));
    expect(await store.receiptCounts(at(0), at(6000), 1000)).toEqual(
      [2, 3, 0, 0, 1, 0].map((events, i) => ({ start: at(i * 1000).toISOString(), events })),
    );
    // A last bucket cut short by `to`.
    expect(await store.receiptCounts(at(1000), at(4500), 2000)).toEqual([
      { start: at(1000).toISOString(), events: 3 },
      { start: at(3000).toISOString(), events: 1 },
    ]);
    await expect(store.receiptCounts(at(0), at(MAX_RECEIPT_BUCKETS * 1000 + 1), 1000)).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(store.receiptCounts(at(1000), at(0), 1000)).rejects.toBeInstanceOf(RangeError);
    expect(await store.receiptCounts(at(0), at(MAX_RECEIPT_BUCKETS * 1000), 1000)).toHaveLength(MAX_RECEIPT_BUCKETS);
  });

  describe('deliveries', () => {
    function claim(store: Store, destinations: string[] = ['sink']): Promise<ClaimedDelivery[]> {
      return store.claimDeliveries({ workerId: 'w1', limit: 50, leaseMs: 60_000, destinations, ordered: false });
    }
    async function complete(
      store: Store,
      d: ClaimedDelivery,
      outcome: 'delivered' | 'failed' | 'dead',
      error?: string,
    ) {
      expect(
        await store.completeDelivery({
          deliveryId: d.deliveryId,
          workerId: 'w1',
          outcome,
          status: outcome === 'delivered' ? 200 : 500,
          error: outcome === 'delivered' ? null : (error ?? 'HTTP 500'),
          startedAt: new Date(),
          durationMs: 3,
          ...(outcome === 'failed' ? { nextAttemptAt: Date.now() + 3_600_000 } : {}),
        }),
      ).toBe(true);
    }

    /** 6 events to `sink` at known receipt times: 2 delivered, 1 failed, 1 dead, 2 pending (the last two). */
    async function scene() {
      const opened = await open();
      const { store } = opened;
      store.configureOutbox({ destinations: ['sink'] });
      const events: string[] = [];
      for (let i = 0; i < 6; i++) events.push(await accept(store, at(i * 1000)));
      const claimed = await claim(store);
      expect(claimed.map((d) => d.eventId)).toEqual(events);
      await complete(store, claimed[0]!, 'delivered');
      await complete(store, claimed[1]!, 'failed', 'HTTP 503 first');
      await complete(store, claimed[2]!, 'delivered');
      await complete(store, claimed[3]!, 'dead', 'HTTP 410 gone');
      // The last two stay in flight: pending as far as the list is concerned.
      return { ...opened, events };
    }

    it('filters by event and by receipt time, over rows and deliveries read back from the log', async () => {
      const { store, events } = await scene();
      const byEvent = await store.listDeliveries({ limit: 10, eventId: events[1]! });
      expect(byEvent.items.map((d) => [d.eventId, d.state])).toEqual([[events[1], 'failed']]);
      expect((await store.listDeliveries({ limit: 10, eventId: events[2]! })).items.map((d) => d.state)).toEqual([
        'delivered',
      ]);
      expect((await store.listDeliveries({ limit: 10, eventId: 'evt_00000000000000000000000000' })).items).toEqual([]);
      const window = await store.listDeliveries({ limit: 10, from: at(1000), to: at(4000) });
      expect(window.items.map((d) => d.eventId)).toEqual([events[3], events[2], events[1]]);
      expect((await store.listDeliveries({ limit: 10, from: at(4000) })).items.map((d) => d.eventId)).toEqual([
        events[5],
        events[4],
      ]);
      expect(
        (await store.listDeliveries({ limit: 10, to: at(2000), state: 'delivered' })).items.map((d) => d.eventId),
      ).toEqual([events[0]]);
      // Paged with a filter: the same deliveries, no repeats.
      const first = await store.listDeliveries({ limit: 2, from: at(1000) });
      const second = await store.listDeliveries({ limit: 2, from: at(1000), cursor: first.nextCursor! });
      const third = await store.listDeliveries({ limit: 2, from: at(1000), cursor: second.nextCursor! });
      expect([...first.items, ...second.items, ...third.items].map((d) => d.eventId)).toEqual(
        events.slice(1).reverse(),
      );
      expect(third.nextCursor).toBeNull();
    });

    it('counts what a replay would re-queue, exactly what the replay then re-queues', async () => {
      const { store, events } = await scene();
      const filters = [
        { state: 'dead' as const },
        { from: at(2000), to: at(3500) },
        { destination: 'sink', state: 'delivered' as const },
      ];
      expect(await store.countReplay({ state: 'dead' })).toBe(1);
      expect(await store.countReplay({ state: 'delivered' })).toBe(2);
      expect(await store.countReplay({ docvTransactionId: 'nobody' })).toBe(0);
      for (const filter of filters) {
        const counted = await store.countReplay(filter);
        expect(await store.replay(filter)).toBe(counted);
      }
      expect(events).toHaveLength(6);
    });

    it('splits the delivery counts by destination, and says how each destination is doing', async () => {
      const { store } = await scene();
      const before = new Date(Date.now() - 60_000);
      const counts = await store.deliveryCountsByDestination();
      expect(counts).toEqual({ sink: { pending: 2, failed: 1, delivered: 2, dead: 1 } });
      expect((await store.stats()).deliveries).toEqual(counts.sink);

      const health = await store.destinationHealth(before);
      expect(health).toHaveLength(1);
      const [sink] = health;
      // First attempts: 2 delivered from the log (no record), 2 failed or dead (recorded).
      expect(sink).toMatchObject({ destination: 'sink', attempts: 4, failures: 2, lastError: 'HTTP 410 gone' });
      expect(sink!.lastErrorAt).not.toBeNull();
      expect(sink!.lastDeliveredAt).not.toBeNull();
      expect(Date.parse(sink!.lastDeliveredAt!)).toBeGreaterThanOrEqual(before.getTime());
      // Since a time after everything: no attempts, but the last error and delivery stay.
      const later = (await store.destinationHealth(new Date(Date.now() + 60_000)))[0]!;
      expect(later).toMatchObject({ attempts: 0, failures: 0, lastError: 'HTTP 410 gone' });
      expect(later.lastDeliveredAt).toBe(sink!.lastDeliveredAt);
    });
  });

  describe('a filter no index answers (dialect, environment) examines a bounded number of transactions', () => {
    // 4 instead of 20,000: each page and count examines at most 4 transactions of its index.
    let restoreWalk: (() => void) | undefined;
    afterEach(() => restoreWalk?.());

    /** 12 transactions a second apart, t0 oldest; t1, t2 and t9 in Production (socure-v5), the rest asyncapi. */
    async function twelve(store: Store): Promise<string[]> {
      const made: string[] = [];
      for (let i = 0; i < 12; i++) {
        if ([1, 2, 9].includes(i)) {
          const event = v5Event({ environment: 'Production', receivedAt: at(i * 1000) });
          expect((await store.ingest(canonicalInput(event, { receivedAt: at(i * 1000) }))).kind).toBe('accepted');
          made.push(event.docvTransactionId!);
        } else {
          const tx = uniqueId(`walk${i}`);
          await accept(store, at(i * 1000), { docvTransactionId: tx });
          made.push(tx);
        }
      }
      restoreWalk = setUnindexedWalkForTests(4);
      return made;
    }

    /** Every page of a filter, followed by its cursors: each page's ids and what it said. */
    async function pages(store: Store, filter: Omit<TransactionFilter, 'limit' | 'cursor'>, limit: number) {
      const out: Array<{ ids: string[]; examined: number | undefined; next: boolean }> = [];
      let cursor: string | undefined;
      for (let n = 0; n < 20; n++) {
        const page = await store.listTransactions({ ...filter, limit, ...(cursor ? { cursor } : {}) });
        out.push({
          ids: page.items.map((t) => t.docvTransactionId),
          examined: page.partial?.examined,
          next: page.nextCursor !== null,
        });
        if (!page.nextCursor) return out;
        cursor = page.nextCursor;
      }
      throw new Error('more than 20 pages');
    }

    it('stops at the bound with the matches found so far; the cursor continues the search from the last one examined', async () => {
      const { store } = await open();
      const t = await twelve(store);
      // Newest first: t11 t10 t9 t8 | t7 t6 t5 t4 | t3 t2 t1 t0, four examined per page.
      expect(await pages(store, { environment: 'Production' }, 5)).toEqual([
        { ids: [t[9]], examined: 4, next: true },
        { ids: [], examined: 4, next: true },
        // The last four: the walk reached the end of the index, so the page is complete and the last.
        { ids: [t[2], t[1]], examined: undefined, next: false },
      ]);
      // A page that finds a row past its end before the bound is an ordinary page: it ends at its last row.
      const first = await store.listTransactions({ dialect: 'asyncapi', limit: 2 });
      expect(first.items.map((x) => x.docvTransactionId)).toEqual([t[11], t[10]]);
      expect(first.partial).toBeUndefined();
      const second = await store.listTransactions({ dialect: 'asyncapi', limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((x) => x.docvTransactionId)).toEqual([t[8], t[7]]);
      // A full page whose walk stopped at the bound says so too: its cursor is the last row examined.
      expect(await pages(store, { environment: 'Production' }, 1)).toEqual([
        { ids: [t[9]], examined: 4, next: true },
        { ids: [], examined: 4, next: true },
        { ids: [t[2]], examined: undefined, next: true },
        { ids: [t[1]], examined: undefined, next: false },
      ]);
      // Combined with an indexed condition: the bound applies to the rows it picks (t11 to t2 here).
      expect(await pages(store, { dialect: 'socure-v5', from: at(2000) }, 5)).toEqual([
        { ids: [t[9]], examined: 4, next: true },
        { ids: [], examined: 4, next: true },
        { ids: [t[2]], examined: undefined, next: false },
      ]);
    });

    it('pages of a common value neither repeat nor skip a transaction, whether they fill or stop at the bound', async () => {
      const { store } = await open();
      const t = await twelve(store);
      const asyncapi = [11, 10, 8, 7, 6, 5, 4, 3, 0].map((i) => t[i]);
      for (const limit of [1, 2, 3, 5, 50]) {
        const found = await pages(store, { dialect: 'asyncapi' }, limit);
        expect(found.flatMap((p) => p.ids)).toEqual(asyncapi);
        // No page stops short without saying so: a page with fewer rows than asked says how many it examined, or is the last.
        for (const [i, p] of found.entries())
          if (p.ids.length < limit) expect(p.examined !== undefined || i === found.length - 1).toBe(true);
      }
      expect((await pages(store, { environment: 'Production' }, 1)).flatMap((p) => p.ids)).toEqual([t[9], t[2], t[1]]);
    });

    it('counts the matches among the most recent transactions it examined, and says so', async () => {
      const { store } = await open();
      await twelve(store);
      expect(await store.countTransactions({ environment: 'Production' }, 100)).toEqual({
        count: 1,
        capped: false,
        examined: 4,
      });
      expect(await store.countTransactions({ environment: 'Nowhere' }, 100)).toEqual({
        count: 0,
        capped: false,
        examined: 4,
      });
      // The cap reached within the bound: capped, and nothing to say about the bound.
      expect(await store.countTransactions({ dialect: 'asyncapi' }, 2)).toEqual({ count: 2, capped: true });
      // Fewer transactions to examine than the bound: exact.
      expect(await store.countTransactions({ environment: 'Production', from: at(8000) }, 100)).toEqual({
        count: 1,
        capped: false,
      });
      expect(
        await store.countTransactions({ environment: 'Production', anomaly: 'conflicting_decisions' }, 100),
      ).toEqual({
        count: 0,
        capped: false,
      });
      // The filters an index answers are counted as before, whatever the bound.
      expect(await store.countTransactions({}, 100)).toEqual({ count: 12, capped: false });
      restoreWalk!();
      expect(await store.countTransactions({ environment: 'Production' }, 100)).toEqual({ count: 3, capped: false });
    });
  });

  it('lists a RiskOS transaction under its dialect', async () => {
    const { store } = await open();
    const tx = uniqueId('rk-tx');
    const event = riskosEvent('evaluation_completed', uniqueId('eval'), { docvTransactionId: tx, decision: 'ACCEPT' });
    expect((await store.ingest(canonicalInput(event, { receivedAt: at(0) }))).kind).toBe('accepted');
    expect(await ids(store, { dialect: 'riskos' })).toEqual([tx]);
    expect(await ids(store, { dialect: 'socure-v5' })).toEqual([]);
  });
});
