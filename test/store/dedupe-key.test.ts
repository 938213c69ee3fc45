import { afterEach, describe, expect, it } from 'vitest';
import { contentKey } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { openStore, type Store } from '../../src/store/index.js';
import { migratedUpTo, skipUnavailable, testBackends, writeRows, type TestDatabase } from '../helpers/backends.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

describe('dedupe keys', () => {
  it('a delivery id is the key as given; otherwise the event time (hex epoch ms) leads the content hash', () => {
    const event = docvEvent({ eventTime: '2026-03-01T10:00:00Z' }) as { eventTime: string };
    const hash = contentKey(event);
    expect(dedupeKeyOf(event, hash, 'msg_1')).toBe('id:msg_1');
    expect(dedupeKeyOf(event, hash, null)).toBe(`t:019ca8d72d00:${hash}`);
    // The same instant written another way is another payload, so another hash, same prefix.
    const sameInstant = { ...event, eventTime: '2026-03-01T11:00:00+01:00' };
    expect(dedupeKeyOf(sameInstant, contentKey(sameInstant), null)).toMatch(/^t:019ca8d72d00:sha256:/);
    expect(dedupeKeyOf(sameInstant, contentKey(sameInstant), null)).not.toBe(dedupeKeyOf(event, hash, null));
  });

  it('keys sort by event time, so new events land at the end of the unique index', () => {
    const times = [
      '2026-03-01T10:00:00Z',
      '2026-03-01T10:00:00.001Z',
      '2026-03-01T10:00:01Z',
      '2027-01-01T00:00:00Z',
      '2099-12-31T23:59:59Z',
    ];
    const keys = times.map((eventTime) => dedupeKeyOf({ eventTime }, 'sha256:ff', null));
    expect([...keys].sort()).toEqual(keys);
  });

  it('times a 12-digit prefix cannot hold keep the bare hash, as the migrations do', () => {
    expect(dedupeKeyOf({ eventTime: '1969-12-31T23:59:59Z' }, 'sha256:aa', null)).toBe('sha256:aa');
    expect(dedupeKeyOf({ eventTime: '1970-01-01T00:00:00Z' }, 'sha256:aa', null)).toBe('t:000000000000:sha256:aa');
  });
});

const backends = await testBackends();

/**
 * A row of `events` as a release before dialects wrote it: the columns of migrations 1 and 2 only
 * (this release's store writes more, which the old schema does not have yet).
 */
async function oldEventRow(
  db: TestDatabase,
  eventId: string,
  dedupeKey: string,
  deliveryId: string | null,
  event: Record<string, unknown>,
): Promise<{ eventId: string }> {
  await writeRows(
    db,
    `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time, event_time_ms,
       customer_user_id, decision, received_at, raw_body, headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    eventId,
    dedupeKey,
    deliveryId,
    contentKey(event),
    event.docvTransactionId,
    event.eventType,
    event.eventTime,
    Date.parse(event.eventTime as string),
    event.customerUserId ?? null,
    null,
    new Date().toISOString(),
    Buffer.from(JSON.stringify(event)),
    '{}',
  );
  return { eventId };
}

describe.each(backends)('dedupe key migration ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const databases: TestDatabase[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('a retry of an event stored under the old bare-hash key is still a duplicate after the upgrade', async () => {
    const db = await backend.create();
    databases.push(db);
    // The release before the time-prefixed keys: SQLite up to 2, PostgreSQL up to 3.
    const before = backend.name === 'postgres' ? 3 : 2;
    await migratedUpTo(db, before);
    const event = docvEvent({ eventTime: '2026-03-01T10:00:00Z' });
    const withId = docvEvent({ eventTime: '2026-03-01T10:00:05Z' });
    // Rows as the previous release wrote them: the bare content hash, and a delivery-id key.
    const first = await oldEventRow(db, 'evt_old_1', contentKey(event), null, event);
    const second = await oldEventRow(db, 'evt_old_2', 'id:msg_42', 'msg_42', withId);

    const store = await openStore(db.url, { migrate: false });
    stores.push(store);
    expect(await store.migrate()).toEqual(
      (backend.name === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS)
        .map((m) => m.version)
        .filter((v) => v > before),
    );
    const keys = await db.rows<{ dedupe_key: string }>('SELECT dedupe_key FROM events ORDER BY seq');
    expect(keys.map((k) => k.dedupe_key)).toEqual([`t:019ca8d72d00:${contentKey(event)}`, 'id:msg_42']);
    expect(await store.ingest(ingestInput(event))).toEqual({ kind: 'duplicate', eventId: first.eventId });
    expect(await store.ingest(ingestInput(withId, 'msg_42'))).toEqual({ kind: 'duplicate', eventId: second.eventId });
    expect(await db.rows('SELECT seq FROM events')).toHaveLength(2);
  });
});
