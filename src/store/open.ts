import { resolve } from 'node:path';
import { redactPostgresUrl } from './postgres/connection.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { ThreadedSqliteStore } from './sqlite/threaded-store.js';
import type { Store } from './types.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/docv-webhooks.db';

export type DatabaseLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** `sqlite:<file>`, `sqlite::memory:`, a bare file path, or `postgres://…`. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new TypeError('database URL "sqlite:" names no file; use sqlite:./data/docv-webhooks.db');
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new TypeError(`unsupported database URL "${url.split(':')[0]}:…"; use sqlite:<file> or postgres://…`);
  }
  return { kind: 'sqlite', path: resolve(url) };
}

/** The database URL as it may be printed or logged: a PostgreSQL password becomes ***. */
export function describeDatabaseUrl(url: string): string {
  return parseDatabaseUrl(url).kind === 'postgres' ? redactPostgresUrl(url) : url;
}

export interface OpenStoreOptions {
  quarantineCapacity?: number;
  /** Open an existing database for reading only (CLI inspection commands). */
  readonly?: boolean;
  /** Apply pending migrations on open; default true. */
  migrate?: boolean;
  onCommit?: (batchSize: number, durationMs: number) => void;
  /**
   * SQLite: do the writes on a thread of their own (ThreadedSqliteStore). For a process that
   * ingests under load (the receiver); one-off commands open the file directly.
   */
  writerThread?: boolean;
  /** SQLite: checkpoint from a thread of its own, not inside commits (store/sqlite/checkpointer.ts). */
  checkpointThread?: boolean;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseDatabaseUrl(url);
  if (location.kind === 'postgres') {
    return PostgresStore.open({
      url: location.url,
      ...(options.quarantineCapacity !== undefined ? { quarantineCapacity: options.quarantineCapacity } : {}),
      ...(options.readonly !== undefined ? { readonly: options.readonly } : {}),
      ...(options.migrate !== undefined ? { migrate: options.migrate } : {}),
      ...(options.onCommit ? { onCommit: options.onCommit } : {}),
    });
  }
  try {
    if (options.writerThread && !options.readonly && location.path !== ':memory:') {
      const { writerThread: _w, readonly: _r, ...rest } = options;
      return await ThreadedSqliteStore.open({ path: location.path, ...rest });
    }
    return new SqliteStore({ path: location.path, ...options });
  } catch (err) {
    const message = (err as Error).message;
    if (options.readonly && /unable to open|does not exist|no such file/i.test(message)) {
      throw new Error(`database ${location.path} does not exist; start the receiver first or pass --db`, { cause: err });
    }
    throw new Error(`cannot open database ${location.path}: ${message}`, { cause: err });
  }
}
