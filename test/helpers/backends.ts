import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, it } from 'vitest';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { testEncryption } from './test-encryption.js';

/**
 * The store backends the behavioural suites run against. PostgreSQL is the server already running
 * on the machine (CI: 127.0.0.1:5432, trust auth, database `test`); each test database is a fresh
 * schema in it, dropped afterwards, so parallel runs never collide.
 */
export const POSTGRES_TEST_URL = process.env.DOCV_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

export type BackendName = 'sqlite' | 'postgres';

export interface TestDatabase {
  backend: BackendName;
  /** What `--db` / `DATABASE_URL` / `openStore` take. */
  url: string;
  /** SQLite only: the database file. */
  path: string | null;
  /**
   * Reads rows straight from the database, as another process would. `?` placeholders; JSON and
   * timestamps come back as text on both backends, bigints as numbers.
   */
  rows<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** Changes rows straight in the database (to plant what an older version wrote). `?` placeholders. */
  write(sql: string, ...params: unknown[]): Promise<void>;
  /** Deletes it (the temp directory, or the schema). Idempotent. */
  drop(): Promise<void>;
}

export interface Backend {
  name: BackendName;
  /** Why this backend's cases are skipped here, or null when they run. */
  skipReason: string | null;
  /** A fresh, empty database (migrations are applied by whoever opens it). */
  create(): Promise<TestDatabase>;
}

/** A SQLite database at `path`; `drop` removes `ownedDir` when given. */
export function sqliteDatabase(path: string, ownedDir?: string): TestDatabase {
  return {
    backend: 'sqlite',
    url: `sqlite:${path}`,
    path,
    async rows<T>(sql: string, ...params: unknown[]) {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(sql).all(...params) as T[];
      } finally {
        db.close();
      }
    },
    async write(sql: string, ...params: unknown[]) {
      const db = new Database(path);
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    },
    async drop() {
      if (ownedDir) rmSync(ownedDir, { recursive: true, force: true });
    },
  };
}

const sqliteBackend: Backend = {
  name: 'sqlite',
  skipReason: null,
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'docv-test-'));
    return sqliteDatabase(join(dir, 'receiver.db'), dir);
  },
};

/** Rows as SQLite would give them: JSON as text, timestamps as ISO text, bigints as numbers. */
const TEXTUAL_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 114 || oid === 3802) return (v: string) => v; // json, jsonb
    if (oid === 20) return (v: string) => Number(v); // int8
    if (oid === 1184) {
      const parse = pg.types.getTypeParser(oid, 'text') as (v: string) => Date;
      return (v: string) => parse(v).toISOString();
    }
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
  options: pg.ClientConfig = {},
): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000, ...options });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function toPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * Test schemas are named docv_test_<base36 creation time>_<random>; ones a killed run left behind
 * are dropped by a later run once they are clearly stale.
 */
const SCHEMA_PREFIX = 'docv_test_';
const STALE_SCHEMA_MS = 6 * 60 * 60 * 1000;

export function newSchemaName(): string {
  return `${SCHEMA_PREFIX}${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
}

export function postgresDatabase(schema: string, baseUrl = POSTGRES_TEST_URL): TestDatabase {
  const url = new URL(baseUrl);
  url.searchParams.set('schema', schema);
  let dropped = false;
  return {
    backend: 'postgres',
    url: url.toString(),
    path: null,
    rows<T>(sql: string, ...params: unknown[]) {
      return withClient(baseUrl, async (client) => (await client.query(toPlaceholders(sql), params)).rows as T[], {
        options: `-c search_path=${schema}`,
        types: TEXTUAL_TYPES,
      });
    },
    async write(sql: string, ...params: unknown[]) {
      await withClient(baseUrl, (client) => client.query(toPlaceholders(sql), params), {
        options: `-c search_path=${schema}`,
      });
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await withClient(baseUrl, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    },
  };
}

let probed: Promise<Backend[]> | null = null;

async function dropStaleSchemas(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace WHERE nspname ~ '^${SCHEMA_PREFIX}[0-9a-z]{8,10}_[0-9a-z]+$'`,
  );
  for (const { nspname } of rows) {
    const created = parseInt(nspname.slice(SCHEMA_PREFIX.length).split('_')[0]!, 36);
    // Only names this helper made (a plausible creation time), and only long after any run ends.
    if (created > Date.UTC(2024, 0, 1) && Date.now() - created > STALE_SCHEMA_MS) {
      await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`).catch(() => undefined);
    }
  }
}

/**
 * SQLite always; PostgreSQL when it answers. Unreachable PostgreSQL skips its cases with a warning
 * saying why, except in CI (CI=true), where it fails the run: CI must test both backends.
 */
export function testBackends(): Promise<Backend[]> {
  probed ??= (async () => {
    let skipReason: string | null = null;
    // `npm run test:unit` stays in the process (test/unit-guard.ts): no PostgreSQL, not even a probe.
    if (process.env.DOCV_TEST_UNIT === '1') {
      const unitSkip = 'a unit run (npm run test:unit) opens no connection; npm test runs the PostgreSQL cases';
      return [
        sqliteBackend,
        { name: 'postgres', skipReason: unitSkip, create: async () => postgresDatabase(newSchemaName()) },
      ];
    }
    try {
      await withClient(POSTGRES_TEST_URL, async (client) => {
        await client.query('SELECT 1');
        await dropStaleSchemas(client);
      });
    } catch (err) {
      skipReason = `PostgreSQL at ${POSTGRES_TEST_URL} is unreachable (${(err as Error).message || (err as { code?: string }).code}); start it or set DOCV_TEST_POSTGRES_URL`;
      if (process.env.CI === 'true')
        throw new Error(`${skipReason}. In CI the PostgreSQL cases must run, not be skipped.`);
      console.warn(`\n[docv-webhooks tests] SKIPPING the PostgreSQL cases: ${skipReason}.\n`);
    }
    const postgresBackend: Backend = {
      name: 'postgres',
      skipReason,
      create: async () => postgresDatabase(newSchemaName()),
    };
    return [sqliteBackend, postgresBackend];
  })();
  return probed;
}

/** PostgreSQL alone (multi-instance and outage suites). */
export async function postgresBackend(): Promise<Backend> {
  return (await testBackends()).find((b) => b.name === 'postgres')!;
}

/**
 * Call first inside `describe.each(backends)`: when the backend cannot run here, registers one
 * skipped test that says why and returns true (the caller then registers nothing else).
 */
export function skipUnavailable(backend: Backend): boolean {
  if (backend.skipReason === null) return false;
  it.skip(`[${backend.name}] skipped: ${backend.skipReason}`, () => undefined);
  return true;
}

/**
 * What an earlier release left: the migrations up to `version` applied and recorded, the later
 * ones not (an upgrade test opens it with `migrate: false` and then migrates).
 */
export async function migratedUpTo(db: TestDatabase, version: number): Promise<void> {
  if (db.backend === 'sqlite') {
    const raw = new Database(db.path!);
    try {
      raw.exec(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= version)) {
        raw.exec(m.sql);
        raw
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, new Date().toISOString());
      }
    } finally {
      raw.close();
    }
    return;
  }
  const schema = new URL(db.url).searchParams.get('schema')!;
  await withClient(POSTGRES_TEST_URL, async (client) => {
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`SET search_path TO "${schema}"`);
    await client.query(
      'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    for (const m of POSTGRES_MIGRATIONS.filter((x) => x.version <= version)) {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
  });
}

/**
 * Writes rows straight into the database (`?` placeholders), as an earlier release would have:
 * an upgrade test fills the old schema this way, because the store of this release writes
 * columns the old schema does not have yet.
 */
export async function writeRows(db: TestDatabase, sql: string, ...params: unknown[]): Promise<void> {
  if (db.backend === 'sqlite') {
    const raw = new Database(db.path!);
    try {
      raw.prepare(sql).run(...params);
    } finally {
      raw.close();
    }
    return;
  }
  const schema = new URL(db.url).searchParams.get('schema')!;
  await withClient(POSTGRES_TEST_URL, (client) => client.query(toPlaceholders(sql), params), {
    options: `-c search_path=${schema}`,
  });
}

/**
 * Opens fresh stores on `backend` for one describe block: each test's stores are closed and their
 * databases dropped after it. Call inside the describe (it registers an afterEach).
 */
export function scratchStores(
  backend: Backend,
): (options?: OpenStoreOptions) => Promise<{ store: Store; db: TestDatabase }> {
  const stores: Store[] = [];
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of databases.splice(0)) await d.drop();
  });
  return async (options) => {
    const db = await backend.create();
    databases.push(db);
    // DOCV_TEST_ENCRYPTED=1: with encryption at rest on, unless the test chose (test-encryption.ts).
    const store = await openStore(db.url, { ...testEncryption(), ...options });
    stores.push(store);
    return { store, db };
  };
}
