import { parseDatabaseUrl } from './database-url.js';
import { redactUrl } from '../auth/redact-url.js';
import { EncryptionKeyMismatchError } from './encryption/key-check.js';
import type { EncryptionKeys } from './encryption/keys.js';
import type { Store } from './types.js';

export { parseDatabaseUrl, type DatabaseLocation } from './database-url.js';

// The drivers (better-sqlite3, pg) are imported when a store of their kind is opened, not when
// this module is: the library's root entry reaches openStore, and importing the package must not
// load a native module or a database client that the caller may never use.

export const DEFAULT_DATABASE_URL = 'sqlite:./data/docv-webhooks.db';

/** The database URL as it may be printed or logged: a PostgreSQL password becomes ***. */
export function describeDatabaseUrl(url: string): string {
  return parseDatabaseUrl(url).kind === 'postgres' ? redactUrl(url) : url;
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
  /**
   * Encryption at rest (store/encryption/): the key new rows are sealed with and the older ones
   * rows may still be sealed with. Opening fails when rows are sealed with a key not given.
   */
  encryption?: EncryptionKeys;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseDatabaseUrl(url);
  if (location.kind === 'postgres') {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open({
      url: location.url,
      ...(options.quarantineCapacity !== undefined ? { quarantineCapacity: options.quarantineCapacity } : {}),
      ...(options.readonly !== undefined ? { readonly: options.readonly } : {}),
      ...(options.migrate !== undefined ? { migrate: options.migrate } : {}),
      ...(options.onCommit ? { onCommit: options.onCommit } : {}),
      ...(options.encryption ? { encryption: options.encryption } : {}),
    });
  }
  try {
    if (options.writerThread && !options.readonly && location.path !== ':memory:') {
      const { writerThread: _w, readonly: _r, ...rest } = options;
      const { ThreadedSqliteStore } = await import('./sqlite/threaded-store.js');
      return await ThreadedSqliteStore.open({ path: location.path, ...rest });
    }
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return new SqliteStore({ path: location.path, ...options });
  } catch (err) {
    // Said as it is: it names the keys and rows, and the caller refuses to start on it.
    if (err instanceof EncryptionKeyMismatchError) throw err;
    const message = (err as Error).message;
    if (options.readonly && /unable to open|does not exist|no such file/i.test(message)) {
      throw new Error(`database ${location.path} does not exist; start the receiver first or pass --db`, {
        cause: err,
      });
    }
    throw new Error(`cannot open database ${location.path}: ${message}`, { cause: err });
  }
}
