import type Database from 'better-sqlite3';

/**
 * Log positions of receipt times without an index on received_at (every accepted event would
 * write one more B-tree): events are committed nearly in receipt order, so a binary search on
 * seq, one primary-key lookup a step, finds where a time falls. An event committed out of
 * receipt order (a commit waits for the one before it, milliseconds) can land on the other side
 * of an edge near it; counts from positions are right to within those.
 */
export class SqliteLogPositions {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      // Seq has no gaps in practice (AUTOINCREMENT, nothing deletes events), but a probe takes the
      // next event that exists, so a gap only costs a step.
      probe: db.prepare<[number], { seq: number; received_at: string }>(
        'SELECT seq, received_at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1',
      ),
      last: db.prepare<[], { seq: number | null }>('SELECT MAX(seq) AS seq FROM events'),
    };
  }

  /** See LogViewSource.positionsAt. */
  positionsAt(times: Date[]): number[] {
    const last = this.stmts.last.get()?.seq ?? null;
    if (last === null) return times.map(() => 0);
    const order = times.map((t, i) => ({ at: t.toISOString(), i })).sort((a, b) => (a.at < b.at ? -1 : 1));
    const out = new Array<number>(times.length).fill(last);
    // Divide and conquer over the sorted times: each time's answer bounds the search of the times
    // on either side, so a quiet stretch of the log (many empty buckets) costs no lookups at all.
    const solve = (from: number, to: number, lo: number, hi: number): void => {
      if (from > to) return;
      const mid = (from + to) >> 1;
      const first = this.firstAtOrAfter(order[mid]!.at, lo, hi);
      out[order[mid]!.i] = first - 1;
      solve(from, mid - 1, lo, first - 1);
      solve(mid + 1, to, first, hi);
    };
    solve(0, order.length - 1, 1, last);
    return out;
  }

  /** The first seq in [lo, hi] whose event was received at or after `at`; hi + 1 when none. */
  private firstAtOrAfter(at: string, lo: number, hi: number): number {
    let found = hi + 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.stmts.probe.get(mid);
      if (!row || row.seq > hi) {
        hi = mid - 1;
      } else if (row.received_at >= at) {
        found = row.seq;
        hi = mid - 1;
      } else {
        lo = row.seq + 1;
      }
    }
    return found;
  }
}
