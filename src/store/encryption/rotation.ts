import type { SealedTable } from './sealer.js';

/** Where a rekey walk is: the table, and the last row it examined there (seq, or event id for decisions). */
export interface RekeyPosition {
  table: SealedTable;
  after: string;
}

/** One bounded batch of a rekey walk, committed on its own. */
export interface RekeyBatch {
  /** Rows examined in this batch (at most the limit asked for). */
  examined: number;
  /** Rows sealed again with the current key (in clear before, or sealed with an older key). */
  resealed: number;
  /** Where the next batch starts; null when every table has been walked. */
  next: RekeyPosition | null;
}

/** The order a rekey walks the sealed tables in. */
export const REKEY_ORDER: readonly SealedTable[] = ['events', 'quarantine', 'decisions'];

/** The next table's start, or null after the last. */
export function nextTable(table: SealedTable): RekeyPosition | null {
  const next = REKEY_ORDER[REKEY_ORDER.indexOf(table) + 1];
  return next ? { table: next, after: '' } : null;
}
