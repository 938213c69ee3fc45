import { describe, expect, it } from 'vitest';
import { contentKey } from '../../src/contract/index.js';
import { SqliteStore, StoreUnavailableError, type IngestInput } from '../../src/store/index.js';
import { docvEvent, startTestReceiver, tempDir } from '../helpers/receiver.js';

function input(event: Record<string, unknown>, deliveryId?: string): IngestInput {
  const hash = contentKey(event);
  return {
    dedupeKey: deliveryId ? `id:${deliveryId}` : hash,
    deliveryId: deliveryId ?? null,
    contentHash: hash,
    event: event as never,
    rawBody: Buffer.from(JSON.stringify(event)),
    headers: { 'content-type': 'application/json' },
    receivedAt: new Date(),
  };
}

describe('SQLite store', () => {
  it('keeps everything across a restart of the receiver on the same file', async () => {
    const dir = tempDir();
    const first = await startTestReceiver({ dir });
    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'reject' });
    const { json } = await first.deliver(event);
    await first.close();

    const second = await startTestReceiver({ dir });
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
    const store = new SqliteStore({ path: `${tempDir()}/s.db`, onCommit: (n) => batches.push(n) });
    const events = Array.from({ length: 50 }, () => docvEvent());
    const outcomes = await Promise.all([...events.map((e) => store.ingest(input(e))), store.ingest(input(events[0]!))]);
    expect(batches).toEqual([51]);
    expect(outcomes.filter((o) => o.kind === 'accepted')).toHaveLength(50);
    // The duplicate in the same batch sees the row inserted earlier in that batch.
    expect(outcomes[50]).toEqual({ kind: 'duplicate', eventId: outcomes[0]!.eventId });
    await store.close();
  });

  it('flushes queued deliveries on close and refuses new ones after', async () => {
    const path = `${tempDir()}/c.db`;
    const store = new SqliteStore({ path });
    const pending = store.ingest(input(docvEvent()));
    await store.close();
    expect((await pending).kind).toBe('accepted');
    await expect(store.ingest(input(docvEvent()))).rejects.toBeInstanceOf(StoreUnavailableError);
    const reopened = new SqliteStore({ path });
    expect((await reopened.stats()).events).toBe(1);
    await reopened.close();
  });

  it('bounds the quarantine, dropping the oldest entries', async () => {
    const store = new SqliteStore({ path: `${tempDir()}/q.db`, quarantineCapacity: 3 });
    for (let i = 0; i < 5; i++) {
      await store.quarantine({ reason: `r${i}`, status: 422, detail: null, headers: {}, body: Buffer.from(`{"i":${i}}`), bodySize: 7, receivedAt: new Date() });
    }
    const page = await store.listQuarantine({ limit: 10 });
    expect(page.items.map((q) => q.reason)).toEqual(['r4', 'r3', 'r2']);
    await store.close();
  });

  it('applies migrations once and records them', async () => {
    const path = `${tempDir()}/m.db`;
    const fresh = new SqliteStore({ path, migrate: false });
    expect(await fresh.migrate()).toEqual([1, 2]);
    expect(await fresh.migrate()).toEqual([]);
    await fresh.close();
  });
});
