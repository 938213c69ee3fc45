import type { TransactionFilter } from './types.js';

/*
 * dialect, environment and source (issue 20) have no index of their own: an index on (dialects |
 * environment | source, last_received_at, seq) would be one more B-tree entry moved by every
 * event, since every event moves last_received_at. They are tested on the rows of the index the rest of the filter walks
 * (activity, status, decision, anomalous), which costs nothing when most transactions match and
 * the whole index when none does (a dialect nobody sends: 190 ms at 1M events). So that walk is
 * bounded: a list page or a count examines at most UNINDEXED_WALK rows of it and says when it
 * stopped there (Page.partial, BoundedCount.examined); the next page continues from the last row
 * examined.
 */

/**
 * Rows of its index a filter with dialect or environment examines per page or count. At 1M
 * events (333k transactions), a dialect nobody sends: list and count 12 and 11 ms each on SQLite,
 * 12 and 10 on PostgreSQL (the whole index: 191 and 135, 188 and 114). 50,000 took 33 + 30 ms,
 * too much of a page's 100 ms, as the SQLite store runs the two one after the other.
 */
export const UNINDEXED_WALK = 20_000;

let walkBound = UNINDEXED_WALK;

/** The bound in force: UNINDEXED_WALK, unless a test lowered it. */
export function unindexedWalk(): number {
  return walkBound;
}

/**
 * For tests: a bound of a few rows instead of 20,000 transactions to create. Applies to every
 * store in this process (reads run on the calling thread, the threaded SQLite store's too).
 * Returns the function that puts the default back.
 */
export function setUnindexedWalkForTests(rows: number): () => void {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError('the walk bound is a positive integer');
  walkBound = rows;
  return () => {
    walkBound = UNINDEXED_WALK;
  };
}

type Conditions = Omit<TransactionFilter, 'limit' | 'cursor'>;

/** Whether the filter has a condition no index answers, and so walks a bounded number of rows. */
export function hasUnindexedCondition(filter: Conditions): boolean {
  return filter.dialect !== undefined || filter.environment !== undefined || filter.source !== undefined;
}

/**
 * The filter whose rows the bounded walk examines: the conditions an index answers. An anomaly
 * code walks the anomalous ones (its code is tested on their rows with dialect and environment).
 */
export function walkedFilter(filter: Conditions): Conditions {
  const { dialect: _dialect, environment: _environment, source: _source, anomaly, ...rest } = filter;
  return anomaly === undefined ? rest : { ...rest, anomaly: 'any' };
}
