import type { TransactionFilter } from '../types.js';
import { prefixEnd, searchTermOf, SEARCH_CANDIDATES, Where } from '../where.js';
import { pgText } from './pg-text.js';
import { keysOfSql } from './source-keys.js';

/*
 * The conditions of a transaction filter (listTransactions, countTransactions), and the index
 * each one walks (migration 9). The list is ordered by (last_received_at, seq) descending, and so
 * are the indexes: transactions_by_activity for no filter (and from/to), transactions_by_status,
 * transactions_by_decision (partial: decided ones), transactions_anomalous (partial:
 * anomaly_count > 0), each walked backwards from the cursor until the page is full.
 *
 * dialect, environment and source have no index of their own (one more B-tree written by every
 * event of every transaction): they filter the rows of the walk, which examines at most
 * unindexedWalk() rows (unindexed-walk.ts; unindexedConditions below). A value most transactions have fills a
 * page at once; a rare one stops at the bound, and the next page continues from there.
 */

/** Characters of customer_user_id that transactions_by_customer keeps (MAX_SEARCH_LENGTH). */
const CUSTOMER_KEY_LENGTH = 256;
const CUSTOMER_KEY = `left(customer_user_id, ${CUSTOMER_KEY_LENGTH}) COLLATE "C"`;

/** The WHERE of a filter (no cursor, no limit). RangeError for a search that is too long. */
export function transactionConditions(filter: Omit<TransactionFilter, 'limit' | 'cursor'>): Where {
  const where = new Where('$n');
  if (filter.status) where.add('status = ?', filter.status);
  if (filter.decision) where.add('decision = ?', filter.decision);
  if (filter.customerUserId !== undefined) {
    // The index keeps the first 256 characters (a btree entry must fit in a page); the full
    // value is compared on the rows it finds.
    const customer = where.param(pgText(filter.customerUserId));
    where.raw(`${CUSTOMER_KEY} = left(${customer}::text, ${CUSTOMER_KEY_LENGTH}) AND customer_user_id = ${customer}`);
  }
  // anomaly_count > 0 walks the partial index of anomalous transactions; a code is tested on its rows.
  if (filter.anomaly !== undefined) where.raw('anomaly_count > 0');
  const tested = unindexedConditions(where, filter);
  if (tested !== null) where.raw(tested);
  // last_received_at is ISO 8601 text of one format (toISOString): its order is the time order.
  if (filter.from !== undefined) where.add('last_received_at >= ?', filter.from.toISOString());
  if (filter.to !== undefined) where.add('last_received_at < ?', filter.to.toISOString());
  const term = searchTermOf(filter.search);
  if (term !== null) where.raw(`seq IN (${searchCandidates(where, pgText(term))})`);
  return where;
}

/**
 * The conditions tested on the rows an index brings up (an anomaly's code, dialect, environment,
 * source) as one condition, its values placed in `where`; null when the filter has none.
 */
export function unindexedConditions(where: Where, filter: Omit<TransactionFilter, 'limit' | 'cursor'>): string | null {
  const parts: string[] = [];
  if (filter.anomaly !== undefined && filter.anomaly !== 'any')
    // A text search in the lifecycle JSON, as dialectCondition in postgres-store.ts (the JSON
    // operators refuse documents some senders' values make): a quote inside a JSON string is
    // always escaped, so `"code":"…"` only ever matches an anomaly's code.
    parts.push(`strpos(state::text, ${where.param(`"code":${JSON.stringify(filter.anomaly)}`)}) > 0`);
  if (filter.dialect !== undefined) parts.push(`${where.param(filter.dialect)} = ANY (dialects)`);
  if (filter.environment !== undefined) parts.push(`environment = ${where.param(pgText(filter.environment))}`);
  if (filter.source !== undefined) parts.push(`source = ${where.param(filter.source)}`);
  return parts.length ? parts.join(' AND ') : null;
}

/**
 * The transactions a search names: its id, its customer user id or one of its event ids equals
 * or starts with `term`. Each is a range scan of one index (`col >= term AND col <
 * prefixEnd(term)`), at most SEARCH_CANDIDATES rows each, with starts_with() checking each row it
 * finds; the rest of the filter and the order apply to these few rows. A transaction key starts
 * with its id (`<id>\u001f<source>` under a source other than the default: rows.ts), so the
 * range finds every source's transaction of an id too; and an id searched in full is also
 * looked up by its keys (source-keys.ts), which finds them under any collation.
 *
 * Collation: a prefix is one range only where strings sort by code point. The customer index is
 * in "C" collation and so is its range, whatever the database's. Transaction and event ids use
 * their unique indexes, in the database's collation: C, POSIX or C.UTF-8 (glibc sorts it by code
 * point) are correct. Under a linguistic collation (en_US.UTF-8…) every row found still starts
 * with the term (starts_with), but an id that starts with it and sorts outside the range is
 * missed: punctuation that such collations weigh last (`a-c` against a search for `a-`). Event
 * ids (`evt_` and lowercase base32) sort the same in every collation; transaction ids from
 * Socure are UUIDs, where the hyphens are the only risk.
 */
function searchCandidates(where: Where, term: string): string {
  const from = where.param(term);
  const end = prefixEnd(term);
  const upTo = end === null ? null : where.param(end);
  const range = (column: string) => `${column} >= ${from}${upTo === null ? '' : ` AND ${column} < ${upTo}`}`;
  return `
    (SELECT seq FROM transactions
      WHERE ${range('docv_transaction_id')} AND starts_with(docv_transaction_id, ${from}) LIMIT ${SEARCH_CANDIDATES})
    UNION ALL
    SELECT seq FROM transactions WHERE docv_transaction_id = ANY(${keysOfSql(from)})
    UNION ALL
    (SELECT seq FROM transactions
      WHERE ${range(CUSTOMER_KEY)} AND starts_with(customer_user_id, ${from}) LIMIT ${SEARCH_CANDIDATES})
    UNION ALL
    SELECT t.seq FROM transactions t WHERE t.docv_transaction_id IN (
      SELECT docv_transaction_id FROM events
      WHERE ${range('event_id')} AND starts_with(event_id, ${from}) AND docv_transaction_id <> '' LIMIT ${SEARCH_CANDIDATES})`;
}
