import { afterEach, describe, expect, it } from 'vitest';
import { createDocvReceiver, type DocvReceiver } from '../../src/index.js';
import type { CanonicalEvent } from '../../src/contract/index.js';
import type { HandlerContext } from '../../src/dispatch/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { docvEvent } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { postToReceiver as post } from '../helpers/library.js';

const backends = await testBackends();

const FAST_RETRY = { schedule: [20, 40, 80], maxAttempts: 4, jitter: 0 };

describe.each(backends)('dispatch to in-process handlers ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let receiver: DocvReceiver;
  let database: TestDatabase | undefined;
  /** A fresh database for this test's receiver. */
  async function freshStore(): Promise<string> {
    database = await backend.create();
    return database.url;
  }
  afterEach(async () => {
    await receiver?.close();
    await database?.drop();
    database = undefined;
  });

  it('a handler failing twice then succeeding: one delivery, 3 attempts, delivered', async () => {
    receiver = createDocvReceiver({ store: await freshStore(), dispatch: { retry: FAST_RETRY } });
    const calls: HandlerContext[] = [];
    const errors: string[] = [];
    receiver
      .on('VERIFICATION_COMPLETED', (event, ctx) => {
        // Typed by name: the canonical event, whose decision is CanonicalDecision | undefined.
        const decision: 'accept' | 'reject' | 'resubmit' | 'review' | undefined = event.decision;
        // A session's event always names its transaction: typed string, not string | null.
        const transaction: string = event.docvTransactionId;
        expect(transaction).toEqual(expect.any(String));
        expect(decision).toBe('accept');
        calls.push(ctx);
        if (calls.length < 3) throw new Error(`flaky ${calls.length}`);
      })
      .onError((err) => {
        errors.push(err.message);
      });
    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
    const res = await post(receiver, event);
    expect(res.status).toBe(200);
    const store = await receiver.store;
    const delivered = await waitFor(
      async () => (await store.listDeliveries({ limit: 10, state: 'delivered' })).items[0],
      'delivery',
    );
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(new Set(calls.map((c) => c.deliveryId)).size).toBe(1);
    expect(errors).toEqual(['flaky 1', 'flaky 2']);
    const view = await store.getDelivery(delivered.deliveryId);
    expect(view).toMatchObject({ attempts: 3, state: 'delivered', destination: 'handler:VERIFICATION_COMPLETED:1' });
    expect(view!.history.map((h) => h.outcome)).toEqual(['failed', 'failed', 'delivered']);
    expect((await store.listDeliveries({ limit: 10 })).items).toHaveLength(1);
  });

  it('dead after the maximum number of attempts; retry and replay bring it back', async () => {
    receiver = createDocvReceiver({ store: await freshStore(), dispatch: { retry: FAST_RETRY } });
    let healthy = false;
    let attempts = 0;
    receiver.onAny(() => {
      attempts++;
      if (!healthy) throw new Error('downstream is down');
    });
    await post(receiver, docvEvent());
    const store = await receiver.store;
    const dead = await waitFor(
      async () => (await store.listDeliveries({ limit: 10, state: 'dead' })).items[0],
      'dead delivery',
    );
    expect(attempts).toBe(4);
    expect(dead.lastError).toContain('gave up after 4 attempts: handler threw: downstream is down');

    healthy = true;
    await store.retryDelivery(dead.deliveryId);
    await waitFor(async () => (await store.getDelivery(dead.deliveryId))?.state === 'delivered', 'retried delivery');
    expect(attempts).toBe(5);

    // Replay re-queues even delivered ones: the handler sees the event again.
    expect(await store.replay({ destination: 'handler:*:1' })).toBe(1);
    await waitFor(() => attempts === 6, 'replayed delivery');
  });

  it("holds a transaction's later event while the earlier one fails; other transactions flow", async () => {
    receiver = createDocvReceiver({
      store: await freshStore(),
      dispatch: { retry: { schedule: [30], maxAttempts: 50, jitter: 0 } },
    });
    const seen: string[] = [];
    let failOpened = true;
    receiver.onAny((event: CanonicalEvent) => {
      if (event.docvTransactionId === 'held' && event.eventType === 'APP_OPENED' && failOpened)
        throw new Error('not yet');
      seen.push(`${event.docvTransactionId}:${event.eventType}`);
    });
    await post(receiver, docvEvent({ docvTransactionId: 'held', eventType: 'APP_OPENED' }));
    await post(
      receiver,
      docvEvent({ docvTransactionId: 'held', eventType: 'DOCUMENTS_UPLOADED', eventTime: '2026-03-01T10:01:00Z' }),
    );
    await post(receiver, docvEvent({ docvTransactionId: 'free', eventType: 'APP_OPENED' }));
    await waitFor(() => seen.includes('free:APP_OPENED'), 'the other transaction');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['free:APP_OPENED']);
    failOpened = false;
    await waitFor(() => seen.length === 3, 'held events');
    expect(seen).toEqual(['free:APP_OPENED', 'held:APP_OPENED', 'held:DOCUMENTS_UPLOADED']);
  });

  it('a duplicate delivery creates no second outbox row', async () => {
    receiver = createDocvReceiver({ store: await freshStore(), dispatch: { retry: FAST_RETRY } });
    let count = 0;
    receiver.onAny(() => {
      count++;
    });
    const event = docvEvent();
    await post(receiver, event);
    expect((await post(receiver, event)).body).toContain('duplicate');
    const store = await receiver.store;
    await waitFor(
      async () => (await store.listDeliveries({ limit: 10, state: 'delivered' })).items.length === 1,
      'delivery',
    );
    expect(count).toBe(1);
    expect((await store.listDeliveries({ limit: 10 })).items).toHaveLength(1);
  });

  it('each handler is its own destination: one failing is retried alone, the other runs once', async () => {
    receiver = createDocvReceiver({ databaseUrl: await freshStore(), dispatch: { retry: FAST_RETRY } });
    let flaky = 0;
    let steady = 0;
    const errors: string[] = [];
    receiver
      .on('VERIFICATION_COMPLETED', () => {
        flaky++;
        if (flaky < 3) throw new Error(`flaky ${flaky}`);
      })
      .onAny(() => {
        steady++;
      })
      .onError((err) => {
        errors.push(err.message);
      });
    await post(receiver, docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' }));
    const store = await receiver.store;
    await waitFor(
      async () => (await store.listDeliveries({ limit: 10, state: 'delivered' })).items.length === 2,
      'both deliveries',
    );
    expect(flaky).toBe(3);
    expect(steady).toBe(1);
    expect(errors).toEqual(['flaky 1', 'flaky 2']);
    const rows = (await store.listDeliveries({ limit: 10 })).items;
    expect(rows.map((r) => r.destination).sort()).toEqual(['handler:*:1', 'handler:VERIFICATION_COMPLETED:1']);
    const byName = new Map(rows.map((r) => [r.destination, r]));
    expect(byName.get('handler:VERIFICATION_COMPLETED:1')).toMatchObject({ attempts: 3, state: 'delivered' });
    expect(byName.get('handler:*:1')).toMatchObject({ attempts: 1, state: 'delivered' });
  });

  it("a handler's row for an event of another type is done without running it", async () => {
    receiver = createDocvReceiver({ databaseUrl: await freshStore(), dispatch: { retry: FAST_RETRY } });
    let completed = 0;
    receiver.on('VERIFICATION_COMPLETED', () => {
      completed++;
    });
    await post(receiver, docvEvent({ eventType: 'APP_OPENED' }));
    const store = await receiver.store;
    const row = await waitFor(
      async () => (await store.listDeliveries({ limit: 10, state: 'delivered' })).items[0],
      'delivery',
    );
    expect(row).toMatchObject({ destination: 'handler:VERIFICATION_COMPLETED:1', attempts: 1 });
    expect(completed).toBe(0);
  });

  it('named handlers keep their name; a name used twice is refused', async () => {
    receiver = createDocvReceiver({ databaseUrl: await freshStore(), dispatch: { retry: FAST_RETRY } });
    const seen: string[] = [];
    receiver.onAny((event) => void seen.push(event.eventType), { name: 'audit' });
    expect(() => receiver.onAny(() => undefined, { name: 'audit' })).toThrow(/handler:audit is already registered/);
    await post(receiver, docvEvent());
    const store = await receiver.store;
    const row = await waitFor(
      async () => (await store.listDeliveries({ limit: 10, state: 'delivered' })).items[0],
      'delivery',
    );
    expect(row.destination).toBe('handler:audit');
    expect(seen).toHaveLength(1);
  });

  it('events accepted before any handler is registered wait, and go to the handlers registered later', async () => {
    // Plenty of attempts: the row fails ("no handler is registered yet") until the handler comes.
    receiver = createDocvReceiver({
      databaseUrl: await freshStore(),
      dispatch: { retry: { schedule: [20], maxAttempts: 1000, jitter: 0 } },
    });
    await receiver.ready();
    await post(receiver, docvEvent({ docvTransactionId: 'early' }));
    const store = await receiver.store;
    await waitFor(
      async () =>
        (await store.listDeliveries({ limit: 10 })).items[0]?.lastError?.includes('no handler is registered yet'),
      'a failed attempt',
    );
    const seen: string[] = [];
    receiver.onAny((event) => void seen.push(String(event.docvTransactionId)));
    await waitFor(() => seen.includes('early'), 'the early event');
    // Registered once the receiver runs: the next event gets a row of the handler's own.
    await post(receiver, docvEvent({ docvTransactionId: 'late' }));
    await waitFor(() => seen.includes('late'), 'the later event');
    const rows = (await store.listDeliveries({ limit: 10 })).items;
    expect(rows.map((r) => r.destination).sort()).toEqual(['handler:*:1', 'handlers']);
    expect(seen).toEqual(['early', 'late']);
  });
});
