/*
 * The event log is the outbox (store/log-outbox.ts): a destination's cursor says "every event up
 * to here is done", so a reader must never see event 105 committed while 104 may still commit.
 * PostgreSQL hands out identity values when rows are inserted, not when they commit: two ingest
 * transactions (two group commits of one receiver, or two receivers) can take 104 and 105 and
 * commit in the other order. A reader between the two commits would move past 104 for ever.
 *
 * So every transaction that inserts events takes one transaction-scoped advisory lock first,
 * just before its events get their seqs, and holds it to its commit: the lock is released only
 * after the commit is visible, so the next inserter's seqs are all higher than every seq already
 * visible, and what a reader sees of the log is always a prefix of it (with the gaps of rolled
 * back inserts, which never fill). The cost is that ingest commits of one schema no longer
 * overlap from their insert of events to their COMMIT; the steps before it (BEGIN, the
 * evaluation locks) still do. Measured on 2 shared cores (PostgresStore.ingest, 50 in flight,
 * 5-8 s runs, medians of 6): one receiver, no difference beyond the noise (5.0k events/s with
 * the lock, 4.4k without); two receivers on one schema, about a fifth fewer (4.3k against 5.3k).
 *
 * Considered instead: an xid8 column and reading only below pg_snapshot_xmin. Unsafe as such: a
 * transaction that started earlier can hold a lower xid and a higher seq than one still running,
 * so "xid below the horizon" does not say "no lower seq is still to come", and a long-running
 * unrelated transaction would hold every destination back.
 *
 * Keyed by schema, as the evaluation locks are: tenants or test schemas sharing a database do
 * not queue on each other.
 */

/** The key of the log's advisory lock, as SQL (evaluated in the caller's search_path). */
export const LOG_LOCK_KEY = `hashtextextended('docv-webhooks:log:' || current_schema(), 0)`;

/**
 * The NOTIFY channel of new events in this schema, as SQL: a digest, so any schema name fits in a
 * channel name (63 bytes at most).
 */
export const LOG_CHANNEL = `'docv_log_' || md5(current_schema())`;
