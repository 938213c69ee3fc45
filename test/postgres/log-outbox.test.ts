import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import type { PostgresStore } from '../../src/store/drivers.js';
import type { NewDestination } from '../../src/store/destinations.js';
import { logDeliveryId } from '../../src/store/log-outbox.js';
import { ingestBatch } from '../../src/store/postgres/ingest.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import type { ClaimedDelivery, OutboxConfig } from '../../src/store/types.js';
import { migratedUpTo, POSTGRES_TEST_URL, postgresBackend, writeRows, type TestDatabase } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The event log is the outbox, on PostgreSQL: what only several connections, several instances
 * and an older schema can get wrong (store/postgres/log-order.ts, log-reader.ts, migration 8).
 */
const postgres = await postgresBackend();

const FORWARD: NewDestination = {
  name: 'forward:sink.test/in',
  kind: 'forward',
  url: 'https://sink.test/in',
  signed: false,
  urlCredentials: false,
};

const NO_OUTBOX: OutboxConfig = { destinations: [], fetchDecisions: false, decisionWaitMs: 30_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function schemaOf(db: TestDatabase): string {
  return new URL(db.url).searchParams.get('schema')!;
}

/** A connection of its own on the test schema, as another instance's would be. */
async function rawClient(db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, options: `-c search_path=${schemaOf(db)}` });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

function delivered(d: ClaimedDelivery, workerId: string) {
  return {
    deliveryId: d.deliveryId,
    workerId,
    outcome: 'delivered' as const,
    status: 200,
    error: null,
    startedAt: new Date(),
    durationMs: 1,
  };
}

/** Claims and delivers until nothing is left for the worker; answers the deliveries in claim order. */
async function drain(
  store: Store,
  options: { workerId?: string; ordered?: boolean; destination?: string } = {},
): Promise<ClaimedDelivery[]> {
  const workerId = options.workerId ?? 'w1';
  const all: ClaimedDelivery[] = [];
  for (let round = 0; round < 20; round++) {
    const claimed = await store.claimDeliveries({
      workerId,
      limit: 50,
      leaseMs: 60_000,
      destinations: [options.destination ?? FORWARD.name],
      ordered: options.ordered ?? true,
    });
    if (claimed.length === 0) return all;
    for (const d of claimed) expect(await store.completeDelivery(delivered(d, workerId))).toBe(true);
    all.push(...claimed);
  }
  throw new Error('still claiming after 20 rounds');
}

describe.skipIf(postgres.skipReason !== null)('PostgreSQL: the event log is the outbox', () => {
  const databases: TestDatabase[] = [];
  const stores: Store[] = [];
  const clients: pg.Client[] = [];
  async function fresh(): Promise<TestDatabase> {
    const db = await postgres.create();
    databases.push(db);
    return db;
  }
  async function open(url: string, options: Parameters<typeof openStore>[1] = {}): Promise<Store> {
    const store = await openStore(url, options);
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('events commit in seq order: a claim between two ingests that would commit out of order skips neither', async () => {
    const db = await fresh();
    const store = await open(db.url);
    await store.addDestination(FORWARD, 'keep');
    const other = await rawClient(db);
    clients.push(other);
    // Another receiver's ingest: its event has its seq, and its transaction has not committed yet.
    await other.query('BEGIN');
    const [first] = await ingestBatch(other as unknown as pg.PoolClient, [ingestInput(docvEvent())], NO_OUTBOX);
    expect(first!.kind).toBe('accepted');
    let secondCommitted = false;
    const second = store.ingest(ingestInput(docvEvent())).then((outcome) => {
      secondCommitted = true;
      return outcome;
    });
    await sleep(300);
    // The later ingest waits for the earlier one's commit before its events get their seqs: were it
    // to commit first (a higher seq visible while a lower one is not), a reader passing it would
    // move the cursor past the lower one for ever.
    expect(secondCommitted).toBe(false);
    const between = await drain(store);
    await other.query('COMMIT');
    const { eventId: secondId } = await second;
    const after = await drain(store);
    expect([...between, ...after].map((d) => d.eventId).sort()).toEqual([first!.eventId, secondId].sort());
    const [cursor] = await db.rows<{ seq: number }>('SELECT seq FROM destination_cursors');
    const [head] = await db.rows<{ seq: number }>('SELECT MAX(seq) AS seq FROM events');
    expect(cursor!.seq).toBe(head!.seq);
  });

  it.each([2, 3, 4, 5, 6, 7])(
    'migrates a database at version %i: its pending deliveries are delivered from their rows, once, in order with the new events',
    async (version) => {
      const db = await fresh();
      await migratedUpTo(db, version);
      // What a release at that version left: four events of two transactions, one delivered, two
      // pending, one failed (due now, waiting behind the pending one of its transaction).
      const txA = `tx-a-${version}`;
      const txB = `tx-b-${version}`;
      const old = [
        { id: 'evt_0000000000000000000000old1', tx: txA, type: 'APP_OPENED', state: 'delivered', attempts: 1 },
        { id: 'evt_0000000000000000000000old2', tx: txA, type: 'DOCUMENTS_UPLOADED', state: 'pending', attempts: 0 },
        { id: 'evt_0000000000000000000000old3', tx: txB, type: 'APP_OPENED', state: 'pending', attempts: 0 },
        { id: 'evt_0000000000000000000000old4', tx: txB, type: 'DOCUMENTS_UPLOADED', state: 'failed', attempts: 1 },
      ];
      for (const [i, e] of old.entries()) {
        const event = docvEvent({ docvTransactionId: e.tx, eventType: e.type, eventTime: `2026-03-01T10:0${i}:00Z` });
        await writeRows(
          db,
          `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
             event_time_ms, customer_user_id, decision, received_at, raw_body, headers)
           VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 'user-1', NULL, '2026-03-01T10:00:01Z', ?, '{}')`,
          e.id,
          `id:${e.id}`,
          `sha256:${e.id}`,
          e.tx,
          e.type,
          event.eventTime,
          Date.parse(event.eventTime as string),
          Buffer.from(JSON.stringify(event)),
        );
        await writeRows(
          db,
          `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
             attempts, next_attempt_at, created_at, updated_at, delivered_at)
           SELECT ?, seq, event_id, docv_transaction_id, event_type, ?, ?, ?, ?, received_at, received_at,
             CASE WHEN ? = 'delivered' THEN received_at END
           FROM events WHERE event_id = ?`,
          `dlv_old${i}`,
          FORWARD.name,
          e.state,
          e.attempts,
          Date.now() - 1_000,
          e.state,
          e.id,
        );
      }
      if (version >= 7)
        await writeRows(
          db,
          `INSERT INTO destinations (name, kind, url, state) VALUES (?, 'forward', ?, 'active')`,
          FORWARD.name,
          FORWARD.url,
        );

      const store = await open(db.url, { migrate: false });
      expect(await store.migrate()).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version).filter((v) => v > version));
      // Before version 7 the forward was a flag; the receiver adds it at start, reading from here on.
      expect((await store.addDestination(FORWARD, 'keep')).outcome).toBe(version >= 7 ? 'unchanged' : 'created');
      const cursors = await db.rows<{ from_seq: number; seq: number }>('SELECT from_seq, seq FROM destination_cursors');
      expect(cursors).toEqual([{ from_seq: 4, seq: 4 }]);
      // A new event of the first transaction waits behind that transaction's pending row.
      const fresh5 = (await store.ingest(ingestInput(docvEvent({ docvTransactionId: txA, eventType: 'APP_CLOSED' }))))
        .eventId;

      const first = await drain(store);
      const ids = first.map((d) => d.deliveryId);
      // Each pending delivery once, under its old id; the delivered one not again; the new one from the log.
      expect([...ids].sort()).toEqual(['dlv_old1', 'dlv_old2', 'dlv_old3', logDeliveryId(fresh5, FORWARD.name)].sort());
      // Per transaction, in order: old1 (A) before the new event (A); old2 (B) before old3 (B).
      expect(ids.indexOf('dlv_old1')).toBeLessThan(ids.indexOf(logDeliveryId(fresh5, FORWARD.name)));
      expect(ids.indexOf('dlv_old2')).toBeLessThan(ids.indexOf('dlv_old3'));
      expect(first.find((d) => d.deliveryId === 'dlv_old1')!.eventId).toBe(old[1]!.id);
      expect((await store.stats()).deliveries).toEqual({ pending: 0, failed: 0, delivered: 5, dead: 0 });
      const listed = await store.listDeliveries({ limit: 10 });
      expect(listed.items.map((d) => [d.eventId, d.state])).toEqual([
        [fresh5, 'delivered'],
        ...[...old].reverse().map((e) => [e.id, 'delivered']),
      ]);
    },
  );

  it('LISTEN/NOTIFY wakes another instance on each commit of new events, and again after its connection is cut', async () => {
    const db = await fresh();
    const receiver = await open(db.url);
    const worker = (await open(db.url, { migrate: false })) as PostgresStore;
    let wakes = 0;
    const stop = worker.onNewEvents(() => wakes++);
    // Opened at the first call; it calls once when it is listening (for what came before).
    await waitFor(() => wakes >= 1, 'the listener to start');
    const before = wakes;
    await receiver.ingest(ingestInput(docvEvent()));
    await waitFor(() => wakes > before, 'a wake-up for the new event');
    // A duplicate commits nothing new: no wake-up.
    const event = docvEvent();
    await receiver.ingest(ingestInput(event));
    await sleep(200);
    const settled = wakes;
    await receiver.ingest(ingestInput(event));
    await sleep(300);
    expect(wakes).toBe(settled);

    // The server drops the listening connection: it comes back, and wakes its listeners when it does.
    const channel = (await db.rows<{ c: string }>(`SELECT 'docv_log_' || md5(?) AS c`, schemaOf(db)))[0]!.c;
    const killed = await db.rows<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query = ?`,
      `LISTEN "${channel}"`,
    );
    expect(killed).toEqual([{ ok: true }]);
    await waitFor(() => wakes > settled, 'the listener to come back', 10_000);
    await waitFor(
      async () => (await db.rows(`SELECT 1 FROM pg_stat_activity WHERE query = ?`, `LISTEN "${channel}"`)).length === 1,
      'the listener to listen again',
    );
    const back = wakes;
    await receiver.ingest(ingestInput(docvEvent()));
    await waitFor(() => wakes > back, 'a wake-up after the reconnection');
    stop();
    const stopped = wakes;
    await receiver.ingest(ingestInput(docvEvent()));
    await sleep(300);
    expect(wakes).toBe(stopped);
  });

  it('one worker reads a log at a time; one that lets go hands it over at the committed cursor, and its late records do not count', async () => {
    const db = await fresh();
    const a = await open(db.url);
    const b = await open(db.url, { migrate: false });
    await a.addDestination(FORWARD, 'keep');
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await a.ingest(ingestInput(docvEvent()))).eventId);
    const claim = (store: Store, workerId: string, limit: number) =>
      store.claimDeliveries({ workerId, limit, leaseMs: 60_000, destinations: [FORWARD.name], ordered: true });
    const firstTwo = await claim(a, 'wa', 2);
    expect(firstTwo.map((d) => d.eventId)).toEqual(ids.slice(0, 2));
    // Held by wa: wb gets nothing, and is told when the hold runs out.
    expect(await claim(b, 'wb', 10)).toEqual([]);
    const due = await b.nextDueAt([FORWARD.name], 'wb');
    expect(due).toBeGreaterThan(Date.now() + 5_000);
    expect(await a.nextDueAt([FORWARD.name], 'wa')).toBeLessThanOrEqual(Date.now());
    // The second is delivered, the first still in flight: the cursor stays before the first.
    expect(await a.completeDelivery(delivered(firstTwo[1]!, 'wa'))).toBe(true);
    await a.releaseDeliveries!('wa');
    // wb takes over from the committed cursor, before the first: both again (at least once), then the rest.
    const taken = await drain(b, { workerId: 'wb' });
    expect(taken.map((d) => d.eventId)).toEqual(ids);
    expect(await a.completeDelivery(delivered(firstTwo[0]!, 'wa'))).toBe(false);
    expect(await b.nextDueAt([FORWARD.name], 'wb')).toBeNull();
    expect((await a.stats()).deliveries).toMatchObject({ delivered: 6, pending: 0 });
  });

  it('a record that fails is forgotten with what was in flight: the next claim reads again from the committed cursor', async () => {
    const db = await fresh();
    const store = await open(db.url);
    await store.addDestination(FORWARD, 'keep');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await store.ingest(ingestInput(docvEvent()))).eventId);
    // The cursor cannot move for now (a stand-in for a statement that fails: a lost connection, a full disk).
    await db.write(
      `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`,
    );
    await db.write(
      'CREATE TRIGGER refuse BEFORE UPDATE ON destination_cursors FOR EACH ROW WHEN (NEW.seq <> OLD.seq) EXECUTE FUNCTION refuse()',
    );
    const claim = () =>
      store.claimDeliveries({
        workerId: 'w1',
        limit: 10,
        leaseMs: 60_000,
        destinations: [FORWARD.name],
        ordered: true,
      });
    const first = await claim();
    expect(first.map((d) => d.eventId)).toEqual(ids);
    await expect(store.completeDelivery(delivered(first[0]!, 'w1'))).rejects.toThrow(/refused/);
    await db.write('DROP TRIGGER refuse ON destination_cursors');
    // Nothing of the first reading counts: all three again, and this time they are recorded.
    const again = await claim();
    expect(again.map((d) => d.eventId)).toEqual(ids);
    for (const d of again) expect(await store.completeDelivery(delivered(d, 'w1'))).toBe(true);
    expect(await claim()).toEqual([]);
  });

  it("an event waits behind its transaction's failed attempt while that failure is still being recorded", async () => {
    const db = await fresh();
    const store = await open(db.url);
    await store.addDestination(FORWARD, 'keep');
    const tx = 'tx-recording';
    const opened = (await store.ingest(ingestInput(docvEvent({ docvTransactionId: tx, eventType: 'APP_OPENED' }))))
      .eventId;
    const uploaded = (
      await store.ingest(
        ingestInput(
          docvEvent({ docvTransactionId: tx, eventType: 'DOCUMENTS_UPLOADED', eventTime: '2026-03-01T10:01:00Z' }),
        ),
      )
    ).eventId;
    const claim = () =>
      store.claimDeliveries({
        workerId: 'w1',
        limit: 10,
        leaseMs: 60_000,
        destinations: [FORWARD.name],
        ordered: true,
      });
    const [first, ...others] = await claim();
    expect([first!.eventId, others]).toEqual([opened, []]);
    // The record of the failure waits on the cursor's row (held here), so it is not committed
    // while the next claim reads the log: the claim must still hold the upload back.
    const blocker = await rawClient(db);
    clients.push(blocker);
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM destination_cursors FOR UPDATE');
    const recording = store.completeDelivery({
      ...delivered(first!, 'w1'),
      outcome: 'failed',
      status: 500,
      error: 'down',
      nextAttemptAt: Date.now() + 60_000,
    });
    await sleep(200);
    const claiming = claim();
    await sleep(200);
    await blocker.query('COMMIT');
    expect(await recording).toBe(true);
    expect(await claiming).toEqual([]);
    const rows = await db.rows<{ event_id: string; state: string }>(
      'SELECT event_id, state FROM deliveries ORDER BY event_seq',
    );
    expect(rows).toEqual([
      { event_id: opened, state: 'failed' },
      { event_id: uploaded, state: 'pending' },
    ]);
  });

  it('a failed attempt gets its row and its record; retry and replay give delivered log deliveries a row under their log id', async () => {
    const db = await fresh();
    const store = await open(db.url);
    await store.addDestination(FORWARD, 'keep');
    const tx = 'tx-retry';
    const ids = [];
    for (const eventType of ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'APP_CLOSED'])
      ids.push((await store.ingest(ingestInput(docvEvent({ docvTransactionId: tx, eventType })))).eventId);
    const [first] = await store.claimDeliveries({
      workerId: 'w1',
      limit: 10,
      leaseMs: 60_000,
      destinations: [FORWARD.name],
      ordered: true,
    });
    // Ordered: the transaction's later events wait while its first is in flight.
    expect(first!.eventId).toBe(ids[0]);
    expect(
      await store.completeDelivery({
        ...delivered(first!, 'w1'),
        outcome: 'failed',
        status: 503,
        error: 'unavailable',
        nextAttemptAt: Date.now() - 1,
      }),
    ).toBe(true);
    expect(await store.getDelivery(first!.deliveryId)).toMatchObject({
      state: 'failed',
      attempts: 1,
      lastStatus: 503,
      history: [{ attempt: 1, outcome: 'failed', status: 503 }],
    });
    // The retry first, then the others (which waited behind it with rows of their own).
    const rest = await drain(store);
    expect(rest.map((d) => d.eventId)).toEqual(ids);
    expect(rest.map((d) => d.deliveryId)).toEqual(ids.map((id) => logDeliveryId(id, FORWARD.name)));

    const more = (await store.ingest(ingestInput(docvEvent()))).eventId;
    await drain(store);
    const moreId = logDeliveryId(more, FORWARD.name);
    expect(await store.getDelivery(moreId)).toMatchObject({ state: 'delivered', attempts: 1, history: [] });
    expect(await store.retryDelivery(moreId)).toMatchObject({ deliveryId: moreId, state: 'pending', attempts: 0 });
    expect((await drain(store)).map((d) => d.deliveryId)).toEqual([moreId]);
    // Replay: every delivered delivery of the destination again, log ones given rows under their ids.
    expect(await store.replay({ destination: FORWARD.name })).toBe(4);
    expect((await drain(store)).map((d) => d.deliveryId).sort()).toEqual(
      [...ids, more].map((id) => logDeliveryId(id, FORWARD.name)).sort(),
    );
  });
});
