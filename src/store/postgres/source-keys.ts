import { DEFAULT_SOURCE } from '../../contract/source.js';
import { transactionColumn } from '../rows.js';
import type { IngestInput } from '../types.js';
import type { Where } from '../where.js';
import { pgText } from './pg-text.js';

/*
 * The transaction keys of one id under every source, on PostgreSQL (issue 20). A key is the id
 * under the default source and `<id>\u001f<source>` under any other (rows.ts, transactionColumn).
 * SQLite finds the others as a range of keys ([<id>\u001f, <id>\u0020): where.ts,
 * whereTransaction); here that range is not safe. The key indexes (transactions' unique key,
 * events_by_transaction, deliveries_by_transaction, decisions_by_transaction, tombstones' primary
 * key) are in the database's collation: under C, POSIX or C.UTF-8 it is code point order and the
 * range is right, but under a linguistic collation (en_US.UTF-8, the official Docker image's; any
 * ICU one) the separator is ignored, and `<id>\u001f<source>` sorts as `<id><source>` among other
 * ids, outside the range. A range in COLLATE "C" is right in every database, but no index answers
 * it (a comparison in "C" cannot use an index in the default collation: EXPLAIN shows a sequential
 * scan), and one more index on the key of transactions would be written by every event (each
 * moves last_received_at, so no update of a transaction is HOT).
 *
 * So the keys are spelled out: the id, and `<id>\u001f<name>` for each name in `sources` (migration
 * 12), which ingest fills. Each is an equality probe of the key index, right in any collation; a
 * store has a handful of sources.
 */

/**
 * The keys of the id in placeholder `id` (a text parameter, pgText'd) under every source, as an
 * array expression. An InitPlan: `sources` is read once per statement.
 */
export function keysOfSql(id: string): string {
  return `ARRAY(SELECT ${id}::text UNION ALL SELECT ${id}::text || chr(31) || name FROM sources)`;
}

/**
 * Rows of one transaction id: with `source`, its key there; without, the id under every source
 * (keysOfSql). `column` is the key column as the query names it.
 */
export function whereTransactionKeys(
  where: Where,
  column: string,
  docvTransactionId: string,
  source: string | undefined,
): Where {
  if (source !== undefined) return where.add(`${column} = ?`, pgText(transactionColumn(docvTransactionId, source)));
  return where.raw(`${column} = ANY(${keysOfSql(where.param(pgText(docvTransactionId)))})`);
}

/** The source of an ingest input (the default when it names none). */
export function sourceOfInput(input: Pick<IngestInput, 'source'>): string {
  return input.source ?? DEFAULT_SOURCE;
}

/**
 * The names this process has added to `sources` (committed): a batch names only the others, so
 * after the first batch of each source ingest writes nothing more for it. Names of a batch that
 * rolled back are not confirmed, and the next batch of that source names them again.
 */
export class SourceRegistry {
  private readonly known = new Set<string>([DEFAULT_SOURCE]);

  /** The batch's sources not known to be in `sources` yet, sorted (the default never is). */
  unregistered(inputs: ReadonlyArray<Pick<IngestInput, 'source'>>): string[] {
    let out: Set<string> | null = null;
    for (const input of inputs) {
      const source = input.source;
      if (source === undefined || this.known.has(source)) continue;
      (out ??= new Set()).add(source);
    }
    return out === null ? [] : [...out].sort();
  }

  /** The batch that named these committed. */
  confirm(names: readonly string[]): void {
    for (const name of names) this.known.add(name);
  }
}
