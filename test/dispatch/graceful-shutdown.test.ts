import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDocvReceiver, type DocvReceiver } from '../../src/index.js';
import { openStore } from '../../src/store/open.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { docvEvent, tempDir } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { postToReceiver as post } from '../helpers/library.js';

const FAST_RETRY = { schedule: [20, 40, 80], maxAttempts: 4, jitter: 0 };

const backends = await testBackends();

let receiver: DocvReceiver | undefined;
afterEach(async () => receiver?.close());

describe.each(backends)('dispatch: graceful shutdown ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase | undefined;
  afterAll(async () => database?.drop());

  it('finishes the attempt in flight, records it, and leaves the rest due for the next start', async () => {
    database = await backend.create();
    const first = createDocvReceiver({ store: database.url, dispatch: { concurrency: 1, retry: FAST_RETRY } });
    receiver = first;
    let started = 0;
    let finished = 0;
    first.onAny(async () => {
      started++;
      await new Promise((r) => setTimeout(r, 300));
      finished++;
    });
    for (let i = 0; i < 4; i++) await post(first, docvEvent());
    await waitFor(() => started === 1, 'the first attempt to start');
    await first.close();
    receiver = undefined;
    expect([started, finished]).toEqual([1, 1]);
    // What it left behind, as the store reads it back: the attempt recorded, the rest due.
    const reopened = await openStore(database.url);
    const left = (await reopened.listDeliveries({ limit: 10 })).items;
    await reopened.close();
    expect(left.map((d) => [d.state, d.attempts]).sort()).toEqual([
      ['delivered', 1],
      ['pending', 0],
      ['pending', 0],
      ['pending', 0],
    ]);
    // Nothing still held: no delivery leased, and the destination's log let go of at once.
    const leased = await database.rows<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM deliveries WHERE lease_owner IS NOT NULL',
    );
    expect(Number(leased[0]!.n)).toBe(0);
    const holds = await database.rows<{ lease_until: number | string | null }>(
      'SELECT lease_until FROM destination_cursors',
    );
    expect(holds.every((h) => h.lease_until === null || Number(h.lease_until) <= Date.now())).toBe(true);

    // Handlers are registered before the store is open, as an integrator's code does: with them
    // registered later, the outbox could be dispatched (to no handler) before they exist.
    const second = createDocvReceiver({ store: database.url, dispatch: { concurrency: 4, retry: FAST_RETRY } });
    receiver = second;
    let later = 0;
    second.onAny(() => {
      later++;
    });
    await waitFor(() => later === 3, 'the remaining deliveries after restart');
    const store = await second.store;
    await waitFor(
      async () => (await store.listDeliveries({ limit: 10 })).items.every((d) => d.state === 'delivered'),
      'every delivery recorded as delivered',
    );
    expect(later).toBe(3);
  });
});

describe('dispatch: handlers registered late', () => {
  it('an event accepted before any handler exists waits for one instead of being marked delivered', async () => {
    const late = createDocvReceiver({
      store: `sqlite:${tempDir()}/late.db`,
      dispatch: { retry: { schedule: [30], maxAttempts: 100, jitter: 0 } },
    });
    receiver = late;
    await post(late, docvEvent());
    const store = await late.store;
    await waitFor(
      async () =>
        (await store.listDeliveries({ limit: 1, state: 'failed' })).items[0]?.lastError ===
        'no handler is registered yet',
      'a failed attempt',
    );
    const seen: string[] = [];
    late.onAny((event) => {
      seen.push(event.eventType);
    });
    await waitFor(() => seen.length === 1, 'the handler registered late');
    // The outcome is recorded just after the handler returns (records share a commit).
    await waitFor(
      async () => (await store.listDeliveries({ limit: 1 })).items[0]!.state === 'delivered',
      'the delivery recorded as delivered',
    );
    expect(seen).toEqual(['APP_OPENED']);
  });
});
