import type { Sealer, SealedTable } from './sealer.js';

/**
 * The sealed columns of each table, as rekey walks them: `position` orders the walk (the primary
 * key), `id` is the row id the sealing binds to, `bytes` are blob/bytea columns and `json` are
 * JSON columns (read as text on both backends; a null stays null).
 */
export const SEALED_COLUMNS: Record<
  SealedTable,
  { id: string; position: string; bytes: readonly string[]; json: readonly string[] }
> = {
  events: { id: 'event_id', position: 'seq', bytes: ['raw_body'], json: ['headers'] },
  quarantine: { id: 'quarantine_id', position: 'seq', bytes: ['body'], json: ['headers', 'detail'] },
  decisions: { id: 'event_id', position: 'event_id', bytes: [], json: ['details'] },
};

/** A row as a rekey batch reads it: its id, key, position, and the sealed columns by name. */
export type StoredSealedRow = Record<string, unknown> & { key_id: string | null };

/**
 * The row's sealed columns opened (with whichever configured key sealed them, or as they are when
 * in clear) and sealed again with the current key: the values to write back, by column.
 */
export function resealRow(
  sealer: Sealer,
  table: SealedTable,
  row: StoredSealedRow,
): Record<string, Buffer | string | null> {
  const spec = SEALED_COLUMNS[table];
  const rowId = String(row[spec.id]);
  const out: Record<string, Buffer | string | null> = {};
  for (const column of spec.bytes) {
    const plain = sealer.openBytes(row[column] as Buffer, row.key_id, table, column, rowId);
    out[column] = sealer.sealBytes(plain, table, column, rowId);
  }
  for (const column of spec.json) {
    const stored = row[column] as string | null;
    out[column] =
      stored === null
        ? null
        : sealer.sealJson(sealer.openJsonText(stored, row.key_id, table, column, rowId), table, column, rowId);
  }
  return out;
}
