import { afterEach, describe, expect, it } from 'vitest';
import { createDocvReceiver } from '../../src/receiver/index.js';
import { startWorker } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { parseRetentionPolicy } from '../../src/store/retention-policy.js';
import { skipUnavailable, testBackends, type Backend, type TestDatabase } from '../helpers/backends.js';
import { startSink } from '../helpers/http-sink.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The retention job runs wherever the store is written from, not only in `serve`: a worker beside
 * `serve --no-dispatch` and the library receiver take the same policy and remove what is past it.
 */
const backends = await testBackends();
const DAY = 86_400_000;

/** An event a receiver stored long ago, whose raw body the policy raw=30d removes. */
async function storeOldEvent(database: TestDatabase): Promise<string> {
  const store = await openStore(database.url);
  try {
    const stored = await store.ingest({
      ...ingestInput(docvEvent({ docvTransactionId: `tx-old-${Math.random().toString(36).slice(2, 8)}` })),
      receivedAt: new Date(Date.now() - 60 * DAY),
    });
    return stored.eventId;
  } finally {
    await store.close();
  }
}

describe.each(backends)('retention outside serve ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('a worker started with a policy removes the expired raw bodies', async () => {
    // A worker needs somewhere to deliver; a destination added now owes nothing stored before it.
    const target = await startSink();
    cleanup.push(() => target.close());
    const database = await backend.create();
    cleanup.push(() => database.drop());
    const eventId = await storeOldEvent(database);

    const worker = await startWorker({
      databaseUrl: database.url,
      logLevel: 'silent',
      dispatch: { forwardUrls: [target.url], pollMs: 50 },
      retention: parseRetentionPolicy('raw=30d'),
      retentionIntervalMs: 100,
    });
    cleanup.push(() => worker.close());
    const event = await waitFor(async () => {
      const e = await worker.store.getEvent(eventId);
      return e?.removedByRetention ? e : null;
    }, 'the raw body removed by retention');
    expect(event).toMatchObject({ eventId, rawBody: '', payload: {} });
    expect(event.removedByRetention?.raw).toMatch(/^\d{4}-/);
  });

  it('createDocvReceiver started with a policy removes them too, and stops the job on close', async () => {
    const database = await backend.create();
    cleanup.push(() => database.drop());
    const eventId = await storeOldEvent(database);
    const receiver = createDocvReceiver({
      databaseUrl: database.url,
      retention: parseRetentionPolicy('raw=30d'),
      retentionIntervalMs: 100,
    });
    cleanup.push(() => receiver.close());
    await receiver.ready();
    const store = await receiver.store;
    const event = await waitFor(async () => {
      const e = await store.getEvent(eventId);
      return e?.removedByRetention ? e : null;
    }, 'the raw body removed by retention');
    expect(event).toMatchObject({ eventId, rawBody: '' });
    await receiver.close();
  });

  it('without a policy the library receiver keeps everything', async () => {
    const database = await backend.create();
    cleanup.push(() => database.drop());
    const eventId = await storeOldEvent(database);
    const receiver = createDocvReceiver({ databaseUrl: database.url });
    cleanup.push(() => receiver.close());
    await receiver.ready();
    await new Promise((r) => setTimeout(r, 300));
    const event = await (await receiver.store).getEvent(eventId);
    expect(event?.removedByRetention).toBeUndefined();
    expect(event?.rawBody).not.toBe('');
  });
});
