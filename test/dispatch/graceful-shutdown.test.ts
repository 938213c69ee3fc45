import { afterEach, describe, expect, it } from 'vitest';
import { createDocvReceiver, type DocvReceiver } from '../../src/index.js';
import { docvEvent, tempDir } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const FAST_RETRY = { schedule: [20, 40, 80], maxAttempts: 4, jitter: 0 };

function post(receiver: DocvReceiver, event: Record<string, unknown>) {
  return receiver.handle({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    remoteAddress: '127.0.0.1',
    body: Buffer.from(JSON.stringify(event)),
  });
}

let receiver: DocvReceiver | undefined;
afterEach(async () => receiver?.close());

describe('dispatch: graceful shutdown', () => {
  it('finishes the attempt in flight, records it, and leaves the rest due for the next start', async () => {
    const path = `sqlite:${tempDir()}/graceful.db`;
    const first = createDocvReceiver({ store: path, dispatch: { concurrency: 1, retry: FAST_RETRY } });
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
    expect([started, finished]).toEqual([1, 1]);

    const second = createDocvReceiver({ store: path, dispatch: { concurrency: 4, retry: FAST_RETRY } });
    receiver = second;
    const store = await second.store;
    const page = await store.listDeliveries({ limit: 10 });
    expect(page.items.map((d) => d.state).sort()).toEqual(['delivered', 'pending', 'pending', 'pending']);
    let later = 0;
    second.onAny(() => {
      later++;
    });
    await waitFor(() => later === 3, 'the remaining deliveries after restart');
  });
});
