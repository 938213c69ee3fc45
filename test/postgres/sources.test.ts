import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { AmbiguousTransactionError, type IngestInput } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/drivers.js';
import { TRANSACTIONS_OF_ID } from '../../src/store/postgres/postgres-store.js';
import { transactionKeyRange } from '../../src/store/rows.js';
import { migratedUpTo, POSTGRES_TEST_URL, postgresBackend, writeRows, type TestDatabase } from '../helpers/backends.js';
import { uniqueId } from '../helpers/canonical-events.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * What only PostgreSQL has to get right about sources (issue 20; the behaviour both stores share
 * is test/store/sources.test.ts): migration 12 rewrites no table, and an id is looked up under
 * every source by probes of the key indexes (source-keys.ts), which are right whatever the
 * database's collation, where a range of keys is not.
 */
const postgres = await postgresBackend();

/** What the ingest pipeline of `source` hands the store (the dedupe key scoped as dedupe-key.ts does). */
function underSource(input: IngestInput, source: string): IngestInput {
  return { ...input, dedupeKey: dedupeKeyOf(input.event, input.contentHash, input.webhookId, source), source };
}

interface Captured {
  name: string | undefined;
  text: string;
  values: unknown[];
}

/** Every statement `store` sends on its pool while `fn` runs. */
async function statementsOf(store: PostgresStore, fn: () => Promise<unknown>): Promise<Captured[]> {
  const pool = (store as unknown as { pool: pg.Pool }).pool;
  const original = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const captured: Captured[] = [];
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
    const [first, second] = args;
    if (typeof first === 'string') captured.push({ name: undefined, text: first, values: (second as unknown[]) ?? [] });
    else {
      const q = first as { name?: string; text: string; values?: unknown[] };
      captured.push({ name: q.name, text: q.text, values: q.values ?? (second as unknown[]) ?? [] });
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

async function planOf(client: pg.Client, text: string, values: unknown[]): Promise<PlanNode[]> {
  const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
    `EXPLAIN (FORMAT JSON) ${text}`,
    values,
  );
  return nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan);
}

describe.skipIf(postgres.skipReason !== null)('PostgreSQL: sources', () => {
  const databases: TestDatabase[] = [];
  const stores: PostgresStore[] = [];
  const cleanups: Array<() => Promise<void>> = [];
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
    for (const c of cleanups.splice(0)) await c();
  });

  it('migration 12 rewrites no table: old rows read `default` from the catalog, and `sources` starts empty', async () => {
    const db = await fresh();
    await migratedUpTo(db, 11);
    const tx = uniqueId('old');
    await writeRows(
      db,
      `INSERT INTO events (event_id, dedupe_key, content_hash, docv_transaction_id, event_type, event_time, event_time_ms,
         received_at, raw_body, headers)
       SELECT 'evt_old' || g, 'k' || g, 'h', ?, 'APP_OPENED', '2026-03-01T10:00:00Z', 0, now(), '\\x7b7d', '{}'
       FROM generate_series(1, 1000) g`,
      tx,
    );
    await writeRows(
      db,
      `INSERT INTO quarantine (quarantine_id, received_at, reason, status, detail, headers, body, body_size)
       VALUES ('qrn_old', now(), 'invalid', 422, 'null', '{}', '\\x7b7d', 2)`,
    );
    const tables = ['events', 'transactions', 'quarantine', 'destinations'];
    const fileOf = async () =>
      (
        await db.rows<{ t: string; f: string }>(
          `SELECT t, pg_relation_filenode(t::regclass)::text AS f FROM unnest(?::text[]) AS t`,
          tables,
        )
      ).map((r) => `${r.t}:${r.f}`);
    const before = await fileOf();

    const store = await open(db.url, { migrate: false });
    expect(await store.migrate()).toEqual([12]);
    // Same files: a column with a constant default is a catalog change, not a rewrite of millions of rows.
    expect(await fileOf()).toEqual(before);
    expect(await db.rows('SELECT DISTINCT source FROM events')).toEqual([{ source: 'default' }]);
    expect(await db.rows('SELECT source FROM quarantine')).toEqual([{ source: 'default' }]);
    expect(await db.rows('SELECT name FROM sources')).toEqual([]);
    expect((await store.listEvents({ limit: 2, docvTransactionId: tx })).items.map((e) => e.source)).toEqual([
      'default',
      'default',
    ]);

    // The first event of another source names it in `sources`; the default never is.
    expect((await store.ingest(underSource(ingestInput(docvEvent({ docvTransactionId: tx })), 'prod'))).kind).toBe(
      'accepted',
    );
    expect((await store.ingest(ingestInput(docvEvent({ docvTransactionId: tx })))).kind).toBe('accepted');
    expect(await db.rows('SELECT name FROM sources')).toEqual([{ name: 'prod' }]);
  });

  it('each process names a source in `sources` with its first batch only; another instance finds its transactions by id', async () => {
    const db = await fresh();
    const store = await open(db.url);
    const tx = uniqueId('reg');
    // Ingest runs on a client of the pool (a transaction): its statements are the clients'.
    const inserts = async (fn: () => Promise<unknown>) => {
      const spy = vi.spyOn(pg.Client.prototype, 'query');
      try {
        await fn();
        return spy.mock.calls
          .map(([first]) => first as { name?: string; values?: unknown[] })
          .filter((q) => typeof q === 'object' && q.name?.startsWith('docv_insert_events'))
          .map((q) => q.values![17]);
      } finally {
        spy.mockRestore();
      }
    };
    const ingest = (source: string, fields: Record<string, unknown> = {}) =>
      store.ingest(underSource(ingestInput(docvEvent({ docvTransactionId: tx, ...fields })), source));

    expect(await inserts(() => ingest('default'))).toEqual([[]]);
    expect(await inserts(() => ingest('sandbox'))).toEqual([['sandbox']]);
    // Named once it committed: the next batches of it carry nothing more.
    expect(await inserts(() => ingest('sandbox', { eventType: 'DOCUMENTS_UPLOADED' }))).toEqual([[]]);
    // Together (one batch or two, as the group commit has it): only the new one is named.
    expect(
      (
        await inserts(() =>
          Promise.all([ingest('prod'), ingest('sandbox', { eventType: 'VERIFICATION_COMPLETED', decision: 'accept' })]),
        )
      ).flat(),
    ).toEqual(['prod']);
    expect(await db.rows('SELECT name FROM sources ORDER BY name')).toEqual([{ name: 'prod' }, { name: 'sandbox' }]);

    // A process that never ingested a source reads its transactions through the shared names.
    const reader = await open(db.url);
    const err = await reader.getTransaction(tx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousTransactionError);
    expect((err as AmbiguousTransactionError).sources).toEqual(['default', 'prod', 'sandbox']);
    expect(await reader.getTransaction(tx, 'sandbox')).toMatchObject({ source: 'sandbox', eventCount: 3 });
    expect((await reader.listEvents({ limit: 10, docvTransactionId: tx })).items.map((e) => e.source).sort()).toEqual([
      'default',
      'prod',
      'sandbox',
      'sandbox',
      'sandbox',
    ]);
  });

  it('an id under every source is found by probes of the key indexes, never a scan (planned as the store runs them)', async () => {
    const db = await fresh();
    const store = await open(db.url);
    const schema = new URL(db.url).searchParams.get('schema')!;
    // 20,000 transactions of the default source, and 2,000 of their ids again under two others,
    // each with three events; tombstones and delivery rows of some. Written by SQL, then ANALYZE.
    await writeRows(db, `INSERT INTO sources (name) VALUES ('sandbox'), ('prod')`);
    const keyOf = (g: string, source: string) =>
      `'tx-' || ${g} || CASE WHEN ${source} = 'default' THEN '' ELSE chr(31) || ${source} END`;
    await writeRows(
      db,
      `WITH t AS (
         SELECT g, s FROM generate_series(0, 19999) g, unnest(ARRAY['default', 'sandbox', 'prod']) s
         WHERE s = 'default' OR g % 10 = 0
       )
       INSERT INTO transactions (docv_transaction_id, source, status, customer_user_id, first_event_at, last_event_at,
         first_received_at, last_received_at, event_count, anomaly_count, state, dialects, environment)
       SELECT ${keyOf('g', 's')}, s, 'APP_OPENED', 'cust-' || (g % 5000), 'a', 'a', 'a',
         to_char((timestamptz '2026-03-01T00:00:00Z' + g * interval '3 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         3, 0, json_build_object('docvTransactionId', 'tx-' || g, 'anomalies', json_build_array()),
         ARRAY['asyncapi'], 'Sandbox'
       FROM t`,
    );
    await writeRows(
      db,
      `WITH t AS (
         SELECT g, s, row_number() OVER (ORDER BY g, s) AS n FROM generate_series(0, 59999) g,
           unnest(ARRAY['default', 'sandbox', 'prod']) s
         WHERE s = 'default' OR (g % 20000) % 10 = 0
       )
       INSERT INTO events (event_id, dedupe_key, content_hash, docv_transaction_id, source, event_type, event_time,
         event_time_ms, received_at, raw_body, headers)
       SELECT 'evt_' || lpad(to_hex(n), 26, '0'), 'k' || n, 'h', ${keyOf('(g % 20000)', 's')}, s, 'APP_OPENED',
         '2026-03-01T10:00:00Z', 0, timestamptz '2026-03-01T00:00:00Z' + n * interval '1 second', '\\x7b7d', '{}'
       FROM t`,
    );
    await writeRows(
      db,
      `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
         next_attempt_at, created_at, updated_at)
       SELECT 'dlv_' || seq, seq, event_id, docv_transaction_id, event_type, 'forward:a', 'failed', 0, now(), now()
       FROM events WHERE seq % 10 = 0`,
    );
    await writeRows(
      db,
      `INSERT INTO tombstones (docv_transaction_id, removed_at, reason)
       SELECT 'gone-' || g || CASE WHEN g % 2 = 0 THEN '' ELSE chr(31) || 'prod' END, now(), 'retention'
       FROM generate_series(0, 19999) g`,
    );
    await writeRows(
      db,
      `INSERT INTO destination_cursors (destination, from_seq, seq, updated_at) VALUES ('forward:a', 0, 30000, now())`,
    );
    for (const table of ['events', 'transactions', 'deliveries', 'tombstones', 'sources'])
      await writeRows(db, `ANALYZE ${table}`);

    const queries: Array<[string, () => Promise<unknown>]> = [
      ['transaction, any source', () => store.getTransaction('tx-4200').catch(() => null)],
      ['transaction, one source', () => store.getTransaction('tx-4200', 'prod')],
      ['events of an id', () => store.listEvents({ limit: 50, docvTransactionId: 'tx-4200' })],
      [
        'events of an id, one source',
        () => store.listEvents({ limit: 50, docvTransactionId: 'tx-4200', source: 'prod' }),
      ],
      ['tombstone, any source', () => store.getTombstone('gone-4201')],
      ['search by id', () => store.listTransactions({ limit: 50, search: 'tx-4200' })],
      ['transactions of a source', () => store.listTransactions({ limit: 50, source: 'prod' })],
      ['count of a source', () => store.countTransactions({ source: 'prod' }, 1000)],
      ['events of a source', () => store.listEvents({ limit: 50, source: 'prod' })],
      ['deliveries of an id', () => store.listDeliveries({ limit: 50, docvTransactionId: 'tx-4200' })],
      ['deliveries of a source', () => store.listDeliveries({ limit: 50, source: 'prod', state: 'failed' })],
      ['replay count of an id', () => store.countReplay({ docvTransactionId: 'tx-4200' })],
    ];
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
          if (/^\s*SELECT (\*|name, subscription) FROM destination/.test(s.text)) continue;
          const nodes = await planOf(client, s.text, s.values);
          const scans = nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
          expect(
            scans.filter((t) => ['events', 'transactions', 'deliveries', 'tombstones'].includes(t!)),
            `${what}: ${s.text}`,
          ).toEqual([]);
        }
      }

      // The lookup of an id under any source: equality probes of the unique key index.
      const lookup = await planOf(client, TRANSACTIONS_OF_ID.text, ['tx-4200']);
      expect(lookup.map((n) => n['Index Name']).filter((i) => i !== undefined)).toEqual([
        'sources_pkey',
        'transactions_docv_transaction_id_key',
      ]);
      // Why not a range of keys in byte order: a comparison in COLLATE "C" cannot use an index in
      // the database's collation, and the key indexes are all in that one.
      const { from, to } = transactionKeyRange('tx-4200');
      const range = await planOf(
        client,
        `SELECT seq FROM transactions WHERE docv_transaction_id COLLATE "C" >= $1 AND docv_transaction_id COLLATE "C" < $2`,
        [from, to],
      );
      expect(range.map((n) => n['Node Type'])).toContain('Seq Scan');
    } finally {
      await client.end();
    }
    // And the answers are right on this data.
    await expect(store.getTransaction('tx-4200')).rejects.toBeInstanceOf(AmbiguousTransactionError);
    expect(await store.getTransaction('tx-4201')).toMatchObject({ docvTransactionId: 'tx-4201', source: 'default' });
    expect((await store.listEvents({ limit: 50, docvTransactionId: 'tx-4200' })).items).toHaveLength(9);
    expect(await store.getTombstone('gone-4201')).toMatchObject({ docvTransactionId: 'gone-4201', source: 'prod' });
    expect(await store.getTombstone('gone-4201', 'default')).toBeNull();
    expect((await store.listTransactions({ limit: 50, search: 'tx-4200' })).items.map((t) => t.source).sort()).toEqual([
      'default',
      'prod',
      'sandbox',
    ]);
    // Replayed: the rows (all failed here) and the delivered log deliveries (those behind the cursor).
    const listed = (await store.listDeliveries({ limit: 50, docvTransactionId: 'tx-4200' })).items;
    expect(new Set(listed.map((d) => d.source))).toEqual(new Set(['default', 'sandbox', 'prod']));
    expect(await store.countReplay({ docvTransactionId: 'tx-4200' })).toBe(
      listed.filter((d) => d.state !== 'pending').length,
    );
  }, 120_000);

  it('under a linguistic collation (ICU en-US), where a range of keys misses them, every source of an id is found', async () => {
    const name = `docv_test_icu_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await admin.connect();
    try {
      await admin.query(
        `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      );
    } catch (err) {
      // A server without ICU, or a role that may not create databases: nothing to show here.
      await admin.end();
      console.warn(`[sources] no ICU database (${(err as Error).message}): the collation case is skipped`);
      return;
    }
    cleanups.push(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    });
    const url = new URL(POSTGRES_TEST_URL);
    url.pathname = `/${name}`;
    const store = await open(url.toString());
    store.configureOutbox({ destinations: ['sink'] });
    const tx = uniqueId('icu');
    const only = uniqueId('icu');
    for (const [id, source] of [
      [tx, 'sandbox'],
      [tx, 'prod'],
      [only, 'prod'],
    ] as const)
      expect((await store.ingest(underSource(ingestInput(docvEvent({ docvTransactionId: id })), source))).kind).toBe(
        'accepted',
      );

    // The range of keys SQLite uses finds none of them here: the collation ignores U+001F.
    const { exact, from, to } = transactionKeyRange(tx);
    const reader = new pg.Client({ connectionString: url.toString() });
    await reader.connect();
    try {
      const { rows } = await reader.query<{ n: number }>(
        `SELECT COUNT(*)::int AS n FROM transactions
          WHERE docv_transaction_id = $1 OR (docv_transaction_id >= $2 AND docv_transaction_id < $3)`,
        [exact, from, to],
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await reader.end();
    }

    const err = await store.getTransaction(tx).catch((e: unknown) => e);
    expect((err as AmbiguousTransactionError).sources).toEqual(['prod', 'sandbox']);
    expect(await store.getTransaction(only)).toMatchObject({ docvTransactionId: only, source: 'prod' });
    expect((await store.listEvents({ limit: 10, docvTransactionId: tx })).items.map((e) => e.source).sort()).toEqual([
      'prod',
      'sandbox',
    ]);
    expect(
      (await store.listTransactions({ limit: 10, search: tx })).items.map((t) => `${t.docvTransactionId}@${t.source}`),
    ).toEqual(expect.arrayContaining([`${tx}@prod`, `${tx}@sandbox`]));
    expect((await store.listDeliveries({ limit: 10, docvTransactionId: tx })).items).toHaveLength(2);
  });
});
