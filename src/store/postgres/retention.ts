import type pg from 'pg';
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
import { NO_TRANSACTION, sourceOfColumn, transactionColumn } from '../rows.js';
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
import { inTransaction } from './connection.js';
import { pgText } from './pg-text.js';
import { keysOfSql } from './source-keys.js';

/*
 * Retention and erasure on PostgreSQL: the rules of sqlite/retention.ts (the comments are there),
 * each step one transaction. Several instances on one schema may run the job at once: a step takes
 * a transaction-scoped advisory lock first and, when another instance holds it, does nothing (that
 * one is doing the work).
 */

const CUSTOMER_KEY = `left(customer_user_id, 256) COLLATE "C"`;

/**
 * The flat event's canonical fields from its columns (json_strip_nulls drops the absent ones).
 * The transaction id is the key's part before U+001F (rows.ts, transactionColumn).
 */
const FLAT_CANONICAL = `json_strip_nulls(json_build_object('dialect', 'asyncapi', 'eventType', event_type,
    'docvTransactionId', NULLIF(split_part(docv_transaction_id, chr(31), 1), ''), 'eventTime', event_time, 'eventTimeSource', 'event',
    'test', false, 'customerUserId', customer_user_id, 'decision', decision))`;

type Client = pg.PoolClient;

async function lockRetention(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    "SELECT pg_try_advisory_xact_lock(hashtextextended('docv-webhooks:retention:' || current_schema(), 0)) AS ok",
  );
  return rows[0]?.ok === true;
}

async function owedAfter(client: Client): Promise<{ seq: number; destination: string | null }> {
  const { rows } = await client.query<{ destination: string; upto: string }>(
    `SELECT destination, GREATEST(seq, from_seq) AS upto FROM destination_cursors
      WHERE until_seq IS NULL OR until_seq > GREATEST(seq, from_seq) ORDER BY upto LIMIT 1`,
  );
  const row = rows[0];
  return row
    ? { seq: Number(row.upto), destination: row.destination }
    : { seq: Number.MAX_SAFE_INTEGER, destination: null };
}

async function state(client: Client | pg.Pool, name: string): Promise<string | null> {
  const { rows } = await client.query<{ value: string }>('SELECT value FROM retention_state WHERE name = $1', [name]);
  return rows[0]?.value ?? null;
}

async function clearState(client: Client, name: string): Promise<void> {
  await client.query('DELETE FROM retention_state WHERE name = $1', [name]);
}

async function setState(client: Client, name: string, value: string): Promise<void> {
  await client.query(
    'INSERT INTO retention_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    [name, value],
  );
}

/**
 * `positionAt(before)`: the last seq received before `before` (a binary search on seq, as the
 * console's receipt counts: PostgresLogViews.positionsAt).
 */
export type PositionAt = (before: Date) => Promise<number>;

export async function retentionStep(
  pool: pg.Pool,
  step: RetentionStep,
  positionAt: PositionAt,
): Promise<RetentionStepResult> {
  const cutoff = step.kind === 'raw' ? await positionAt(step.before) : 0;
  return inTransaction(pool, async (client) => {
    if (!(await lockRetention(client))) return { removed: 0, done: true };
    switch (step.kind) {
      case 'raw':
        return removeRaw(client, step, cutoff);
      case 'events':
        return removeTransactions(client, step);
      case 'quarantine':
        return removeQuarantine(client, step);
      case 'tombstones':
        return forgetTombstones(client, step);
    }
  });
}

async function removeRaw(client: Client, step: RetentionStep, cutoff: number): Promise<RetentionStepResult> {
  const bounds = await client.query<{ min: string | null }>('SELECT MIN(seq) AS min FROM events');
  if (bounds.rows[0]?.min == null) return { removed: 0, done: true };
  const watermark = retentionStateName(RAW_WATERMARK, step.sources);
  const from = Math.max(Number((await state(client, watermark)) ?? 0), Number(bounds.rows[0].min) - 1);
  const owed = await owedAfter(client);
  let target = Math.min(cutoff, owed.seq);
  let heldBy = owed.seq < cutoff ? (owed.destination ?? undefined) : undefined;
  let upTo = Math.min(target, from + step.limit);
  // Of the step's sources only (the event's: deliveries has no source): other sources' events are not touched.
  const pendingWhere = new Where('$n')
    .add('d.event_seq > ?', from)
    .add('d.event_seq <= ?', upTo)
    .raw(`d.state IN ('pending', 'failed')`);
  whereSources(pendingWhere, '(SELECT e.source FROM events e WHERE e.seq = d.event_seq)', step.sources);
  const pending = await client.query<{ event_seq: string; destination: string }>(
    `SELECT d.event_seq, d.destination FROM deliveries d ${pendingWhere} ORDER BY d.event_seq LIMIT 1`,
    pendingWhere.values,
  );
  if (pending.rows[0]) {
    upTo = target = Number(pending.rows[0].event_seq) - 1;
    heldBy = pending.rows[0].destination;
  }
  if (upTo <= from) return { removed: 0, done: true, heldBy };
  const due = (where: Where) =>
    whereSources(
      where.add('seq > ?', from).add('seq <= ?', upTo).raw('raw_removed_at IS NULL'),
      'source',
      step.sources,
    );
  const decisions = due(new Where('$n'));
  await client.query(
    `UPDATE decisions SET details = NULL WHERE details IS NOT NULL AND event_id IN (SELECT event_id FROM events ${decisions})`,
    decisions.values,
  );
  const events = new Where('$n');
  const body = events.param(EMPTY_BODY);
  const at = events.param(step.now);
  due(events);
  const updated = await client.query(
    `UPDATE events SET raw_body = ${body}, headers = '{}'::json, raw_removed_at = ${at},
            canonical = COALESCE(canonical, ${FLAT_CANONICAL})
      ${events}`,
    events.values,
  );
  await setState(client, watermark, String(upTo));
  return { removed: updated.rowCount ?? 0, done: upTo >= target, heldBy };
}

async function removeTransactions(client: Client, step: RetentionStep): Promise<RetentionStepResult> {
  const owed = await owedAfter(client);
  const walk = await finishedBefore(client, step);
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
      const hold = await holdOn(client, c.docv_transaction_id, owed);
      if (hold) {
        heldBy = hold;
        break;
      }
      await deleteTransaction(client, c.docv_transaction_id, 'retention', step.now, deleted);
      taken++;
    }
    through = { at: c.last_received_at, seq: Number(c.seq) };
  }
  // More may be due past the rows examined: the step stopped, or examined as many as it may.
  const more = stopped || walk.rows.length >= walk.bound;
  if (walk.position !== null) {
    if (heldBy !== undefined || !more) await clearState(client, walk.position);
    else if (through !== null) await setState(client, walk.position, JSON.stringify(through));
  }
  let orphansDone = true;
  if (!heldBy && !stopped) {
    const room = Math.max(1, step.limit - deleted.seqs.length);
    const due = whereSources(
      new Where('$n')
        .raw(`docv_transaction_id = '${NO_TRANSACTION}'`)
        .add('received_at < ?', step.before)
        .add('seq <= ?', Math.min(owed.seq, Number.MAX_SAFE_INTEGER))
        .raw(`NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.state IN ('pending', 'failed'))`),
      'source',
      step.sources,
    );
    const { rows: orphans } = await client.query<{ seq: string; event_id: string }>(
      `SELECT seq, event_id FROM events e ${due} ORDER BY seq LIMIT ${due.param(room)}`,
      due.values,
    );
    await deleteEvents(client, orphans, deleted);
    orphansDone = orphans.length < room;
  }
  await noteDeletions(client, deleted.seqs, step.now);
  return {
    removed: deleted.counts.events,
    done: heldBy !== undefined || (!more && orphansDone),
    heldBy,
  };
}

/**
 * The finished transactions last active before `step.before`, oldest first, that an events step
 * examines: without sources, the first `limit` (each is taken). With sources (retention per
 * source), the source is tested on each row (no index has it: migration 12), so the step examines
 * at most `bound` rows from where the previous step of those sources stopped (`position` in
 * retention_state, cleared when a step reaches the end): however many transactions of other
 * sources are older, a step is one short commit, and the run moves past them.
 */
async function finishedBefore(
  client: Client,
  step: RetentionStep,
): Promise<{
  rows: Array<{ docv_transaction_id: string; last_received_at: string; seq: string; source: string }>;
  bound: number;
  takes: (source: string) => boolean;
  position: string | null;
}> {
  const scoped = step.sources !== undefined;
  const position = scoped ? retentionStateName(EVENTS_POSITION, step.sources) : null;
  const after =
    position === null
      ? null
      : (JSON.parse((await state(client, position)) ?? 'null') as { at: string; seq: number } | null);
  const bound = scoped ? Math.max(step.limit, Math.min(unindexedWalk(), step.limit * 10)) : step.limit;
  const values: unknown[] = [step.before.toISOString(), bound];
  // last_received_at is ISO 8601 text of one format: its order is the time order.
  const keyset = after === null ? '' : `AND (last_received_at, seq) > ($3, $4)`;
  if (after !== null) values.push(after.at, after.seq);
  const { rows } = await client.query<{
    docv_transaction_id: string;
    last_received_at: string;
    seq: string;
    source: string;
  }>(
    `SELECT docv_transaction_id, last_received_at, seq, source FROM (
       ${FINISHED_STATUSES.map(
         (s) =>
           `(SELECT docv_transaction_id, last_received_at, seq, source FROM transactions
              WHERE status = '${s}' AND last_received_at < $1 ${keyset} ORDER BY last_received_at, seq LIMIT $2)`,
       ).join(' UNION ALL ')}
     ) c ORDER BY last_received_at, seq LIMIT $2`,
    values,
  );
  return { rows, bound, takes: retentionSourceTest(step.sources), position };
}

async function holdOn(
  client: Client,
  docvTransactionId: string,
  owed: { seq: number; destination: string | null },
): Promise<string | null> {
  const last = await client.query<{ seq: string | null }>(
    'SELECT MAX(seq) AS seq FROM events WHERE docv_transaction_id = $1',
    [docvTransactionId],
  );
  const lastSeq = last.rows[0]?.seq;
  if (lastSeq != null && Number(lastSeq) > owed.seq) return owed.destination ?? 'a destination';
  const row = await client.query<{ destination: string }>(
    `SELECT destination FROM deliveries WHERE docv_transaction_id = $1 AND state IN ('pending', 'failed') LIMIT 1`,
    [docvTransactionId],
  );
  return row.rows[0]?.destination ?? null;
}

async function deleteTransaction(
  client: Client,
  docvTransactionId: string,
  reason: Tombstone['reason'],
  now: Date,
  deleted: RetentionDeleted,
): Promise<void> {
  const id = [docvTransactionId];
  deleted.counts.attempts +=
    (
      await client.query(
        'DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT delivery_id FROM deliveries WHERE docv_transaction_id = $1)',
        id,
      )
    ).rowCount ?? 0;
  deleted.counts.deliveries +=
    (await client.query('DELETE FROM deliveries WHERE docv_transaction_id = $1', id)).rowCount ?? 0;
  deleted.counts.decisions +=
    (await client.query('DELETE FROM decisions WHERE docv_transaction_id = $1', id)).rowCount ?? 0;
  const events = await client.query<{ seq: string }>(
    'DELETE FROM events WHERE docv_transaction_id = $1 RETURNING seq',
    id,
  );
  deleted.counts.events += events.rowCount ?? 0;
  for (const e of events.rows) deleted.seqs.push(Number(e.seq));
  deleted.counts.transactions +=
    (await client.query('DELETE FROM transactions WHERE docv_transaction_id = $1', id)).rowCount ?? 0;
  await client.query(
    `INSERT INTO tombstones (docv_transaction_id, removed_at, reason) VALUES ($1, $2, $3)
       ON CONFLICT (docv_transaction_id) DO UPDATE SET removed_at = excluded.removed_at, reason = excluded.reason`,
    [docvTransactionId, now, reason],
  );
}

async function deleteEvents(
  client: Client,
  events: Array<{ seq: string | number; event_id: string }>,
  deleted: RetentionDeleted,
): Promise<void> {
  if (events.length === 0) return;
  const seqs = events.map((e) => Number(e.seq));
  const ids = events.map((e) => e.event_id);
  deleted.counts.attempts +=
    (
      await client.query(
        'DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT delivery_id FROM deliveries WHERE event_seq = ANY($1::bigint[]))',
        [seqs],
      )
    ).rowCount ?? 0;
  deleted.counts.deliveries +=
    (await client.query('DELETE FROM deliveries WHERE event_seq = ANY($1::bigint[])', [seqs])).rowCount ?? 0;
  deleted.counts.decisions +=
    (await client.query('DELETE FROM decisions WHERE event_id = ANY($1::text[])', [ids])).rowCount ?? 0;
  deleted.counts.events +=
    (await client.query('DELETE FROM events WHERE seq = ANY($1::bigint[])', [seqs])).rowCount ?? 0;
  deleted.seqs.push(...seqs);
}

async function noteDeletions(client: Client, seqs: number[], now: Date): Promise<void> {
  if (seqs.length === 0) return;
  let min = seqs[0]!;
  let max = seqs[0]!;
  for (const s of seqs) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  await client.query('INSERT INTO log_deletions (min_seq, max_seq, deleted, at) VALUES ($1, $2, $3, $4)', [
    min,
    max,
    seqs.length,
    now,
  ]);
}

async function removeQuarantine(client: Client, step: RetentionStep): Promise<RetentionStepResult> {
  const due = whereSources(new Where('$n').add('received_at < ?', step.before), 'source', step.sources);
  const removed =
    (
      await client.query(
        `DELETE FROM quarantine WHERE seq IN (SELECT seq FROM quarantine ${due} ORDER BY seq LIMIT ${due.param(step.limit)})`,
        due.values,
      )
    ).rowCount ?? 0;
  return { removed, done: removed < step.limit };
}

async function forgetTombstones(client: Client, step: RetentionStep): Promise<RetentionStepResult> {
  const removed =
    (
      await client.query(
        `DELETE FROM tombstones WHERE docv_transaction_id IN
           (SELECT docv_transaction_id FROM tombstones WHERE removed_at < $1 ORDER BY removed_at LIMIT $2)`,
        [step.before, step.limit],
      )
    ).rowCount ?? 0;
  await client.query('DELETE FROM log_deletions WHERE max_seq < COALESCE((SELECT MIN(seq) FROM events), 0)');
  return { removed, done: removed < step.limit };
}

// Erasure

export async function eraseStep(
  pool: pg.Pool,
  customerUserId: string,
  limit: number,
  now: Date,
): Promise<{ counts: ErasureCounts; done: boolean }> {
  const customer = pgText(customerUserId);
  return inTransaction(pool, async (client) => {
    const deleted: RetentionDeleted = { seqs: [], counts: emptyErasureCounts() };
    const { rows: transactions } = await client.query<{ docv_transaction_id: string }>(
      `SELECT docv_transaction_id FROM transactions
        WHERE ${CUSTOMER_KEY} = left($1::text, 256) AND customer_user_id = $1 ORDER BY seq LIMIT $2`,
      [customer, limit],
    );
    for (const t of transactions) {
      await deleteTransaction(client, t.docv_transaction_id, 'erasure', now, deleted);
      if (deleted.seqs.length >= limit) break;
    }
    const room = Math.max(0, limit - deleted.seqs.length);
    const { rows: orphans } = await client.query<{ seq: string; event_id: string }>(
      'SELECT seq, event_id FROM events WHERE docv_transaction_id = $1 AND customer_user_id = $2 ORDER BY seq LIMIT $3',
      [NO_TRANSACTION, customer, room],
    );
    await deleteEvents(client, orphans, deleted);
    const roomLeft = Math.max(0, limit - deleted.seqs.length);
    deleted.counts.quarantine +=
      (
        await client.query(
          `DELETE FROM quarantine WHERE seq IN (SELECT seq FROM quarantine
              WHERE left(customer_user_id, 256) = left($1::text, 256) AND customer_user_id = $1 ORDER BY seq LIMIT $2)`,
          [customer, roomLeft],
        )
      ).rowCount ?? 0;
    await noteDeletions(client, deleted.seqs, now);
    const { rows } = await client.query<{ left: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM transactions WHERE ${CUSTOMER_KEY} = left($1::text, 256) AND customer_user_id = $1)
           OR EXISTS (SELECT 1 FROM events WHERE docv_transaction_id = $2 AND customer_user_id = $1)
           OR EXISTS (SELECT 1 FROM quarantine WHERE left(customer_user_id, 256) = left($1::text, 256) AND customer_user_id = $1)
           AS left`,
      [customer, NO_TRANSACTION],
    );
    return { counts: deleted.counts, done: rows[0]?.left !== true };
  });
}

export async function recordErasure(
  pool: pg.Pool,
  customerUserId: string,
  counts: ErasureCounts,
  at: Date,
): Promise<ErasureRecord> {
  return inTransaction(pool, async (client) => {
    // Made once per store; ON CONFLICT keeps the first when two instances race.
    await client.query('INSERT INTO retention_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
      ERASURE_SALT_STATE,
      newErasureSalt(),
    ]);
    const salt = (await state(client, ERASURE_SALT_STATE))!;
    const record: ErasureRecord = {
      erasureId: newId('era', at.getTime()),
      at: at.toISOString(),
      customerHash: customerHash(salt, customerUserId),
      counts,
    };
    await client.query('INSERT INTO erasures (erasure_id, at, customer_hash, counts) VALUES ($1, $2, $3, $4)', [
      record.erasureId,
      at,
      record.customerHash,
      JSON.stringify(counts),
    ]);
    return record;
  });
}

export async function listErasures(
  pool: pg.Pool,
  filter: PageRequest & { customerUserId?: string | undefined },
): Promise<Page<ErasureRecord>> {
  const after = decodeCursor(filter.cursor, 'p');
  const conditions: string[] = [];
  const values: unknown[] = [];
  if (after !== null) {
    values.push(after);
    conditions.push(`seq < $${values.length}`);
  }
  if (filter.customerUserId !== undefined) {
    const salt = await state(pool, ERASURE_SALT_STATE);
    if (salt === null) return { items: [], nextCursor: null };
    values.push(customerHash(salt, filter.customerUserId));
    conditions.push(`customer_hash = $${values.length}`);
  }
  values.push(filter.limit + 1);
  const { rows } = await pool.query<{
    seq: string;
    erasure_id: string;
    at: Date;
    customer_hash: string;
    counts: ErasureCounts;
  }>(
    `SELECT seq, erasure_id, at, customer_hash, counts FROM erasures
      ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${values.length}`,
    values,
  );
  const items = rows.slice(0, filter.limit);
  return {
    items: items.map((r) => ({
      erasureId: r.erasure_id,
      at: r.at.toISOString(),
      customerHash: r.customer_hash,
      counts: r.counts,
    })),
    nextCursor: rows.length > filter.limit ? encodeCursor(Number(items.at(-1)!.seq), 'p') : null,
  };
}

/**
 * The tombstone of the id under `source`; without one, under any source (its keys: source-keys.ts),
 * the default's first, then the newest.
 */
export async function tombstone(pool: pg.Pool, docvTransactionId: string, source?: string): Promise<Tombstone | null> {
  const id = pgText(docvTransactionId);
  const { rows } = await pool.query<{ docv_transaction_id: string; removed_at: Date; reason: Tombstone['reason'] }>(
    source !== undefined
      ? 'SELECT docv_transaction_id, removed_at, reason FROM tombstones WHERE docv_transaction_id = $1'
      : `SELECT docv_transaction_id, removed_at, reason FROM tombstones WHERE docv_transaction_id = ANY(${keysOfSql('$1')})
          ORDER BY docv_transaction_id = $1 DESC, removed_at DESC LIMIT 1`,
    [source !== undefined ? pgText(transactionColumn(docvTransactionId, source)) : id],
  );
  const row = rows[0];
  if (!row) return null;
  const rowSource = sourceOfColumn(row.docv_transaction_id);
  return {
    // Every key looked up is one of this id's (the column has U+FFFD where the id has U+0000: pgText).
    docvTransactionId,
    source: rowSource,
    removedAt: row.removed_at.toISOString(),
    reason: row.reason,
  };
}
