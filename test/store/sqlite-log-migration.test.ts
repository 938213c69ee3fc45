import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import type { ClaimedDelivery, Store } from '../../src/store/index.js';
import { migratedUpTo, sqliteDatabase, type TestDatabase } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent, tempDir } from '../helpers/receiver.js';

/**
 * Every earlier schema version of the SQLite store upgrades to the event log as the outbox
 * (version 7) without losing an event or a delivery that was still to be made: the rows of the
 * old outbox are delivered from their rows, the events accepted after the upgrade from the log,
 * and nothing twice.
 */
const DESTINATION = 'forward:sink.test/hook';
const LOG_VERSION = 7;

const stores: Store[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of databases.splice(0)) await d.drop();
});

/** Writes what a store of `version` held: three events, and (from version 2 on) their outbox rows. */
function seed(path: string, version: number): string[] {
  const db = new Database(path);
  try {
    const ids = ['evt_0000000000000000000000old1', 'evt_0000000000000000000000old2', 'evt_0000000000000000000000old3'];
    ids.forEach((eventId, i) => {
      const event = docvEvent({ docvTransactionId: `old-${i}`, eventTime: `2026-01-01T00:00:0${i}Z` });
      db.prepare(
        `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
           event_time_ms, customer_user_id, decision, received_at, raw_body, headers)
         VALUES (?, ?, NULL, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, '{}')`,
      ).run(
        eventId,
        `key-${i}`,
        `hash-${i}`,
        `old-${i}`,
        event.eventType,
        event.eventTime,
        Date.parse(event.eventTime as string),
        new Date().toISOString(),
        Buffer.from(JSON.stringify(event)),
      );
    });
    if (version >= 2) {
      // The first delivered, the second waiting, the third failed with a retry due now.
      const states = [
        ['delivered', 1],
        ['pending', 0],
        ['failed', 1],
      ] as const;
      states.forEach(([state, attempts], i) =>
        db
          .prepare(
            `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
               attempts, next_attempt_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, 'APP_OPENED', ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            `dlv_old${i}`,
            i + 1,
            ids[i],
            `old-${i}`,
            DESTINATION,
            state,
            attempts,
            Date.now() - 1000,
            new Date().toISOString(),
            new Date().toISOString(),
          ),
      );
    }
    if (version >= 6)
      db.prepare(
        `INSERT INTO destinations (name, kind, url, state, signed, url_credentials, created_at, updated_at)
         VALUES (?, 'forward', 'https://sink.test/hook', 'active', 0, 0, ?, ?)`,
      ).run(DESTINATION, new Date().toISOString(), new Date().toISOString());
    return ids;
  } finally {
    db.close();
  }
}

async function deliverAll(store: Store): Promise<ClaimedDelivery[]> {
  const delivered: ClaimedDelivery[] = [];
  for (let round = 0; round < 10; round++) {
    const claimed = await store.claimDeliveries({
      workerId: 'w1',
      limit: 50,
      leaseMs: 60_000,
      destinations: [DESTINATION],
      ordered: true,
    });
    if (claimed.length === 0) break;
    for (const d of claimed) {
      const ok = await store.completeDelivery({
        deliveryId: d.deliveryId,
        workerId: 'w1',
        outcome: 'delivered',
        status: 200,
        error: null,
        startedAt: new Date(),
        durationMs: 1,
      });
      expect(ok).toBe(true);
      delivered.push(d);
    }
  }
  return delivered;
}

describe('SQLite store: every earlier schema upgrades to the event log as the outbox', () => {
  const earlier = SQLITE_MIGRATIONS.map((m) => m.version).filter((v) => v < LOG_VERSION);

  it('covers every version before the log', () => {
    expect(earlier).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each(earlier)(
    'from version %i: no event lost, every waiting delivery made once, new events from the log',
    async (version) => {
      const database = sqliteDatabase(`${tempDir()}/v${version}.db`);
      databases.push(database);
      await migratedUpTo(database, version);
      const old = seed(database.path!, version);

      const store = await openStore(database.url);
      stores.push(store);
      // A process started with --forward-url keeps its destination (the upgrade made it for version 6).
      await store.addDestination(
        { name: DESTINATION, kind: 'forward', url: 'https://sink.test/hook', signed: false, urlCredentials: false },
        'keep',
      );
      for (const id of old) expect((await store.getEvent(id))?.eventId).toBe(id);
      const fresh = await store.ingest(ingestInput(docvEvent({ docvTransactionId: 'after-upgrade' })));
      expect(fresh.kind).toBe('accepted');

      const delivered = await deliverAll(store);
      // Version 1 had no outbox: its events were never deliveries. From 2 on, the waiting and the
      // failed rows are made, the delivered one is not made again.
      const expected = version >= 2 ? [old[1], old[2], fresh.eventId] : [fresh.eventId];
      expect(delivered.map((d) => d.eventId).sort()).toEqual([...expected].sort());
      if (version >= 2) expect(delivered.find((d) => d.eventId === old[1])?.deliveryId).toBe('dlv_old1');

      const listed = (await store.listDeliveries({ limit: 50 })).items;
      expect(listed.map((d) => [d.eventId, d.state]).sort()).toEqual(
        (version >= 2 ? [...old, fresh.eventId] : [fresh.eventId]).map((id) => [id, 'delivered']).sort(),
      );
      expect((await store.stats()).events).toBe(4);
    },
  );
});
