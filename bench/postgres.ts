import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ROOT } from './servers.js';

/** The server the PostgreSQL sections use; each run gets a schema of its own, dropped afterwards. */
export const POSTGRES_BASE_URL = process.env.DOCV_BENCH_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

export function postgresUrl(schema: string): string {
  return `${POSTGRES_BASE_URL}${POSTGRES_BASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_BASE_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Whether the PostgreSQL sections can run: the store exists in this tree and the server answers. */
export async function postgresAvailability(root = ROOT): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!existsSync(join(root, 'src/store/postgres/postgres-store.ts'))) {
    return { ok: false, reason: 'no PostgreSQL store in this tree yet (src/store/postgres/postgres-store.ts)' };
  }
  try {
    const { openStore } = await import('../src/store/index.js');
    const schema = `bench_probe_${process.pid}`;
    try {
      const store = await openStore(postgresUrl(schema));
      await store.close();
    } finally {
      await dropSchema(schema).catch(() => undefined);
    }
  } catch (err) {
    return { ok: false, reason: `PostgreSQL store unusable: ${(err as Error).message.split('\n')[0]}` };
  }
  return { ok: true };
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`));
}

/**
 * VACUUM (ANALYZE) of every table of the schema. After a bulk fill the tables hold a million rows
 * that no vacuum or analyze has seen: autovacuum then starts on them within a minute, during the
 * measurement, and the planner has the statistics of empty tables. A database that grew to that
 * size over weeks has had both done along the way; PostgreSQL's documentation asks for an
 * ANALYZE after any bulk load.
 */
export async function settleSchema(schema: string): Promise<void> {
  await withClient(async (c) => {
    const { rows } = await c.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1', [
      schema,
    ]);
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    for (const { tablename } of rows) await c.query(`VACUUM (ANALYZE) ${quote(schema)}.${quote(tablename)}`);
  });
}

/** Bytes of every table of the schema with its indexes and TOAST. */
export async function schemaSize(schema: string): Promise<number> {
  return withClient(async (c) => {
    const { rows } = await c.query<{ bytes: string | null }>(
      `SELECT SUM(pg_total_relation_size(c.oid))::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`,
      [schema],
    );
    return Number(rows[0]?.bytes ?? 0);
  });
}
