import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDocvReceiver, type DocvReceiver } from '../../src/index.js';
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
    // What it left behind, read from the database: the attempt recorded, the rest due, none leased.
    const left = await database.rows<{ state: string; attempts: number; lease_owner: string | null }>(
      'SELECT state, attempts, lease_owner FROM deliveries',
    );
    expect(left.map((d) => [d.state, d.attempts, d.lease_owner]).sort()).toEqual([
      ['delivered', 1, null],
      ['pending', 0, null],
      ['pending', 0, null],
      ['pending', 0, null],
    ]);

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
