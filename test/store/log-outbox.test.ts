import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery, OutboxDelivery, Store } from '../../src/store/index.js';
import { scratchStores, skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * The event log is the outbox (decision 0012): forwards and handlers read the log through a
 * cursor; only deliveries that leave the happy path get a row. What users see through the store's
 * API must not tell the two apart: every event a delivery, in order, paged, retried, replayed.
 */
const backends = await testBackends();

describe.each(backends)('store: the event log is the outbox ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const open = scratchStores(backend);
  async function accept(store: Store, fields: Record<string, unknown> = {}): Promise<string> {
    const outcome = await store.ingest(ingestInput(docvEvent(fields)));
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }
  function claim(store: Store, workerId = 'w1', limit = 50, ordered = true): Promise<ClaimedDelivery[]> {
    return store.claimDeliveries({ workerId, limit, leaseMs: 60_000, destinations: ['sink'], ordered });
  }
  async function complete(store: Store, d: ClaimedDelivery, outcome: 'delivered' | 'failed' | 'dead', workerId = 'w1') {
    return store.completeDelivery({
      deliveryId: d.deliveryId,
      workerId,
      outcome,
      status: outcome === 'delivered' ? 200 : 500,
      error: outcome === 'delivered' ? null : 'HTTP 500',
      startedAt: new Date(),
      durationMs: 1,
      ...(outcome === 'failed' ? { nextAttemptAt: Date.now() - 1 } : {}),
    });
  }
  async function all(store: Store, filter: { state?: OutboxDelivery['state'] } = {}, limit = 7) {
    const out: OutboxDelivery[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 200; page++) {
      const found = await store.listDeliveries({ limit, ...filter, ...(cursor ? { cursor } : {}) });
      out.push(...found.items);
      if (!found.nextCursor) break;
      cursor = found.nextCursor;
    }
    return out;
  }

  it('an accepted event writes no outbox row; its delivery is read back from the log, and every page of the list holds the rest', async () => {
    const { store, db } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await accept(store, { docvTransactionId: `tx-${i}` }));
    expect(Number((await db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM deliveries'))[0]!.n)).toBe(0);
    const pending = await all(store);
    expect(pending.map((d) => d.eventId)).toEqual([...ids].reverse());
    expect(new Set(pending.map((d) => d.state))).toEqual(new Set(['pending']));
    expect((await store.stats()).deliveries).toMatchObject({ pending: 40, delivered: 0 });

    const claimed = await claim(store, 'w1', 25);
    expect(claimed.map((d) => d.eventId)).toEqual(ids.slice(0, 25));
    for (const d of claimed) expect(await complete(store, d, 'delivered')).toBe(true);
    expect(Number((await db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM deliveries'))[0]!.n)).toBe(0);
    const listed = await all(store, {}, 6);
    expect(listed).toHaveLength(40);
    expect(listed.filter((d) => d.state === 'delivered').map((d) => d.eventId)).toEqual(ids.slice(0, 25).reverse());
    expect((await all(store, { state: 'pending' }, 4)).map((d) => d.eventId)).toEqual(ids.slice(25).reverse());
    expect((await all(store, { state: 'delivered' }, 4)).map((d) => d.eventId)).toEqual(ids.slice(0, 25).reverse());
    expect((await store.stats()).deliveries).toMatchObject({ pending: 15, delivered: 25, failed: 0, dead: 0 });
    const one = await store.getDelivery(claimed[3]!.deliveryId);
    expect(one).toMatchObject({ state: 'delivered', attempts: 1, eventId: ids[3], destination: 'sink' });
    expect(one?.deliveredAt).not.toBeNull();
  });

  it('a failed attempt gets a row and its retries; later events of its transaction wait behind it, in order', async () => {
    const { store } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const a1 = await accept(store, { docvTransactionId: 'tx-a', eventType: 'APP_OPENED' });
    const b1 = await accept(store, { docvTransactionId: 'tx-b', eventType: 'APP_OPENED' });
    const a2 = await accept(store, { docvTransactionId: 'tx-a', eventType: 'DOCUMENTS_UPLOADED' });
    // One attempt at a time per transaction: a2 is not handed out while a1 is in flight.
    const first = await claim(store);
    expect(first.map((d) => d.eventId)).toEqual([a1, b1]);
    expect(await complete(store, first[0]!, 'failed')).toBe(true);
    expect(await complete(store, first[1]!, 'delivered')).toBe(true);
    const failed = await store.getDelivery(first[0]!.deliveryId);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' });
    expect(failed?.history).toHaveLength(1);
    // The retry of a1 comes first; a2 waits for it (it has a row now, pending, not claimable yet).
    const retry = await claim(store);
    expect(retry.map((d) => d.eventId)).toEqual([a1]);
    expect(retry[0]!.deliveryId).toBe(first[0]!.deliveryId);
    expect(
      (await store.listDeliveries({ limit: 10, docvTransactionId: 'tx-a' })).items.map((d) => [d.eventId, d.state]),
    ).toEqual([
      [a2, 'pending'],
      [a1, 'failed'],
    ]);
    expect(await complete(store, retry[0]!, 'delivered')).toBe(true);
    const next = await claim(store);
    expect(next.map((d) => d.eventId)).toEqual([a2]);
    expect(await complete(store, next[0]!, 'delivered')).toBe(true);
    expect((await all(store)).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('one worker at a time reads a destination; a crashed worker is taken over when its hold runs out, and nothing is lost', async () => {
    const { store } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const ids = [await accept(store), await accept(store), await accept(store)];
    const w1 = await store.claimDeliveries({
      workerId: 'w1',
      limit: 2,
      leaseMs: 300,
      destinations: ['sink'],
      ordered: true,
    });
    expect(w1.map((d) => d.eventId)).toEqual(ids.slice(0, 2));
    expect(await claim(store, 'w2')).toEqual([]);
    expect(await store.nextDueAt(['sink'], 'w2')).toBeGreaterThan(Date.now());
    await new Promise((r) => setTimeout(r, 350));
    // w1 is gone: w2 starts again at the committed cursor and delivers all three (at least once).
    const w2 = await claim(store, 'w2');
    expect(w2.map((d) => d.eventId)).toEqual(ids);
    expect(await complete(store, w1[0]!, 'delivered', 'w1')).toBe(false);
    for (const d of w2) expect(await complete(store, d, 'delivered', 'w2')).toBe(true);
    expect((await all(store)).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(await store.nextDueAt(['sink'], 'w2')).toBeNull();
  });

  it('retry and replay give a delivered log delivery a row of its own, with the same delivery id', async () => {
    const { store } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const ids = [
      await accept(store, { eventType: 'APP_OPENED' }),
      await accept(store, { eventType: 'DOCUMENTS_UPLOADED' }),
    ];
    const claimed = await claim(store);
    for (const d of claimed) await complete(store, d, 'delivered');
    const retried = await store.retryDelivery(claimed[0]!.deliveryId);
    expect(retried).toMatchObject({ deliveryId: claimed[0]!.deliveryId, state: 'pending', attempts: 0 });
    expect(await store.replay({ eventType: 'DOCUMENTS_UPLOADED' })).toBe(1);
    const again = await claim(store);
    expect(again.map((d) => [d.eventId, d.deliveryId]).sort()).toEqual(
      claimed.map((d) => [d.eventId, d.deliveryId]).sort(),
    );
    expect(ids).toHaveLength(2);
    expect(await store.retryDelivery('dlv_nosuchdelivery')).toBeNull();
  });

  it('a failure that is final is a dead letter at once, and the list of the dead shows it', async () => {
    const { store } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const id = await accept(store);
    const [d] = await claim(store);
    expect(await complete(store, d!, 'dead')).toBe(true);
    expect((await store.listDeliveries({ limit: 5, state: 'dead' })).items.map((x) => x.eventId)).toEqual([id]);
    expect((await store.stats()).deliveries).toMatchObject({ dead: 1, pending: 0, delivered: 0 });
  });
});
