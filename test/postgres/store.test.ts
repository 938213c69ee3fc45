import { afterEach, describe, expect, it } from 'vitest';
import type { DocvEventType } from '../../src/contract/index.js';
import { openStore, StoreUnavailableError, type Store } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/drivers.js';
import { createPool, parsePostgresUrl } from '../../src/store/postgres/connection.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { migratedUpTo, postgresBackend, type TestDatabase } from '../helpers/backends.js';
import { freePort } from '../helpers/cli.js';
import { docvEvent } from '../helpers/receiver.js';
import { ingestInput } from '../helpers/ingest-input.js';

/** What only PostgreSQL has to get right: several processes (here: pools) on one database. */
const postgres = await postgresBackend();

const input = ingestInput;

describe('PostgreSQL connection settings', () => {
  it('reads schema, pool size and timeouts from the URL and leaves the rest to pg', () => {
    const s = parsePostgresUrl(
      'postgres://u:p@db.internal:6432/app?schema=docv&pool_size=4&connect_timeout=3&statement_timeout=2500&sslmode=require',
    );
    expect(s).toMatchObject({ schema: 'docv', poolSize: 4, connectTimeoutMs: 3000, statementTimeoutMs: 2500 });
    expect(s.connectionString).toBe('postgres://u:p@db.internal:6432/app?sslmode=require');
    expect(() => parsePostgresUrl('postgres://h/db?schema=a;drop')).toThrow(/plain identifier/);
    expect(() => parsePostgresUrl('postgres://h/db?pool_size=0')).toThrow(/positive integer/);
  });

  it('an unreachable server is StoreUnavailableError at open, quickly, without the password', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await openStore(`postgres://u:secret@127.0.0.1:${port}/db?connect_timeout=2`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/cannot reach PostgreSQL .*ECONNREFUSED/);
    expect((err as Error).message).not.toContain('secret');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe.skipIf(postgres.skipReason !== null)('PostgreSQL store: several instances on one database', () => {
  const databases: TestDatabase[] = [];
  const stores: Store[] = [];
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
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('runs every connection with sequential scans priced out, JIT off and generic plans (see createPool)', async () => {
    const { url } = await fresh();
    const pool = createPool(parsePostgresUrl(url));
    try {
      const settings = await pool.query<{ jit: string; seq: string; plans: string }>(
        "SELECT current_setting('jit') AS jit, current_setting('enable_seqscan') AS seq, current_setting('plan_cache_mode') AS plans",
      );
      expect(settings.rows[0]).toEqual({ jit: 'off', seq: 'off', plans: 'force_generic_plan' });
    } finally {
      await pool.end();
    }
  });

  it('migrates safely from several instances at once: one applies, the others find nothing to do', async () => {
    const { url } = await fresh();
    const instances = Array.from({ length: 4 }, () => new PostgresStore({ url, migrate: false }));
    try {
      const applied = await Promise.all(instances.map((s) => s.migrate()));
      expect(applied.filter((a) => a.length > 0)).toEqual([POSTGRES_MIGRATIONS.map((m) => m.version)]);
    } finally {
      await Promise.all(instances.map((s) => s.close()));
    }
  });

  it('migration 3 upgrades a database made by versions 1 and 2: a customerUserId too long for a btree entry is stored and found', async () => {
    const db = await fresh();
    // What an earlier version left: migrations 1 and 2, with the plain index on customer_user_id.
    await migratedUpTo(db, 2);
    const store = await open(db.url, { migrate: false });
    expect(await store.migrate()).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version).filter((v) => v > 2));
    const [index] = await db.rows<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'transactions_by_customer'",
    );
    expect(index!.indexdef).toContain('"left"(customer_user_id, 256) COLLATE "C"');
    // 3,000 varied 3-byte characters: about 9 kB, well past what one btree entry holds even compressed.
    const customerUserId = Array.from({ length: 3000 }, (_, i) =>
      String.fromCharCode(0x4e00 + ((i * 7919) % 20_000)),
    ).join('');
    const event = docvEvent({ customerUserId });
    expect(await store.ingest(input(event))).toMatchObject({ kind: 'accepted' });
    const page = await store.listTransactions({ customerUserId, limit: 10 });
    expect(page.items.map((t) => t.docvTransactionId)).toEqual([event.docvTransactionId]);
    expect((await store.listTransactions({ customerUserId: customerUserId.slice(1), limit: 10 })).items).toEqual([]);
  });

  it('read-only open of an empty schema says there is nothing to read', async () => {
    const { url } = await fresh();
    await expect(openStore(url, { readonly: true })).rejects.toThrow(/has no docv-webhooks tables/);
  });

  it('the same deliveries ingested through two pools at once become one event each', async () => {
    const { url } = await fresh();
    const a = await open(url);
    const b = await open(url, { migrate: false });
    for (const s of [a, b]) s.configureOutbox({ destinations: ['forward:test'] });
    const inputs = Array.from({ length: 300 }, (_, i) => (i % 2 ? input(docvEvent(), `msg-${i}`) : input(docvEvent())));
    const [fromA, fromB] = await Promise.all([
      Promise.all(inputs.map((x) => a.ingest(x))),
      Promise.all(inputs.map((x) => b.ingest(x))),
    ]);
    inputs.forEach((_, i) => {
      const pair = [fromA[i]!, fromB[i]!];
      expect(pair.map((o) => o.kind).sort()).toEqual(['accepted', 'duplicate']);
      expect(pair[0]!.eventId).toBe(pair[1]!.eventId);
    });
    const stats = await a.stats();
    expect(stats.events).toBe(300);
    expect(stats.deliveries.pending).toBe(300);
  });

  it('two instances folding events of the same transactions lose no update', async () => {
    const { url } = await fresh();
    const a = await open(url);
    const b = await open(url, { migrate: false });
    const types: DocvEventType[] = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'SESSION_EXPIRED', 'VERIFICATION_COMPLETED'];
    const jobs: Array<Promise<unknown>> = [];
    for (let t = 0; t < 60; t++) {
      types.forEach((eventType, i) => {
        const event = docvEvent({
          docvTransactionId: `race-${t}`,
          eventType,
          eventTime: `2026-03-01T10:0${i}:00Z`,
          ...(i === 3 ? { decision: 'accept' } : {}),
        });
        // Alternate the instances so every transaction is written by both at once.
        jobs.push((i % 2 ? a : b).ingest(input(event)));
      });
    }
    await Promise.all(jobs);
    for (let t = 0; t < 60; t += 7) {
      const tx = await a.getTransaction(`race-${t}`);
      expect(tx).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: 'accept', eventCount: 4 });
      expect(tx!.anomalies.map((x) => x.code)).toEqual(['completed_and_expired']);
    }
    const counts = await a.listTransactions({ limit: 100 });
    expect(counts.items.every((tx) => tx.eventCount === 4)).toBe(true);
  });

  it('workers on two pools never hold the same delivery; a lost lease cannot record an attempt', async () => {
    // The log of a destination is read by one worker at a time (its cursor's hold), so here one
    // worker gets all 120; a store records only what it handed out (its readings are in memory).
    const { url } = await fresh();
    const a = await open(url);
    const b = await open(url, { migrate: false });
    a.configureOutbox({ destinations: ['forward:test'] });
    await Promise.all(Array.from({ length: 120 }, () => a.ingest(input(docvEvent()))));
    const claim = (s: Store, workerId: string) =>
      s.claimDeliveries({ workerId, limit: 7, leaseMs: 60_000, destinations: ['forward:test'], ordered: true });
    const seen = new Map<string, string>();
    for (let round = 0; round < 20; round++) {
      const [x, y] = await Promise.all([claim(a, 'wa'), claim(b, 'wb')]);
      for (const d of x) seen.set(d.deliveryId, seen.has(d.deliveryId) ? 'twice' : 'wa');
      for (const d of y) seen.set(d.deliveryId, seen.has(d.deliveryId) ? 'twice' : 'wb');
      if (x.length === 0 && y.length === 0) break;
    }
    expect(seen.size).toBe(120);
    expect([...seen.values()].filter((v) => v === 'twice')).toEqual([]);
    const [id, owner] = [...seen.entries()][0]!;
    const result = {
      deliveryId: id,
      outcome: 'delivered' as const,
      status: 200,
      error: null,
      startedAt: new Date(),
      durationMs: 1,
    };
    const [mine, theirs] = owner === 'wa' ? [a, b] : [b, a];
    expect(await theirs.completeDelivery({ ...result, workerId: owner })).toBe(false);
    expect(await mine.completeDelivery({ ...result, workerId: owner === 'wa' ? 'wb' : 'wa' })).toBe(false);
    expect(await mine.completeDelivery({ ...result, workerId: owner })).toBe(true);
    // Delivered by its first attempt: the cursor says so, no row and no attempt record (log-outbox.ts).
    expect(await a.getDelivery(id)).toMatchObject({ state: 'delivered', attempts: 1, history: [] });
  });

  it('attempts recorded in the same turn share a statement, each still checked against its own lease', async () => {
    const store = await open((await fresh()).url);
    store.configureOutbox({ destinations: ['forward:test'] });
    await Promise.all(Array.from({ length: 3 }, () => store.ingest(input(docvEvent()))));
    const claimed = await store.claimDeliveries({
      workerId: 'w1',
      limit: 3,
      leaseMs: 60_000,
      destinations: ['forward:test'],
      ordered: false,
    });
    expect(claimed).toHaveLength(3);
    const [d1, d2, d3] = claimed.map((d) => d.deliveryId) as [string, string, string];
    const result = { outcome: 'delivered' as const, status: 200, error: null, startedAt: new Date(), durationMs: 1 };
    // Same turn of the event loop: one call of completeMany, except the repeated d1, which waits
    // for the next one and finds its lease already released by the first.
    const recorded = await Promise.all([
      store.completeDelivery({ ...result, deliveryId: d1, workerId: 'w1' }),
      store.completeDelivery({ ...result, deliveryId: d2, workerId: 'not-the-owner' }),
      store.completeDelivery({
        ...result,
        deliveryId: d3,
        workerId: 'w1',
        outcome: 'failed',
        status: 500,
        error: 'boom',
        nextAttemptAt: Date.now() + 60_000,
      }),
      store.completeDelivery({ ...result, deliveryId: d1, workerId: 'w1' }),
    ]);
    expect(recorded).toEqual([true, false, true, false]);
    // Delivered from the log: no row, no attempt record; the failed one has both.
    expect(await store.getDelivery(d1)).toMatchObject({ state: 'delivered', attempts: 1, history: [] });
    expect(await store.getDelivery(d2)).toMatchObject({ state: 'pending', attempts: 0, history: [] });
    expect(await store.getDelivery(d3)).toMatchObject({
      state: 'failed',
      attempts: 1,
      lastError: 'boom',
      history: [{ attempt: 1, outcome: 'failed', status: 500 }],
    });
  });

  it('keeps a transaction id PostgreSQL text cannot hold (U+0000) readable', async () => {
    const store = await open((await fresh()).url);
    const event = docvEvent({ docvTransactionId: 'nul\u0000inside' });
    const outcome = await store.ingest(input(event));
    expect(outcome.kind).toBe('accepted');
    expect(await store.getTransaction('nul\u0000inside')).toMatchObject({
      docvTransactionId: 'nul\u0000inside',
      eventCount: 1,
    });
    expect((await store.getEvent(outcome.eventId))!.payload.docvTransactionId).toBe('nul\u0000inside');
    expect(await store.ingest(input(event))).toEqual({ kind: 'duplicate', eventId: outcome.eventId });
  });
});
