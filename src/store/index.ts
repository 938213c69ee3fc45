export * from './types.js';
export {
  openStore,
  parseDatabaseUrl,
  describeDatabaseUrl,
  DEFAULT_DATABASE_URL,
  type DatabaseLocation,
  type OpenStoreOptions,
} from './open.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { ThreadedSqliteStore, type ThreadedSqliteStoreOptions } from './sqlite/threaded-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
export { InvalidCursorError } from './cursor.js';
export { randomHex } from './ids.js';
export {
  DESTINATION_KINDS,
  DESTINATION_STATES,
  type AddDestinationMode,
  type AddDestinationResult,
  type DestinationKind,
  type DestinationState,
  type NewDestination,
  type StoredDestination,
} from './destinations.js';
