import { afterEach, describe, expect, it } from 'vitest';
import {
  openStore,
  StoreUnavailableError,
  type Store,
  type TransactionFilter,
  type TransactionSummary,
} from '../../src/store/index.js';
import { migratedUpTo, skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { docvEvent, startTestReceiver } from '../helpers/receiver.js';
import { ingestInput } from '../helpers/ingest-input.js';

const input = ingestInput;

const backends = await testBackends();

/** Every migration of a backend, in order: what a fresh database gets. */
function versions(backend: string): number[] {
  return (backend === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS).map((m) => m.version);
}

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
      expect(tx.json).toMatchObject({
        status: 'VERIFICATION_COMPLETED',
        decision: 'reject',
        events: [{ eventId: json.eventId }],
      });
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
      await store.quarantine({
        reason: `r${i}`,
        status: i % 2 ? 409 : 422,
        detail: null,
        headers: {},
        body: Buffer.from(`{"i":${i}}`),
        bodySize: 7,
        receivedAt: new Date(),
      });
    }
    const page = await store.listQuarantine({ limit: 10 });
    expect(page.items.map((q) => q.reason)).toEqual(['r4', 'r3', 'r2']);
    // Counted as listed (what was dropped is not counted), stopping at the cap.
    expect(await store.countQuarantine({}, 10)).toEqual({ count: 3, capped: false });
    expect(await store.countQuarantine({}, 3)).toEqual({ count: 3, capped: false });
    expect(await store.countQuarantine({}, 2)).toEqual({ count: 2, capped: true });
    expect(await store.countQuarantine({ status: 422 }, 10)).toEqual({ count: 2, capped: false });
    expect(await store.countQuarantine({ reason: 'r0' }, 10)).toEqual({ count: 0, capped: false });
    expect(await store.countQuarantine({ reprocessed: false, from: new Date(Date.now() - 60_000) }, 10)).toEqual({
      count: 3,
      capped: false,
    });
    expect(await store.countQuarantine({ reprocessed: true }, 10)).toEqual({ count: 0, capped: false });
  });

  it('applies migrations once and records them', async () => {
    const fresh = await openStore((await freshDatabase()).url, { migrate: false });
    stores.push(fresh);
    // PostgreSQL has a migration of its own: 3 replaces an index SQLite does not need.
    expect(await fresh.migrate()).toEqual(versions(backend.name));
    expect(await fresh.migrate()).toEqual([]);
  });

  it('reads a transaction with its events in event-time order, whatever order they arrived in', async () => {
    const store = await openStore((await freshDatabase()).url);
    stores.push(store);
    const id = 'tx-read-back';
    const arrivals = [
      { eventType: 'VERIFICATION_COMPLETED', decision: 'accept', eventTime: '2026-03-01T10:02:00Z' },
      { eventType: 'APP_OPENED', eventTime: '2026-03-01T10:00:00Z' },
      // Same instant as the next one, written with an offset: ordered by the instant, then by arrival.
      { eventType: 'DOCUMENTS_UPLOADED', eventTime: '2026-03-01T11:01:00+01:00' },
      { eventType: 'DOCUMENTS_UPLOADED', eventTime: '2026-03-01T10:01:00Z', extra: 'second upload' },
    ];
    const ids: string[] = [];
    for (const fields of arrivals)
      ids.push((await store.ingest(input(docvEvent({ docvTransactionId: id, ...fields })))).eventId);
    const view = (await store.getTransaction(id))!;
    expect(view).toMatchObject({
      docvTransactionId: id,
      status: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      eventCount: 4,
    });
    expect(view.events.map((e) => e.eventId)).toEqual([ids[1], ids[2], ids[3], ids[0]]);
    expect(view.events[0]).toMatchObject({
      eventType: 'APP_OPENED',
      eventTime: '2026-03-01T10:00:00Z',
      docvTransactionId: id,
    });
    for (const e of view.events) expect(new Date(e.receivedAt).toISOString()).toBe(e.receivedAt);
    expect(await store.getTransaction('tx-never-seen')).toBeNull();
  });

  it('an upgrade drops the deliveries-by-event index nothing reads, and the outbox works as before', async () => {
    const db = await freshDatabase();
    const before = backend.name === 'postgres' ? 4 : 3;
    await migratedUpTo(db, before);
    const indexes = async () =>
      (backend.name === 'postgres'
        ? await db.rows<{ name: string }>(
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'deliveries' AND schemaname = current_schema()",
          )
        : await db.rows<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries'",
          )
      ).map((r) => r.name);
    expect(await indexes()).toContain('deliveries_by_event');
    const store = await openStore(db.url, { migrate: false });
    stores.push(store);
    expect(await store.migrate()).toEqual(versions(backend.name).filter((v) => v > before));
    const left = await indexes();
    expect(left).not.toContain('deliveries_by_event');
    expect(left).toEqual(
      expect.arrayContaining(['deliveries_due', 'deliveries_in_order', 'deliveries_by_destination']),
    );
    // Outbox rows are still written, claimed and completed.
    store.configureOutbox({ destinations: ['sink'] });
    const { eventId } = await store.ingest(input(docvEvent({ docvTransactionId: 'tx-after-upgrade' })));
    const [claimed] = await store.claimDeliveries({
      workerId: 'w',
      limit: 5,
      leaseMs: 30_000,
      destinations: ['sink'],
      ordered: true,
    });
    expect(claimed).toMatchObject({ eventId, destination: 'sink' });
    expect(
      await store.completeDelivery({
        deliveryId: claimed!.deliveryId,
        workerId: 'w',
        outcome: 'delivered',
        status: 200,
        error: null,
        startedAt: new Date(),
        durationMs: 1,
      }),
    ).toBe(true);
    expect((await store.stats()).deliveries).toMatchObject({ delivered: 1, pending: 0 });
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
    expect(await store.ingest(input({ ...event, customerUserId: 'other' }, 'msg-1'))).toEqual({
      kind: 'conflict',
      eventId: a!.eventId,
    });
  });

  it('lists a transaction under its current status, decision and customer as its lifecycle moves, and under no earlier value', async () => {
    const store = await openStore((await freshDatabase()).url);
    stores.push(store);
    const id = 'tx-filters-follow';
    const listed = async (filter: Omit<TransactionFilter, 'limit'>) =>
      (await store.listTransactions({ ...filter, limit: 100 })).items.some((t) => t.docvTransactionId === id);
    const seenValues: Array<Pick<TransactionSummary, 'status' | 'decision' | 'customerUserId'>> = [];
    async function step(apply: () => Promise<unknown>) {
      await apply();
      const now = (await store.getTransaction(id))!;
      expect(await listed({ status: now.status })).toBe(true);
      if (now.decision) expect(await listed({ decision: now.decision })).toBe(true);
      if (now.customerUserId) expect(await listed({ customerUserId: now.customerUserId })).toBe(true);
      for (const earlier of seenValues) {
        if (earlier.status !== now.status) expect(await listed({ status: earlier.status })).toBe(false);
        if (earlier.decision && earlier.decision !== now.decision)
          expect(await listed({ decision: earlier.decision })).toBe(false);
        if (earlier.customerUserId && earlier.customerUserId !== now.customerUserId)
          expect(await listed({ customerUserId: earlier.customerUserId })).toBe(false);
      }
      seenValues.push({ status: now.status, decision: now.decision, customerUserId: now.customerUserId });
      return now;
    }
    const event = (fields: Record<string, unknown>) => ingestInput(docvEvent({ docvTransactionId: id, ...fields }));
    expect(
      await step(() =>
        store.ingest(event({ eventType: 'APP_OPENED', customerUserId: undefined, eventTime: '2026-03-01T10:00:00Z' })),
      ),
    ).toMatchObject({ customerUserId: null });
    // The customer is first named by a later event.
    expect(
      await step(() =>
        store.ingest(
          event({ eventType: 'DOCUMENTS_UPLOADED', customerUserId: 'cust-a', eventTime: '2026-03-01T10:01:00Z' }),
        ),
      ),
    ).toMatchObject({ customerUserId: 'cust-a' });
    expect(
      await step(() =>
        store.ingest(
          event({
            eventType: 'VERIFICATION_COMPLETED',
            decision: 'accept',
            customerUserId: 'cust-a',
            eventTime: '2026-03-01T10:02:00Z',
          }),
        ),
      ),
    ).toMatchObject({ decision: 'accept' });
    // A later completion with another decision: the decision moves (with an anomaly).
    expect(
      await step(() =>
        store.ingest(
          event({
            eventType: 'VERIFICATION_COMPLETED',
            decision: 'reject',
            customerUserId: 'cust-a',
            eventTime: '2026-03-01T10:03:00Z',
          }),
        ),
      ),
    ).toMatchObject({ decision: 'reject' });
    // Get A DocV Transaction outranks the events.
    const completed = (await store.getTransaction(id))!.events.find((e) => e.eventType === 'VERIFICATION_COMPLETED')!;
    expect(
      await step(() =>
        store.recordDecision(completed.eventId, id, {
          decision: 'resubmit',
          reasonCodes: ['I999'],
          fetchedAt: '2026-03-01T10:04:00Z',
          details: null,
        }),
      ),
    ).toMatchObject({ decision: 'resubmit' });
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
