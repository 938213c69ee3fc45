import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { openStore, StoreUnavailableError } from '../../src/store/index.js';
import { SqliteStore, ThreadedSqliteStore } from '../../src/store/drivers.js';
import { startSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { sqliteScratch } from '../helpers/sqlite-scratch.js';

const input = ingestInput;

describe('SQLite store with its writes on a writer thread', () => {
  const scratch = sqliteScratch('docv-threaded-');
  const path = scratch.path;

  it('stores, deduplicates, claims and completes like the store it wraps; reads see what was reported done', async () => {
    const commits: number[] = [];
    const store = await ThreadedSqliteStore.open({
      path: path(),
      outbox: { destinations: ['forward:sink'] },
      onCommit: (n) => commits.push(n),
    });
    scratch.keep(store);
    const events = Array.from({ length: 50 }, (_, i) =>
      docvEvent({
        docvTransactionId: `tx-${i % 10}`,
        eventType: i < 10 ? 'APP_OPENED' : 'DOCUMENTS_UPLOADED',
        eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      }),
    );
    const outcomes = await Promise.all(events.map((e) => store.ingest(input(e))));
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
    // All 50 arrived in one turn of the loop: they crossed in one message and shared commits.
    expect(commits.reduce((a, b) => a + b, 0)).toBe(50);
    expect(commits.length).toBeLessThan(10);

    expect(await store.ingest(input(events[3]!))).toEqual({ kind: 'duplicate', eventId: outcomes[3]!.eventId });
    const tx = await store.getTransaction('tx-3');
    expect(tx?.eventCount).toBe(5);
    expect((await store.stats()).events).toBe(50);

    const claimed = await store.claimDeliveries({
      workerId: 'w1',
      limit: 5,
      leaseMs: 60_000,
      destinations: ['forward:sink'],
      ordered: true,
    });
    expect(claimed).toHaveLength(5);
    expect(claimed[0]!.event).toMatchObject({ dialect: 'asyncapi', payload: events[0] });
    expect(
      await store.completeDelivery({
        deliveryId: claimed[0]!.deliveryId,
        workerId: 'w1',
        outcome: 'delivered',
        status: 200,
        error: null,
        startedAt: new Date(),
        durationMs: 3,
      }),
    ).toBe(true);
    expect((await store.getDelivery(claimed[0]!.deliveryId))?.state).toBe('delivered');
  });

  it('close writes and syncs what is still queued; a reopened file has all of it', async () => {
    const file = path();
    const store = await ThreadedSqliteStore.open({ path: file });
    const writes = Array.from({ length: 200 }, (_, i) =>
      store.ingest(input(docvEvent({ docvTransactionId: `tx-close-${i}` }))),
    );
    await store.close();
    expect((await Promise.all(writes)).every((o) => o.kind === 'accepted')).toBe(true);
    await expect(store.ingest(input(docvEvent()))).rejects.toBeInstanceOf(StoreUnavailableError);

    const again = new SqliteStore({ path: file });
    scratch.keep(again);
    expect((await again.stats()).events).toBe(200);
  });

  it('a dead writer thread turns writes and readiness into store-unavailable (503), never a hang', async () => {
    const store = await ThreadedSqliteStore.open({ path: path() });
    scratch.keep(store);
    await store.ingest(input(docvEvent()));
    // What a crash of the thread looks like from outside.
    await (store as unknown as { writer: Worker }).writer.terminate();
    await expect(store.ingest(input(docvEvent()))).rejects.toThrow(/writer thread exited/);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('says why it cannot open, as the direct store does', async () => {
    const dir = scratch.dir();
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    await expect(openStore(`sqlite:${join(dir, 'not-a-dir', 'x.db')}`, { writerThread: true })).rejects.toThrow(
      /cannot open database .*not-a-dir/,
    );
  });

  it('openStore gives the threaded store only when asked, and never for :memory: or read-only use', async () => {
    const file = path();
    const threaded = await openStore(`sqlite:${file}`, { writerThread: true });
    scratch.keep(threaded);
    expect(threaded).toBeInstanceOf(ThreadedSqliteStore);
    const memory = await openStore('sqlite::memory:', { writerThread: true });
    scratch.keep(memory);
    expect(memory).toBeInstanceOf(SqliteStore);
  });

  it('a receiver with sqliteWriterThread on acknowledges, deduplicates, folds the lifecycle and forwards', async () => {
    const sink = await startSink();
    const r = await startTestReceiver({ sqliteWriterThread: true, dispatch: { forwardUrls: [sink.url] } });
    scratch.keep({ close: () => r.destroy().then(() => sink.close()) });
    expect(r.store).toBeInstanceOf(ThreadedSqliteStore);
    const id = `tx-threaded-${Date.now()}`;
    const opened = docvEvent({ docvTransactionId: id });
    const completed = docvEvent({
      docvTransactionId: id,
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'reject',
      eventTime: '2026-03-01T10:05:00Z',
    });
    expect((await r.deliver(opened)).json).toMatchObject({ status: 'accepted' });
    expect((await r.deliver(completed)).json).toMatchObject({ status: 'accepted' });
    expect((await r.deliver(opened)).json).toMatchObject({ status: 'duplicate' });
    expect((await r.admin(`/v1/transactions/${id}`)).json).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: 'reject',
      eventCount: 2,
    });
    await waitFor(() => sink.requests.length === 2, 'both events forwarded');
  });
});
