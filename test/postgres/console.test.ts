import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startLifecycle, lifecycleEventOf } from '../../src/lifecycle/index.js';
import { canonicalOfFlat, type DocvEvent } from '../../src/contract/index.js';
import { PostgresStore } from '../../src/store/drivers.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { migratedUpTo, POSTGRES_TEST_URL, postgresBackend, writeRows, type TestDatabase } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * What only PostgreSQL has to get right for the operations console (issue 19): the plans of its
 * queries on tables the planner knows are big, migration 9 on rows an older version wrote, and
 * duplicate counting by several instances at once.
 */
const postgres = await postgresBackend();

interface Captured {
  text: string;
  values: unknown[];
}

/** Every statement `store` sends while `fn` runs (the pool's query, spied on). */
async function statementsOf(store: PostgresStore, fn: () => Promise<unknown>): Promise<Captured[]> {
  const pool = (store as unknown as { pool: pg.Pool }).pool;
  const original = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const captured: Captured[] = [];
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
    const [first, second] = args;
    if (typeof first === 'string') captured.push({ text: first, values: (second as unknown[]) ?? [] });
    else {
      const q = first as { text: string; values?: unknown[] };
      captured.push({ text: q.text, values: q.values ?? (second as unknown[]) ?? [] });
    }
    return original(...args);
  };
  try {
    await fn();
  } finally {
    (pool as unknown as { query: unknown }).query = original;
  }
  return captured;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe.skipIf(postgres.skipReason !== null)('PostgreSQL: the operations console', () => {
  const databases: TestDatabase[] = [];
  const stores: PostgresStore[] = [];
  async function fresh(): Promise<TestDatabase> {
    const db = await postgres.create();
    databases.push(db);
    return db;
  }
  async function open(url: string, options: { migrate?: boolean } = {}): Promise<PostgresStore> {
    const store = await PostgresStore.open({ url, ...options });
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('each console query reads through an index: none needs a sequential scan (planned as the store runs them)', async () => {
    const db = await fresh();
    const store = await open(db.url);
    const schema = new URL(db.url).searchParams.get('schema')!;
    // 60,000 events of 20,000 transactions, a few with anomalies and decisions, written by SQL (the
    // store would take minutes); then ANALYZE, so the plans are those of a big store.
    await writeRows(
      db,
      `INSERT INTO events (event_id, dedupe_key, content_hash, docv_transaction_id, event_type, event_time, event_time_ms,
         customer_user_id, received_at, raw_body, headers)
       SELECT 'evt_' || lpad(to_hex(g), 26, '0'), 'k' || g, 'h', 'tx-' || (g % 20000), 'APP_OPENED', '2026-03-01T10:00:00Z', 0,
         'cust-' || (g % 5000), timestamptz '2026-03-01T00:00:00Z' + g * interval '1 second', '\\x7b7d', '{}'
       FROM generate_series(1, 60000) g`,
    );
    await writeRows(
      db,
      `INSERT INTO transactions (docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at,
         first_received_at, last_received_at, event_count, anomaly_count, state, dialects, environment)
       SELECT 'tx-' || g, CASE WHEN g % 3 = 0 THEN 'VERIFICATION_COMPLETED' ELSE 'APP_OPENED' END,
         CASE WHEN g % 3 = 0 THEN 'accept' END, 'cust-' || (g % 5000), 'a', 'a', 'a',
         to_char((timestamptz '2026-03-01T00:00:00Z' + g * interval '3 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         3, CASE WHEN g % 500 = 0 THEN 1 ELSE 0 END,
         CASE WHEN g % 500 = 0 THEN '{"anomalies":[{"code":"conflicting_decisions"}]}' ELSE '{"anomalies":[]}' END::json,
         ARRAY['asyncapi'], 'Sandbox'
       FROM generate_series(0, 19999) g`,
    );
    await writeRows(
      db,
      `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
         next_attempt_at, created_at, updated_at)
       SELECT 'dlv_' || g, g, 'evt_' || lpad(to_hex(g), 26, '0'), 'tx-' || (g % 20000), 'APP_OPENED',
         CASE WHEN g % 2 = 0 THEN 'forward:a' ELSE 'forward:b' END, 'failed', 0, now(), now()
       FROM generate_series(1, 60000, 10) g`,
    );
    await writeRows(
      db,
      `INSERT INTO delivery_attempts (delivery_id, destination, attempt, worker, started_at, duration_ms, outcome, status, error)
       SELECT 'dlv_' || g, CASE WHEN g % 2 = 0 THEN 'forward:a' ELSE 'forward:b' END, 1, 'w',
         timestamptz '2026-03-01T00:00:00Z' + g * interval '1 second', 5, 'failed', 500, 'boom'
       FROM generate_series(1, 60000, 10) g`,
    );
    await writeRows(
      db,
      `INSERT INTO destination_cursors (destination, from_seq, seq, updated_at) VALUES ('forward:a', 0, 30000, now())`,
    );
    await writeRows(
      db,
      `INSERT INTO cursor_marks (destination, seq, at)
       SELECT 'forward:a', g, timestamptz '2026-03-01T00:00:00Z' + g * interval '1 second' FROM generate_series(1, 30000, 100) g`,
    );
    for (const table of ['events', 'transactions', 'deliveries', 'delivery_attempts', 'cursor_marks'])
      await writeRows(db, `ANALYZE ${table}`);

    const at = (s: number) => new Date(Date.parse('2026-03-01T00:00:00Z') + s * 1000);
    const first = await store.listTransactions({ limit: 50 });
    const queries: Array<[string, () => Promise<unknown>]> = [
      ['list', () => store.listTransactions({ limit: 50 })],
      ['next page', () => store.listTransactions({ limit: 50, cursor: first.nextCursor! })],
      ['status', () => store.listTransactions({ limit: 50, status: 'VERIFICATION_COMPLETED' })],
      ['decision', () => store.listTransactions({ limit: 50, decision: 'accept' })],
      ['anomalous', () => store.listTransactions({ limit: 50, anomaly: 'any' })],
      ['anomaly code', () => store.listTransactions({ limit: 50, anomaly: 'conflicting_decisions' })],
      ['customer', () => store.listTransactions({ limit: 50, customerUserId: 'cust-42' })],
      ['from/to', () => store.listTransactions({ limit: 50, from: at(3000), to: at(6000) })],
      ['search', () => store.listTransactions({ limit: 50, search: 'tx-1999' })],
      ['search event', () => store.listTransactions({ limit: 50, search: 'evt_0000000000000000000000000a' })],
      ['search customer', () => store.listTransactions({ limit: 50, search: 'cust-49' })],
      ['count', () => store.countTransactions({ status: 'APP_OPENED' }, 1000)],
      ['receipts', () => store.receiptCounts(at(0), at(60000), 60_000)],
      [
        'deliveries by event',
        () => store.listDeliveries({ limit: 50, eventId: 'evt_' + (11).toString(16).padStart(26, '0') }),
      ],
      ['deliveries by time', () => store.listDeliveries({ limit: 50, from: at(1000), to: at(2000) })],
      ['health', () => store.destinationHealth(at(20000))],
      ['counts by destination', () => store.deliveryCountsByDestination()],
    ];
    // As the store's connections run (createPool): sequential scans priced out, so one in a plan
    // is one that no index could replace.
    const client = new pg.Client({
      connectionString: POSTGRES_TEST_URL,
      options: `-c search_path=${schema} -c enable_seqscan=off -c jit=off`,
    });
    await client.connect();
    try {
      for (const [what, run] of queries) {
        const statements = await statementsOf(store, run);
        expect(statements.length, what).toBeGreaterThan(0);
        for (const s of statements) {
          if (/^\s*SELECT \* FROM destination_cursors/.test(s.text)) continue;
          const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
            `EXPLAIN (FORMAT JSON) ${s.text}`,
            s.values,
          );
          const nodes = nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan);
          const scans = nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
          expect(
            scans.filter((t) =>
              ['events', 'transactions', 'deliveries', 'delivery_attempts', 'cursor_marks'].includes(t!),
            ),
            `${what}: ${s.text}`,
          ).toEqual([]);
        }
      }
    } finally {
      await client.end();
    }
    // And the answers are right on this data.
    expect((await store.listTransactions({ limit: 50, anomaly: 'conflicting_decisions' })).items).toHaveLength(40);
    expect((await store.countTransactions({ decision: 'accept' }, 100_000)).count).toBe(6667);
    expect(await store.countTransactions({}, 100)).toEqual({ count: 100, capped: true });
    const buckets = await store.receiptCounts(at(1), at(60001), 6_000_000);
    expect(buckets.reduce((n, b) => n + b.events, 0)).toBe(60000);
    expect(buckets.map((b) => b.events)).toEqual(Array.from({ length: 10 }, () => 6000));
  }, 120_000);

  it('migration 9 upgrades rows version 8 wrote: dialects and environment from the lifecycle, attempts by destination, duplicates 0', async () => {
    const db = await fresh();
    await migratedUpTo(db, 8);
    const received = '2026-03-01T10:00:00.000Z';
    const lifecycle = (id: string, extra: Record<string, unknown>, drop?: 'dialects') => {
      const event = canonicalOfFlat(docvEvent({ docvTransactionId: id, ...extra }) as unknown as DocvEvent);
      const state = startLifecycle(id, lifecycleEventOf(event, received));
      if (drop) delete state.seen.dialects;
      return state;
    };
    const states = [
      { ...lifecycle('tx-old', {}, 'dialects'), environment: undefined },
      lifecycle('tx-riskos', {}),
      // A customer id with U+0000: the JSON operators refuse the whole document.
      lifecycle('tx-nul', { customerUserId: 'a\u0000b' }),
    ];
    states[1]!.seen.dialects = ['asyncapi', 'riskos'];
    states[1]!.environment = 'Production';
    states[2]!.environment = 'Sandbox';
    for (const s of states)
      await writeRows(
        db,
        `INSERT INTO transactions (docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at,
           first_received_at, last_received_at, event_count, anomaly_count, state)
         VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 1, 0, ?)`,
        s.docvTransactionId,
        s.status,
        s.customerUserId?.replaceAll('\u0000', '\uFFFD') ?? null,
        received,
        received,
        received,
        received,
        JSON.stringify(s),
      );
    await writeRows(
      db,
      `INSERT INTO events (event_id, dedupe_key, content_hash, docv_transaction_id, event_type, event_time, event_time_ms,
         received_at, raw_body, headers) VALUES ('evt_1', 'k1', 'h', 'tx-old', 'APP_OPENED', ?, 0, ?, '\\x7b7d', '{}')`,
      received,
      received,
    );
    await writeRows(
      db,
      `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
         next_attempt_at, created_at, updated_at) VALUES ('dlv_1', 1, 'evt_1', 'tx-old', 'APP_OPENED', 'forward:x', 'failed', 0, now(), now())`,
    );
    await writeRows(
      db,
      `INSERT INTO delivery_attempts (delivery_id, attempt, worker, started_at, duration_ms, outcome, status, error)
       VALUES ('dlv_1', 1, 'w', now(), 3, 'failed', 502, 'bad gateway')`,
    );

    const store = await open(db.url, { migrate: false });
    // 9 is this file's; the later ones (encryption, retention) come with it.
    expect((await store.migrate())[0]).toBe(9);
    expect(
      await db.rows('SELECT docv_transaction_id, dialects::text AS d, environment FROM transactions ORDER BY seq'),
    ).toEqual([
      { docv_transaction_id: 'tx-old', d: '{asyncapi}', environment: null },
      { docv_transaction_id: 'tx-riskos', d: '{asyncapi,riskos}', environment: 'Production' },
      { docv_transaction_id: 'tx-nul', d: '{asyncapi}', environment: 'Sandbox' },
    ]);
    const ids = async (filter: Parameters<PostgresStore['listTransactions']>[0]) =>
      (await store.listTransactions(filter)).items.map((t) => t.docvTransactionId).sort();
    expect(await ids({ limit: 10, dialect: 'riskos' })).toEqual(['tx-riskos']);
    expect(await ids({ limit: 10, dialect: 'asyncapi' })).toEqual(['tx-nul', 'tx-old', 'tx-riskos']);
    expect(await ids({ limit: 10, environment: 'Sandbox' })).toEqual(['tx-nul']);
    expect((await store.getEvent('evt_1'))!).toMatchObject({ duplicates: 0, lastDuplicateAt: null });
    expect(await db.rows('SELECT destination FROM delivery_attempts')).toEqual([{ destination: 'forward:x' }]);
    const health = await store.destinationHealth(new Date(Date.now() - 60_000));
    expect(health.find((h) => h.destination === 'forward:x')).toMatchObject({
      attempts: 1,
      failures: 1,
      lastError: 'bad gateway',
    });
    // Written by this version from now on: the new columns of a new transaction and its update.
    const id = 'tx-new';
    await store.ingest(ingestInput(docvEvent({ docvTransactionId: id })));
    await store.ingest(ingestInput(docvEvent({ docvTransactionId: id, eventType: 'DOCUMENTS_UPLOADED' })));
    expect(await db.rows('SELECT dialects::text AS d FROM transactions WHERE docv_transaction_id = ?', id)).toEqual([
      { d: '{asyncapi}' },
    ]);
  });

  it('a customer id longer than the index keeps is found exactly and by a prefix of 256 characters', async () => {
    const db = await fresh();
    const store = await open(db.url);
    const long = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
    const event = docvEvent({ customerUserId: long });
    expect(await store.ingest(ingestInput(event))).toMatchObject({ kind: 'accepted' });
    const ids = async (filter: Parameters<PostgresStore['listTransactions']>[0]) =>
      (await store.listTransactions(filter)).items.map((t) => t.docvTransactionId);
    expect(await ids({ limit: 10, customerUserId: long })).toEqual([event.docvTransactionId]);
    expect(await ids({ limit: 10, customerUserId: long.slice(0, 2999) })).toEqual([]);
    expect(await ids({ limit: 10, search: long.slice(0, 256) })).toEqual([event.docvTransactionId]);
    expect(await ids({ limit: 10, search: long.slice(1, 257) })).toEqual([]);
  });

  it('duplicates ingested by two instances at once are all counted, and no duplicate leaves a gap in seq', async () => {
    const db = await fresh();
    const a = await open(db.url);
    const b = await open(db.url, { migrate: false });
    const event = docvEvent();
    const original = ingestInput(event, 'msg-1');
    expect(await a.ingest(original)).toMatchObject({ kind: 'accepted' });
    // One after the other: none takes a seq.
    for (let i = 0; i < 5; i++)
      expect(await b.ingest({ ...original, receivedAt: new Date() })).toMatchObject({ kind: 'duplicate' });
    const next = await a.ingest(ingestInput(docvEvent()));
    const rows = await db.rows<{ seq: number }>('SELECT seq FROM events WHERE event_id = ?', next.eventId);
    expect(rows).toEqual([{ seq: 2 }]);
    // 40 at once through two pools, some in one batch together.
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).ingest({ ...original, receivedAt: new Date() })),
    );
    expect(outcomes.every((o) => o.kind === 'duplicate')).toBe(true);
    const stored = (await a.getEvent(outcomes[0]!.eventId))!;
    expect(stored.duplicates).toBe(45);
    const [summary] = (await a.getTransaction(event.docvTransactionId as string))!.events;
    expect(summary!.duplicates).toBe(45);
    expect(
      (await a.listEvents({ limit: 10, docvTransactionId: event.docvTransactionId as string })).items[0],
    ).toMatchObject({
      duplicates: 45,
    });
  });

  it('migrations stay append-only: numbered 1 to the last, each once, 9 the console', () => {
    expect(POSTGRES_MIGRATIONS.map((m) => m.version)).toEqual(POSTGRES_MIGRATIONS.map((_, i) => i + 1));
    expect(POSTGRES_MIGRATIONS[8]!.name).toMatch(/console/);
  });
});
