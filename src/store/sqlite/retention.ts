import type Database from 'better-sqlite3';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { customerHash, emptyErasureCounts, ERASURE_SALT_STATE, newErasureSalt } from '../erasure.js';
import { newId } from '../ids.js';
import { FINISHED_STATUSES } from '../retention-policy.js';
import {
  EMPTY_BODY,
  EVENTS_POSITION,
  RAW_WATERMARK,
  retentionSourceTest,
  retentionStateName,
  type RetentionDeleted,
} from '../retention.js';
import {
  NO_TRANSACTION,
  sourceOfColumn,
  transactionColumn,
  transactionKeyRange,
  transactionOfColumn,
} from '../rows.js';
import type {
  ErasureCounts,
  ErasureRecord,
  Page,
  PageRequest,
  RetentionStep,
  RetentionStepResult,
  Tombstone,
} from '../types.js';
import { unindexedWalk } from '../unindexed-walk.js';
import { Where, whereSources } from '../where.js';
import { SqliteLogPositions } from './log-positions.js';

/**
 * The canonical fields of a flat event from its columns (its payload said them all: see
 * contract/stored-event.ts), so it reads back the same once the payload is gone. json_patch drops
 * the keys whose value is NULL.
 */
const FLAT_CANONICAL = `json_patch(json_object('dialect', 'asyncapi', 'eventType', event_type,
    'docvTransactionId', NULLIF(${idOfKey('docv_transaction_id')}, ''), 'eventTime', event_time, 'eventTimeSource', 'event',
    'test', json('false')), json_object('customerUserId', customer_user_id, 'decision', decision))`;

/** The transaction id of a transaction key column in SQL (rows.ts, transactionOfColumn): the part before U+001F. */
function idOfKey(column: string): string {
  return `CASE WHEN instr(${column}, char(31)) > 0 THEN substr(${column}, 1, instr(${column}, char(31)) - 1) ELSE ${column} END`;
}

/**
 * Retention and erasure on SQLite. Every method but the reads runs inside the store's write queue
 * (one step, one commit of at most about `limit` rows), so a step holds the writer for one short
 * commit and ingest goes on between steps.
 */
export class SqliteRetention {
  private readonly positions: SqliteLogPositions;

  constructor(private readonly db: Database.Database) {
    this.positions = new SqliteLogPositions(db);
  }

  step(step: RetentionStep): RetentionStepResult {
    switch (step.kind) {
      case 'raw':
        return this.removeRaw(step);
      case 'events':
        return this.removeTransactions(step);
      case 'quarantine':
        return this.removeQuarantine(step);
      case 'tombstones':
        return this.forgetTombstones(step);
    }
  }

  /**
   * The log position up to which no log destination owes anything (every cursor is at or past
   * it, or stopped before it), and the destination whose cursor sets it.
   */
  private owedAfter(): { seq: number; destination: string | null } {
    const row = this.db
      .prepare<[], { destination: string; upto: number }>(
        `SELECT destination, MAX(seq, from_seq) AS upto FROM destination_cursors
          WHERE until_seq IS NULL OR until_seq > MAX(seq, from_seq) ORDER BY upto LIMIT 1`,
      )
      .get();
    return row ? { seq: row.upto, destination: row.destination } : { seq: Number.MAX_SAFE_INTEGER, destination: null };
  }

  private state(name: string): string | null {
    return (
      this.db.prepare<[string], { value: string }>('SELECT value FROM retention_state WHERE name = ?').get(name)
        ?.value ?? null
    );
  }

  private clearState(name: string): void {
    this.db.prepare('DELETE FROM retention_state WHERE name = ?').run(name);
  }

  private setState(name: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO retention_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      )
      .run(name, value);
  }

  /**
   * Empties the raw body and headers of events received before `before`, in log order behind a
   * watermark, and drops the document data fetched with their decisions. Stops short of what a
   * destination owes: the first event past a cursor or with a delivery pending or failing.
   */
  private removeRaw(step: RetentionStep): RetentionStepResult {
    const bounds = this.db.prepare<[], { min: number | null }>('SELECT MIN(seq) AS min FROM events').get();
    if (bounds?.min == null) return { removed: 0, done: true };
    const watermark = retentionStateName(RAW_WATERMARK, step.sources);
    const from = Math.max(Number(this.state(watermark) ?? 0), bounds.min - 1);
    const [cutoff] = this.positions.positionsAt([step.before]);
    const owed = this.owedAfter();
    let target = Math.min(cutoff!, owed.seq);
    let heldBy = owed.seq < cutoff! ? (owed.destination ?? undefined) : undefined;
    let upTo = Math.min(target, from + step.limit);
    // Of the step's sources only (the event's, joined): other sources' events are not touched.
    const pendingWhere = new Where('?')
      .add('d.event_seq > ?', from)
      .add('d.event_seq <= ?', upTo)
      .raw(`d.state IN ('pending', 'failed')`);
    whereSources(pendingWhere, '(SELECT source FROM events WHERE seq = d.event_seq)', step.sources);
    const pending = this.db
      .prepare<unknown[], { event_seq: number; destination: string }>(
        `SELECT d.event_seq, d.destination FROM deliveries d ${pendingWhere} ORDER BY d.event_seq LIMIT 1`,
      )
      .get(...pendingWhere.values);
    if (pending) {
      upTo = target = pending.event_seq - 1;
      heldBy = pending.destination;
    }
    if (upTo <= from) return { removed: 0, done: true, heldBy };
    const at = step.now.toISOString();
    const due = whereSources(
      new Where('?').add('seq > ?', from).add('seq <= ?', upTo).raw('raw_removed_at IS NULL'),
      'source',
      step.sources,
    );
    this.db
      .prepare(
        `UPDATE decisions SET details = NULL WHERE details IS NOT NULL
            AND event_id IN (SELECT event_id FROM events ${due})`,
      )
      .run(...due.values);
    const removed = this.db
      .prepare(
        `UPDATE events SET raw_body = ?, headers = '{}', raw_removed_at = ?, canonical = COALESCE(canonical, ${FLAT_CANONICAL})
          ${due}`,
      )
      .run(EMPTY_BODY, at, ...due.values).changes;
    this.setState(watermark, String(upTo));
    return { removed, done: upTo >= target, heldBy };
  }

  /**
   * Finished transactions last active before `before`, oldest first, each whole (events,
   * deliveries, attempts, decisions, then the row, leaving a tombstone), and events of no
   * transaction received before it. A transaction a destination still owes an event of stops the
   * step: it and the newer ones wait for the next run.
   */
  private removeTransactions(step: RetentionStep): RetentionStepResult {
    const before = step.before.toISOString();
    const owed = this.owedAfter();
    const walk = this.finishedBefore(step, before);
    const deleted: RetentionDeleted = { seqs: [], counts: emptyErasureCounts() };
    let heldBy: string | undefined;
    let stopped = false;
    let taken = 0;
    let through: { at: string; seq: number } | null = null;
    for (const c of walk.rows) {
      if (deleted.seqs.length >= step.limit || taken >= step.limit) {
        stopped = true;
        break;
      }
      if (walk.takes(c.source)) {
        const hold = this.holdOn(c.docv_transaction_id, owed);
        if (hold) {
          heldBy = hold;
          break;
        }
        this.deleteTransaction(c.docv_transaction_id, 'retention', step.now, deleted);
        taken++;
      }
      through = { at: c.last_received_at, seq: c.seq };
    }
    // More may be due past the rows examined: the step stopped, or examined as many as it may.
    const more = stopped || walk.rows.length >= walk.bound;
    if (walk.position !== null) {
      if (heldBy !== undefined || !more) this.clearState(walk.position);
      else if (through !== null) this.setState(walk.position, JSON.stringify(through));
    }
    let orphansDone = true;
    if (!heldBy && !stopped) {
      // Events of no transaction (test events, notes never linked): by receipt, one by one.
      const room = Math.max(1, step.limit - deleted.seqs.length);
      const due = whereSources(
        new Where('?')
          .raw(`docv_transaction_id = '${NO_TRANSACTION}'`)
          .add('received_at < ?', before)
          .add('seq <= ?', owed.seq),
        'source',
        step.sources,
      );
      const orphans = this.db
        .prepare<unknown[], { seq: number; event_id: string }>(
          `SELECT seq, event_id FROM events ${due} ORDER BY seq LIMIT ${due.param(room)}`,
        )
        .all(...due.values);
      for (const o of orphans) {
        if (this.pendingRowOf(o.seq)) continue;
        this.deleteEvents([o], deleted);
      }
      orphansDone = orphans.length < Math.max(1, step.limit - deleted.seqs.length);
    }
    this.noteDeletions(deleted.seqs, step.now);
    return {
      removed: deleted.counts.events,
      done: heldBy !== undefined || (!more && orphansDone),
      heldBy,
    };
  }

  /**
   * The finished transactions last active before `before`, oldest first, that an events step
   * examines: without sources, the first `limit` (each is taken). With sources (retention per
   * source), the source is tested on each row (no index has it: migration 11), so the step
   * examines at most `bound` rows from where the previous step of those sources stopped
   * (`position` in retention_state, cleared when a step reaches the end): however many
   * transactions of other sources are older, a step holds the writer for a bounded time, and
   * the run moves past them.
   */
  private finishedBefore(
    step: RetentionStep,
    before: string,
  ): {
    rows: Array<{ docv_transaction_id: string; last_received_at: string; seq: number; source: string }>;
    bound: number;
    takes: (source: string) => boolean;
    position: string | null;
  } {
    const scoped = step.sources !== undefined;
    const position = scoped ? retentionStateName(EVENTS_POSITION, step.sources) : null;
    const after =
      position === null ? null : (JSON.parse(this.state(position) ?? 'null') as { at: string; seq: number } | null);
    const bound = scoped ? Math.max(step.limit, Math.min(unindexedWalk(), step.limit * 10)) : step.limit;
    const keyset = after === null ? '' : 'AND (last_received_at, seq) > (@afterAt, @afterSeq)';
    const rows = this.db
      .prepare<
        [Record<string, unknown>],
        { docv_transaction_id: string; last_received_at: string; seq: number; source: string }
      >(
        `SELECT docv_transaction_id, last_received_at, seq, source FROM (
           ${FINISHED_STATUSES.map(
             (s) =>
               `SELECT * FROM (SELECT docv_transaction_id, last_received_at, seq, source FROM transactions
                  WHERE status = '${s}' AND last_received_at < @before ${keyset} ORDER BY last_received_at, seq LIMIT @limit)`,
           ).join(' UNION ALL ')}
         ) ORDER BY last_received_at, seq LIMIT @limit`,
      )
      .all({ before, limit: bound, ...(after === null ? {} : { afterAt: after.at, afterSeq: after.seq }) });
    return { rows, bound, takes: retentionSourceTest(step.sources), position };
  }

  /** Why the transaction's events cannot go yet: the destination that still owes one, or null. */
  private holdOn(docvTransactionId: string, owed: { seq: number; destination: string | null }): string | null {
    const last = this.db
      .prepare<[string], { seq: number | null }>('SELECT MAX(seq) AS seq FROM events WHERE docv_transaction_id = ?')
      .get(docvTransactionId);
    if (last?.seq != null && last.seq > owed.seq) return owed.destination ?? 'a destination';
    const row = this.db
      .prepare<[string], { destination: string }>(
        `SELECT destination FROM deliveries WHERE docv_transaction_id = ? AND state IN ('pending', 'failed') LIMIT 1`,
      )
      .get(docvTransactionId);
    return row?.destination ?? null;
  }

  private pendingRowOf(seq: number): boolean {
    return (
      this.db
        .prepare<[number], { n: number }>(
          `SELECT 1 AS n FROM deliveries WHERE event_seq = ? AND state IN ('pending', 'failed') LIMIT 1`,
        )
        .get(seq) !== undefined
    );
  }

  /** A transaction whole: its deliveries and their attempts, decisions, events, the row; a tombstone says why. */
  private deleteTransaction(
    docvTransactionId: string,
    reason: Tombstone['reason'],
    now: Date,
    deleted: RetentionDeleted,
  ): void {
    const events = this.db
      .prepare<[string], { seq: number; event_id: string }>(
        'SELECT seq, event_id FROM events WHERE docv_transaction_id = ?',
      )
      .all(docvTransactionId);
    deleted.counts.attempts += this.db
      .prepare(
        'DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT delivery_id FROM deliveries WHERE docv_transaction_id = ?)',
      )
      .run(docvTransactionId).changes;
    deleted.counts.deliveries += this.db
      .prepare('DELETE FROM deliveries WHERE docv_transaction_id = ?')
      .run(docvTransactionId).changes;
    deleted.counts.decisions += this.db
      .prepare('DELETE FROM decisions WHERE docv_transaction_id = ?')
      .run(docvTransactionId).changes;
    deleted.counts.events += this.db
      .prepare('DELETE FROM events WHERE docv_transaction_id = ?')
      .run(docvTransactionId).changes;
    for (const e of events) deleted.seqs.push(e.seq);
    deleted.counts.transactions += this.db
      .prepare('DELETE FROM transactions WHERE docv_transaction_id = ?')
      .run(docvTransactionId).changes;
    this.db
      .prepare(
        `INSERT INTO tombstones (docv_transaction_id, removed_at, reason) VALUES (?, ?, ?)
           ON CONFLICT (docv_transaction_id) DO UPDATE SET removed_at = excluded.removed_at, reason = excluded.reason`,
      )
      .run(docvTransactionId, now.toISOString(), reason);
  }

  /** Events one by one (those of no transaction), with their deliveries, attempts and decisions. */
  private deleteEvents(events: Array<{ seq: number; event_id: string }>, deleted: RetentionDeleted): void {
    for (const e of events) {
      deleted.counts.attempts += this.db
        .prepare(
          'DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT delivery_id FROM deliveries WHERE event_seq = ?)',
        )
        .run(e.seq).changes;
      deleted.counts.deliveries += this.db.prepare('DELETE FROM deliveries WHERE event_seq = ?').run(e.seq).changes;
      deleted.counts.decisions += this.db.prepare('DELETE FROM decisions WHERE event_id = ?').run(e.event_id).changes;
      deleted.counts.events += this.db.prepare('DELETE FROM events WHERE seq = ?').run(e.seq).changes;
      deleted.seqs.push(e.seq);
    }
  }

  /** One row per batch: the span of positions it deleted from and how many (log-views.ts, eventsBetween). */
  private noteDeletions(seqs: number[], now: Date): void {
    if (seqs.length === 0) return;
    let min = seqs[0]!;
    let max = seqs[0]!;
    for (const s of seqs) {
      if (s < min) min = s;
      if (s > max) max = s;
    }
    this.db
      .prepare('INSERT INTO log_deletions (min_seq, max_seq, deleted, at) VALUES (?, ?, ?, ?)')
      .run(min, max, seqs.length, now.toISOString());
  }

  private removeQuarantine(step: RetentionStep): RetentionStepResult {
    const due = whereSources(new Where('?').add('received_at < ?', step.before.toISOString()), 'source', step.sources);
    const removed = this.db
      .prepare(
        `DELETE FROM quarantine WHERE seq IN (SELECT seq FROM quarantine ${due} ORDER BY seq LIMIT ${due.param(step.limit)})`,
      )
      .run(...due.values).changes;
    return { removed, done: removed < step.limit };
  }

  /** Tombstones older than `before`; and deletion records wholly below the log's first event (nothing counts them). */
  private forgetTombstones(step: RetentionStep): RetentionStepResult {
    const removed = this.db
      .prepare(
        'DELETE FROM tombstones WHERE rowid IN (SELECT rowid FROM tombstones WHERE removed_at < ? ORDER BY removed_at LIMIT ?)',
      )
      .run(step.before.toISOString(), step.limit).changes;
    this.db.prepare('DELETE FROM log_deletions WHERE max_seq < COALESCE((SELECT MIN(seq) FROM events), 0)').run();
    return { removed, done: removed < step.limit };
  }

  // Erasure

  eraseStep(customerUserId: string, limit: number, now: Date): { counts: ErasureCounts; done: boolean } {
    const deleted: RetentionDeleted = { seqs: [], counts: emptyErasureCounts() };
    const transactions = this.db
      .prepare<[string, number], { docv_transaction_id: string }>(
        'SELECT docv_transaction_id FROM transactions WHERE customer_user_id = ? ORDER BY seq LIMIT ?',
      )
      .all(customerUserId, limit);
    for (const t of transactions) {
      this.deleteTransaction(t.docv_transaction_id, 'erasure', now, deleted);
      if (deleted.seqs.length >= limit) break;
    }
    const room = Math.max(0, limit - deleted.seqs.length);
    const orphans = this.db
      .prepare<[string, string, number], { seq: number; event_id: string }>(
        'SELECT seq, event_id FROM events WHERE docv_transaction_id = ? AND customer_user_id = ? ORDER BY seq LIMIT ?',
      )
      .all(NO_TRANSACTION, customerUserId, room);
    this.deleteEvents(orphans, deleted);
    const roomLeft = Math.max(0, limit - deleted.seqs.length);
    deleted.counts.quarantine += this.db
      .prepare(
        'DELETE FROM quarantine WHERE seq IN (SELECT seq FROM quarantine WHERE customer_user_id = ? ORDER BY seq LIMIT ?)',
      )
      .run(customerUserId, roomLeft).changes;
    this.noteDeletions(deleted.seqs, now);
    const left = this.db
      .prepare<[{ customer: string; none: string }], { n: number }>(
        `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM transactions WHERE customer_user_id = @customer LIMIT 1))
              + (SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE docv_transaction_id = @none AND customer_user_id = @customer LIMIT 1))
              + (SELECT COUNT(*) FROM (SELECT 1 FROM quarantine WHERE customer_user_id = @customer LIMIT 1)) AS n`,
      )
      .get({ customer: customerUserId, none: NO_TRANSACTION });
    return { counts: deleted.counts, done: (left?.n ?? 0) === 0 };
  }

  /** The store's salt for customer hashes, made on first use. */
  private salt(): string {
    let salt = this.state(ERASURE_SALT_STATE);
    if (salt === null) {
      salt = newErasureSalt();
      this.setState(ERASURE_SALT_STATE, salt);
    }
    return salt;
  }

  recordErasure(customerUserId: string, counts: ErasureCounts, at: Date): ErasureRecord {
    const record: ErasureRecord = {
      erasureId: newId('era', at.getTime()),
      at: at.toISOString(),
      customerHash: customerHash(this.salt(), customerUserId),
      counts,
    };
    this.db
      .prepare('INSERT INTO erasures (erasure_id, at, customer_hash, counts) VALUES (?, ?, ?, ?)')
      .run(record.erasureId, record.at, record.customerHash, JSON.stringify(counts));
    return record;
  }

  /** Reads (no write queue): a store without a salt yet has erased nobody. */
  listErasures(filter: PageRequest & { customerUserId?: string | undefined }): Page<ErasureRecord> {
    const after = decodeCursor(filter.cursor, 'p');
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (after !== null) {
      conditions.push('seq < ?');
      values.push(after);
    }
    if (filter.customerUserId !== undefined) {
      const salt = this.state(ERASURE_SALT_STATE);
      if (salt === null) return { items: [], nextCursor: null };
      conditions.push('customer_hash = ?');
      values.push(customerHash(salt, filter.customerUserId));
    }
    const rows = this.db
      .prepare<unknown[], { seq: number; erasure_id: string; at: string; customer_hash: string; counts: string }>(
        `SELECT seq, erasure_id, at, customer_hash, counts FROM erasures
          ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...values, filter.limit + 1);
    const items = rows.slice(0, filter.limit);
    return {
      items: items.map((r) => ({
        erasureId: r.erasure_id,
        at: r.at,
        customerHash: r.customer_hash,
        counts: JSON.parse(r.counts) as ErasureCounts,
      })),
      nextCursor: rows.length > filter.limit ? encodeCursor(items.at(-1)!.seq, 'p') : null,
    };
  }

  /**
   * The tombstone of the id under `source`; without one, under any source (the default's first,
   * then the others' keys: rows.ts, transactionKeyRange), the first found.
   */
  tombstone(docvTransactionId: string, source?: string): Tombstone | null {
    type Row = { docv_transaction_id: string; removed_at: string; reason: Tombstone['reason'] };
    const columns = 'docv_transaction_id, removed_at, reason';
    let row: Row | undefined;
    if (source !== undefined) {
      row = this.db
        .prepare<[string], Row>(`SELECT ${columns} FROM tombstones WHERE docv_transaction_id = ?`)
        .get(transactionColumn(docvTransactionId, source));
    } else {
      const { exact, from, to } = transactionKeyRange(docvTransactionId);
      row = this.db
        .prepare<[string, string, string], Row>(
          `SELECT * FROM (SELECT ${columns} FROM tombstones WHERE docv_transaction_id = ?)
           UNION ALL
           SELECT * FROM (SELECT ${columns} FROM tombstones WHERE docv_transaction_id >= ? AND docv_transaction_id < ? LIMIT 1)
           LIMIT 1`,
        )
        .get(exact, from, to);
    }
    if (!row) return null;
    const rowSource = sourceOfColumn(row.docv_transaction_id);
    return {
      docvTransactionId: transactionOfColumn(row.docv_transaction_id, rowSource) ?? row.docv_transaction_id,
      source: rowSource,
      removedAt: row.removed_at,
      reason: row.reason,
    };
  }
}
