import type { Sealer, SealedTable } from './sealer.js';

/** Each sealed table and the id its rows are named by in messages (and bound to in the sealing). */
export const SEALED_TABLES: ReadonlyArray<{ table: SealedTable; id: string }> = [
  { table: 'events', id: 'event_id' },
  { table: 'quarantine', id: 'quarantine_id' },
  { table: 'decisions', id: 'event_id' },
];

/** Rows counted up to this many per table and key when a key is missing (no index on key_id). */
export const COUNT_SEALED_UP_TO = 10_000;

/** How many rows of a table one key sealed (counted up to a bound), with a few ids as examples. */
export interface SealedRowsFound {
  keyId: string;
  table: SealedTable;
  count: number;
  examples: string[];
}

/** Rows are sealed with keys this process was not given: it refuses to start rather than serve garbage. */
export class EncryptionKeyMismatchError extends Error {
  constructor(
    message: string,
    readonly missingKeyIds: string[],
  ) {
    super(message);
    this.name = 'EncryptionKeyMismatchError';
  }
}

/**
 * The startup check, in two steps so each backend runs its own queries: the registry
 * (encryption_keys, one row per key ever current) names the keys to look for, which in the usual
 * case are all configured and cost nothing more; only a missing key costs a bounded look at the
 * rows, on the way to refusing to start.
 */
export function missingKeyIds(sealer: Sealer, registered: string[]): string[] {
  return registered.filter((id) => !sealer.knows(id));
}

/** The refusal for rows sealed with keys that are not configured, or null when no row is. */
export function keyMismatchError(sealer: Sealer, found: SealedRowsFound[]): EncryptionKeyMismatchError | null {
  const withRows = found.filter((f) => f.count > 0);
  if (withRows.length === 0) return null;
  const keyIds = [...new Set(withRows.map((f) => f.keyId))];
  const parts = keyIds.map((keyId) => {
    const tables = withRows
      .filter((f) => f.keyId === keyId)
      .map(
        (f) =>
          `${f.table}: ${f.count >= COUNT_SEALED_UP_TO ? `${COUNT_SEALED_UP_TO}+` : f.count} rows, e.g. ${f.examples.join(', ')}`,
      );
    return `key ${keyId} (${tables.join('; ')})`;
  });
  const configured = sealer.currentKeyId === null ? 'no encryption key is configured' : 'no configured key has that id';
  return new EncryptionKeyMismatchError(
    `rows in this database are sealed with ${keyIds.length === 1 ? 'a key' : 'keys'} this process does not have (${configured}): ${parts.join('; ')}. ` +
      'Start with that key as --encryption-key (or, during a rotation, in --encryption-previous-keys); ' +
      'refusing to start rather than serve rows that cannot be read',
    keyIds,
  );
}
