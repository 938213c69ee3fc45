export * from './types.js';
export {
  openStore,
  parseDatabaseUrl,
  describeDatabaseUrl,
  DEFAULT_DATABASE_URL,
  type DatabaseLocation,
  type OpenStoreOptions,
} from './open.js';
// The store classes, and with them better-sqlite3 and pg, are in ./drivers.js: importing this
// module loads no database driver (openStore imports the one a URL names, when it is called).
export { InvalidCursorError } from './cursor.js';
export { EncryptionKeyError, keyIdOf, parseEncryptionKey, type EncryptionKeys } from './encryption/keys.js';
export { SealedRowError, type SealedTable } from './encryption/sealer.js';
export { EncryptionKeyMismatchError } from './encryption/key-check.js';
export type { RekeyBatch, RekeyPosition } from './encryption/rotation.js';
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
