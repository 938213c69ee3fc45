/**
 * The store classes themselves, for code that constructs one directly (tests, the threaded
 * store's instanceof check in serve). Importing this module loads better-sqlite3 and pg; the
 * rest of the package reaches them only through openStore, which imports them lazily.
 */
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { ThreadedSqliteStore, type ThreadedSqliteStoreOptions } from './sqlite/threaded-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
