import { afterEach, describe, expect, it } from 'vitest';
import { openStore, StoreUnavailableError, type Store } from '../../src/store/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { docvEvent, startTestReceiver } from '../helpers/receiver.js';
import { ingestInput } from '../helpers/ingest-input.js';

const input = ingestInput;

const backends = await testBackends();

describe.each(backends)('store ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const databases: TestDatabase[] = [];
  const stores: Store[] = [];
  async function freshDatabase(): Promise<TestDatabase> {
    const db = await backend.create();
    databases.push(db);
    return db;
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('keeps everything across a restart of the receiver on the same database', async () => {
    const database = await freshDatabase();
    const first = await startTestReceiver({ database });
    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'reject' });
    const { json } = await first.deliver(event);
    await first.close();

    const second = await startTestReceiver({ database });
    try {
      const tx = await second.admin(`/v1/transactions/${event.docvTransactionId}`);
      expect(tx.json).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: 'reject', events: [{ eventId: json.eventId }] });
      const again = await second.deliver(event);
      expect(again.json).toEqual({ status: 'duplicate', eventId: json.eventId });
    } finally {
      await second.destroy();
    }
  });

  it('commits deliveries queued in the same tick together, each with its own outcome', async () => {
    const batches: number[] = [];
    const store = await openStore((await freshDatabase()).url, { onCommit: (n) => batches.push(n) });
    stores.push(store);
    const events = Array.from({ length: 50 }, () => docvEvent());
    const outcomes = await Promise.all([...events.map((e) => store.ingest(input(e))), store.ingest(input(events[0]!))]);
    expect(batches).toEqual([51]);
    expect(outcomes.filter((o) => o.kind === 'accepted')).toHaveLength(50);
    // The duplicate in the same batch sees the row inserted earlier in that batch.
    expect(outcomes[50]).toEqual({ kind: 'duplicate', eventId: outcomes[0]!.eventId });
    expect((await store.stats()).events).toBe(50);
  });

  it('flushes queued deliveries on close and refuses new ones after', async () => {
    const { url } = await freshDatabase();
    const store = await openStore(url);
    const pending = store.ingest(input(docvEvent()));
    await store.close();
    expect((await pending).kind).toBe('accepted');
    await expect(store.ingest(input(docvEvent()))).rejects.toBeInstanceOf(StoreUnavailableError);
    const reopened = await openStore(url);
    stores.push(reopened);
    expect((await reopened.stats()).events).toBe(1);
  });

  it('bounds the quarantine, dropping the oldest entries', async () => {
    const store = await openStore((await freshDatabase()).url, { quarantineCapacity: 3 });
    stores.push(store);
    for (let i = 0; i < 5; i++) {
      await store.quarantine({ reason: `r${i}`, status: 422, detail: null, headers: {}, body: Buffer.from(`{"i":${i}}`), bodySize: 7, receivedAt: new Date() });
    }
    const page = await store.listQuarantine({ limit: 10 });
    expect(page.items.map((q) => q.reason)).toEqual(['r4', 'r3', 'r2']);
  });

  it('applies migrations once and records them', async () => {
    const fresh = await openStore((await freshDatabase()).url, { migrate: false });
    stores.push(fresh);
    // PostgreSQL has a migration of its own: 3 replaces an index SQLite does not need.
    expect(await fresh.migrate()).toEqual(backend.name === 'postgres' ? [1, 2, 3, 4] : [1, 2, 3]);
    expect(await fresh.migrate()).toEqual([]);
  });

  it('one delivery id reused with another body is a conflict, in one batch or across batches', async () => {
    const store = await openStore((await freshDatabase()).url);
    stores.push(store);
    const event = docvEvent();
    const [a, b, c] = await Promise.all([
      store.ingest(input(event, 'msg-1')),
      store.ingest(input({ ...event, eventType: 'DOCUMENTS_UPLOADED' }, 'msg-1')),
      store.ingest(input(event, 'msg-1')),
    ]);
    expect(a!.kind).toBe('accepted');
    expect(b).toEqual({ kind: 'conflict', eventId: a!.eventId });
    expect(c).toEqual({ kind: 'duplicate', eventId: a!.eventId });
    expect(await store.ingest(input({ ...event, customerUserId: 'other' }, 'msg-1'))).toEqual({ kind: 'conflict', eventId: a!.eventId });
  });

  it('stores an event whose eventTime is a leap second (RFC 3339 allows :60), once', async () => {
    // SQLite used to bind Date.parse's NaN for it: a NOT NULL failure, so a 503 the sender retried for ever.
    const store = await openStore((await freshDatabase()).url);
    stores.push(store);
    const event = docvEvent({ eventTime: '2026-06-30T23:59:60Z' });
    const outcome = await store.ingest(input(event));
    expect(outcome.kind).toBe('accepted');
    expect(await store.ingest(input(event))).toEqual({ kind: 'duplicate', eventId: outcome.eventId });
  });
});
