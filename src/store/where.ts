import { transactionColumn, transactionKeyRange } from './rows.js';
import { MAX_SEARCH_LENGTH, type RetentionStep } from './types.js';

/**
 * How a driver marks parameters: better-sqlite3 binds `?` in the order they appear, pg numbers
 * them `$1`, `$2`…
 */
export type PlaceholderStyle = '?' | '$n';

/**
 * Builds `WHERE a = ? AND b = ?` from optional filters (the listings and replay of both stores),
 * collecting the values in the order their placeholders appear. Pass `values` to the driver
 * positionally.
 */
export class Where {
  readonly values: unknown[] = [];
  private readonly parts: string[] = [];

  constructor(private readonly style: PlaceholderStyle) {}

  /** A condition with one `?`, which becomes this value's placeholder. */
  add(sql: string, value: unknown): this {
    this.parts.push(sql.replace('?', this.param(value)));
    return this;
  }

  /** A placeholder for a value used in a raw() condition or after the WHERE (LIMIT); in text order. */
  param(value: unknown): string {
    this.values.push(value);
    return this.style === '$n' ? `$${this.values.length}` : '?';
  }

  /** A condition with no value, or whose values were placed with param(). */
  raw(sql: string): this {
    this.parts.push(sql);
    return this;
  }

  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/**
 * The least string greater than every string that starts with `prefix`, in code point order
 * (SQLite's BINARY collation, PostgreSQL's "C"): `col >= prefix AND col < prefixEnd(prefix)` is a
 * prefix match an index answers with a range scan, where a LIKE would scan. Null when there is no
 * such bound (a prefix of U+10FFFF only): then `col >= prefix` alone.
 */
export function prefixEnd(prefix: string): string | null {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Code points U+D800-U+DFFF are not characters: the next one after U+D7FF is U+E000.
      points.push(String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1));
      return points.join('');
    }
  }
  return null;
}

/** Candidates each search source (transaction id, customer user id, event id) gives at most. */
export const SEARCH_CANDIDATES = 500;

/** A transaction filter's search, trimmed; null when there is none. RangeError beyond MAX_SEARCH_LENGTH. */
export function searchTermOf(search: string | undefined): string | null {
  const term = search?.trim() ?? '';
  if (term === '') return null;
  if (term.length > MAX_SEARCH_LENGTH) throw new RangeError(`search is longer than ${MAX_SEARCH_LENGTH} characters`);
  return term;
}

/**
 * The rows of one transaction id (issue 20): with `source`, its key under that source (one
 * lookup); without, the id under every source, the key itself or `<id>\u001f<source>` (rows.ts,
 * transactionKeyRange). Written as one range, [id, id + U+0020), which an index on the column
 * answers with one scan (an equality OR a range made SQLite's planner walk the log instead): the
 * range holds the id's keys and nothing else, since no id has a control character; the last
 * test keeps that exact for a row stored before ids were checked for them. `column` is the
 * transaction key column as the query names it (`d.docv_transaction_id`). SQLite only: the range
 * needs byte order, which SQLite's BINARY collation is; a PostgreSQL database's collation may
 * ignore the control character, so PostgreSQL probes each known source's key instead
 * (postgres/source-keys.ts).
 */
export function whereTransaction(
  where: Where,
  column: string,
  docvTransactionId: string,
  source: string | undefined,
): Where {
  if (source !== undefined) return where.add(`${column} = ?`, transactionColumn(docvTransactionId, source));
  const { exact, from, to } = transactionKeyRange(docvTransactionId);
  return where.raw(
    `${column} >= ${where.param(exact)} AND ${column} < ${where.param(to)} AND (${column} = ${where.param(exact)} OR ${column} >= ${where.param(from)})`,
  );
}

/**
 * A retention step's sources (RetentionStep.sources) as a condition on `column`: `only` these,
 * or all `except` these; nothing when the step has none (every source).
 */
export function whereSources(where: Where, column: string, sources: RetentionStep['sources']): Where {
  if (sources === undefined) return where;
  const only = 'only' in sources;
  const names = only ? sources.only : sources.except;
  if (names.length === 0) return only ? where.raw('1 = 0') : where;
  return where.raw(`${column} ${only ? 'IN' : 'NOT IN'} (${names.map((n) => where.param(n)).join(', ')})`);
}
