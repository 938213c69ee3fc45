import Database from 'better-sqlite3';
import { applySqliteMigrations } from './migrations.js';
import { createPrivateDatabaseFile } from './private-file.js';

/**
 * WAL pages between automatic checkpoints (SQLite's default is 1,000). A checkpoint copies every
 * page changed since the last one into the database file and fsyncs it, on the event loop, inside
 * the commit that triggers it. An event touches a few index pages at random places, so at 1,000
 * pages the checkpoints took most of the commit time. Ten times fewer checkpoints write a hot page
 * once instead of ten times. The WAL grows to about 40 MB (10,000 pages of 4 KiB) between
 * checkpoints and is removed when the store closes. The measurements, and the checkpoint thread
 * that now does most of this work: docs/decisions/0007-sqlite-checkpoints-on-a-thread.md.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000;

export interface SqliteDatabaseOptions {
  /** File path, or ':memory:' for tests. */
  path: string;
  readonly?: boolean | undefined;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean | undefined;
  /** How long to wait for another connection's write lock (default 5 s). */
  busyTimeoutMs?: number | undefined;
}

/** The store's connection: WAL, our own fsync of it (see write-queue.ts), the schema up to date. */
export function openSqliteDatabase(options: SqliteDatabaseOptions): { db: Database.Database; walPath: string | null } {
  if (!options.readonly) createPrivateDatabaseFile(options.path);
  const db = new Database(options.path, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  const walPath = options.path === ':memory:' || options.readonly ? null : `${options.path}-wal`;
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    // NORMAL, with the WAL fsynced by us before any write is reported done: see write-queue.ts.
    db.pragma(`synchronous = ${walPath ? 'NORMAL' : 'FULL'}`);
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  }
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  if (options.readonly) {
    // A read-only open never creates tables: say so now, not as "no such table" at the first query.
    const ours = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!ours) {
      db.close();
      throw new Error('it has no docv-webhooks tables; run `docv-webhooks migrate --db <url>` or check the path');
    }
  } else {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    if (options.migrate !== false) applySqliteMigrations(db);
  }
  return { db, walPath };
}
