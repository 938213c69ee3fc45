import type pg from 'pg';
import type { Sealer } from '../encryption/sealer.js';
import type { CanonicalEvent, CanonicalFields } from '../../contract/index.js';
import { decisionFetchFor } from '../../lifecycle/decision-fetch-rule.js';
import { subscribes, subscriptionOfColumn, type OutboxTargets } from '../destinations.js';
import { cursorLeaseMs, logDeliveryId, LogReading, MARK_EVERY_MS, MAX_READ_WINDOW, verdictFor } from '../log-outbox.js';
import { clipText, deliveryOf, transactionColumn, wantsTransactionDecision, type DeliverySummaryRow } from '../rows.js';
import {
  DECISION_FETCH_DESTINATION,
  type AttemptResult,
  type ClaimRequest,
  type ClaimedDelivery,
  type FetchedDecision,
} from '../types.js';
import { retrying } from './connection.js';
import { LOG_LOCK_KEY } from './log-order.js';
import { pgText } from './pg-text.js';
import { storedEvent } from './stored-rows.js';

/*
 * The log side of the PostgreSQL outbox (store/log-outbox.ts; the same design as
 * sqlite/log-reader.ts). A claim is one statement: it leases the due rows (retries, held and
 * waiting deliveries, decision fetches), takes or renews this worker's hold on the logs of the
 * destinations it asks for, and reads the events past each cursor it holds with what the
 * verdicts need (an open row of the transaction, the decision fetch of the event). A second
 * statement follows only when some event must get a row instead of an attempt. A batch of
 * attempt records is one statement too: rows updated, failed log deliveries given their row,
 * cursors moved.
 *
 * What a worker has in flight lives in this object (one per PostgresStore). Claims run one at a
 * time; records run beside them (a claim does not wait for a record's commit). Each statement is
 * built from the readings as they are when it starts, and one that moves a cursor writes every
 * row decided and not yet written (`unwritten`), so no cursor ever passes an event whose
 * row is still to be written, whichever statement commits first. When one fails, the readings
 * are forgotten and the next claim reads again from the committed cursor: deliveries may be made
 * twice, none is skipped.
 */

/** The claim's answer, one shape for its three kinds of row. */
interface ClaimRow extends DeliverySummaryRow {
  kind: 'row' | 'cursor' | 'log';
  row_seq: number | null;
  event_seq: number;
  next_attempt_at: number;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
  raw_body: Buffer;
  canonical: CanonicalFields | null;
  received_at: Date;
  fetched_decision: FetchedDecision['decision'] | null;
  reason_codes: string[] | null;
  fetched_at: string | null;
  details: Record<string, unknown> | null;
  decision_name: string | null;
  /** cursor: who held the destination's log before this claim. */
  prev_owner: string | null;
  /** cursor: the destination's last event, when it stopped reading. */
  until_seq: number | null;
  /** cursor: whether a decision-fetch destination is active in the store. */
  fetching: boolean | null;
  /** log: the event's transaction has a pending or failed row for this destination. */
  open_row: boolean | null;
  /** log: the event has a row for this destination already (a reading that started again from the cursor). */
  has_row: boolean | null;
  /** log: the event's decision fetch, if it has one. */
  fetch_id: string | null;
  fetch_state: string | null;
  /** The keys that sealed the event's body and the decision's details (store/encryption/). */
  key_id: string | null;
  decision_key_id: string | null;
  /** cursor: the destination's subscription (destinations.subscription), null for every event. */
  subscription: string | null;
}

const DELIVERY_COLUMNS =
  'delivery_id, event_id, docv_transaction_id, event_type, destination, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at';

/**
 * $1 now, $2 destinations, $3 limit, $4 worker, $5 a row's lease end, $6 a log's hold end, $7 a
 * hold ending before this is renewed, $8 how far this worker's reading of each destination went
 * (0: none), $9 events read per destination.
 *
 * The hold on a log is renewed only when half of it has passed: a claim that finds nothing writes
 * nothing (no WAL flush at its commit). `known` is read from the statement's snapshot; the update
 * re-checks each row as it is now, so two workers never both take one log.
 */
function claimSql(ordered: boolean): string {
  const rowColumns = DELIVERY_COLUMNS.split(', ');
  const nothing = (type: string, names: string[]) => names.map((n) => `NULL::${type} AS ${n}`).join(', ');
  return `
    WITH due AS (
      SELECT d.seq FROM deliveries d
      WHERE d.state IN ('pending', 'failed') AND d.next_attempt_at <= $1
        AND d.destination = ANY($2::text[])
        AND (d.lease_until IS NULL OR d.lease_until < $1)
        ${
          // '' is no transaction (test events, unlinked notes): nothing orders those.
          ordered
            ? `AND (d.docv_transaction_id = '' OR NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.docv_transaction_id = d.docv_transaction_id
                 AND e.destination = d.destination AND e.event_seq < d.event_seq AND e.state IN ('pending', 'failed')))`
            : ''
        }
        AND (d.waits_for IS NULL OR d.wait_until <= $1
             OR NOT EXISTS (SELECT 1 FROM deliveries w WHERE w.delivery_id = d.waits_for AND w.state IN ('pending', 'failed')))
      ORDER BY d.next_attempt_at, d.seq
      LIMIT $3
      FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
      UPDATE deliveries d SET lease_owner = $4, lease_until = $5
      FROM due WHERE d.seq = due.seq
      RETURNING d.seq, d.event_seq, ${rowColumns.map((c) => `d.${c}`).join(', ')}
    ), known AS (
      SELECT c.destination, c.seq, c.until_seq, c.lease_owner, c.lease_until, u.read_to
      FROM unnest($2::text[], $8::bigint[]) AS u(destination, read_to)
      JOIN destination_cursors c ON c.destination = u.destination
      WHERE NOT EXISTS (SELECT 1 FROM destinations p WHERE p.name = c.destination AND p.state <> 'active')
    ), renewed AS (
      UPDATE destination_cursors c SET lease_owner = $4, lease_until = $6
      FROM known k
      WHERE c.destination = k.destination
        AND (c.lease_owner = $4 OR c.lease_until IS NULL OR c.lease_until < $1)
        AND (c.lease_owner IS DISTINCT FROM $4 OR c.lease_until IS NULL OR c.lease_until < $7)
      RETURNING c.destination, c.seq, c.until_seq, k.lease_owner AS prev_owner, k.read_to
    ), reading AS (
      SELECT destination, seq, until_seq, prev_owner, read_to FROM renewed
      UNION ALL
      SELECT destination, seq, until_seq, lease_owner, read_to FROM known WHERE lease_owner = $4 AND lease_until >= $7
    )
    SELECT 'row' AS kind, cl.seq AS row_seq, cl.event_seq, ${rowColumns.map((c) => `cl.${c}`).join(', ')},
      ev.raw_body, ev.canonical, ev.received_at,
      x.decision AS fetched_decision, x.reason_codes, x.fetched_at, x.details, x.decision_name,
      ${nothing('text', ['prev_owner'])}, ${nothing('bigint', ['until_seq'])}, ${nothing('boolean', ['fetching', 'open_row', 'has_row'])},
      ${nothing('text', ['fetch_id', 'fetch_state'])}, ev.key_id, x.key_id AS decision_key_id, ev.source,
      ${nothing('text', ['subscription'])}
    FROM claimed cl JOIN events ev ON ev.seq = cl.event_seq LEFT JOIN decisions x ON x.event_id = ev.event_id
    UNION ALL
    SELECT 'cursor', NULL, r.seq, NULL, NULL, NULL, NULL, r.destination, ${Array.from({ length: 8 }, () => 'NULL').join(', ')},
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      r.prev_owner, r.until_seq,
      EXISTS (SELECT 1 FROM destinations f WHERE f.kind = '${DECISION_FETCH_DESTINATION}' AND f.state = 'active'),
      NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      (SELECT p.subscription FROM destinations p WHERE p.name = r.destination)
    FROM reading r
    UNION ALL
    SELECT 'log', NULL, e.seq, NULL, e.event_id, e.docv_transaction_id, e.event_type, r.destination,
      ${Array.from({ length: 8 }, () => 'NULL').join(', ')},
      e.raw_body, e.canonical, e.received_at,
      x.decision, x.reason_codes, x.fetched_at, x.details, x.decision_name,
      NULL, NULL, NULL,
      ${ordered ? 'o.open IS NOT NULL' : 'false'}, h.has IS NOT NULL, f.delivery_id, f.state, e.key_id, x.key_id, e.source, NULL
    FROM reading r
    CROSS JOIN LATERAL (
      SELECT e.seq, e.event_id, e.docv_transaction_id, e.event_type, e.raw_body, e.canonical, e.received_at, e.key_id, e.source
      FROM events e
      WHERE e.seq > CASE WHEN r.prev_owner = $4 AND r.read_to > r.seq THEN r.read_to ELSE r.seq END
        AND (r.until_seq IS NULL OR e.seq <= r.until_seq)
      ORDER BY e.seq LIMIT $9
    ) e
    LEFT JOIN decisions x ON x.event_id = e.event_id
    ${
      // Each a probe of one index per event read (LIMIT 1 keeps them so: as EXISTS, the planner
      // may hash every row of the destination instead, and an upgraded database has millions).
      ordered
        ? `LEFT JOIN LATERAL (
             SELECT 1 AS open FROM deliveries o
             WHERE e.docv_transaction_id <> '' AND o.docv_transaction_id = e.docv_transaction_id
               AND o.destination = r.destination AND o.state IN ('pending', 'failed')
             LIMIT 1
           ) o ON true`
        : ''
    }
    LEFT JOIN LATERAL (
      SELECT 1 AS has FROM deliveries h WHERE h.destination = r.destination AND h.event_seq = e.seq LIMIT 1
    ) h ON true
    LEFT JOIN LATERAL (
      SELECT f.delivery_id, f.state FROM deliveries f
      WHERE f.event_seq = e.seq AND f.destination = '${DECISION_FETCH_DESTINATION}' LIMIT 1
    ) f ON true`;
}

const CLAIM_ORDERED = { name: 'docv_claim_log_ordered_v4', text: claimSql(true) };
const CLAIM_UNORDERED = { name: 'docv_claim_log_unordered_v4', text: claimSql(false) };

/** Columns of a row a log delivery gets (materialized, or its failed first attempt). */
const NEW_ROW_ARRAYS = `unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[],
  $11::bigint[], $12::text[], $13::bigint[], $14::int[], $15::text[], $16::timestamptz[])
  AS r(delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state, attempts, next_attempt_at,
       waits_for, wait_until, last_status, last_error, created_at)`;

const NEW_ROW_INSERT = `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
    attempts, next_attempt_at, waits_for, wait_until, last_status, last_error, created_at, updated_at)
  SELECT r.delivery_id, r.event_seq, r.event_id, r.docv_transaction_id, r.event_type, r.destination, r.state, r.attempts,
    r.next_attempt_at, r.waits_for, r.wait_until, r.last_status, r.last_error, r.created_at, $2
  FROM ${NEW_ROW_ARRAYS}`;

/**
 * What a worker's reading writes, one statement however much: attempt records of rows (each only
 * if its worker still holds the lease, as before the log), cursors moved (each only while the
 * worker holds the destination's log; its hold renewed), and the rows log deliveries get (a
 * failed or dead first attempt, with its attempt record; an event that must wait, passed by a
 * claim), each only where its cursor moved. At most one mark a second per destination says when
 * the cursor passed where. Answers the rows recorded (delivery_id) and the cursors moved
 * (destination), and one row of nulls.
 *
 * Committed without waiting for the WAL flush (synchronous_commit off for this transaction
 * alone): what it records can only be lost with the server itself, and then whole and last (the
 * WAL is written in order), which makes deliveries made again, never lost: a cursor and the rows
 * it passed are lost together, and the events are read again from the cursor before. Ingest
 * commits still wait for the flush (and with it for every record written before them).
 *
 * $1 now (epoch ms), $2 now, $3…$16 the new rows, $17/$18 and $27…$29 the cursors, $19…$26 the
 * row results, $30…$32 the new rows' attempt records (null worker: none).
 */
const RECORD = {
  name: 'docv_log_record_v2',
  text: `
    WITH unsynced AS MATERIALIZED (
      SELECT set_config('synchronous_commit', 'off', true)
    ), done AS (
      UPDATE deliveries d SET state = u.outcome, attempts = d.attempts + 1,
        next_attempt_at = CASE WHEN u.outcome = 'failed' THEN COALESCE(u.next_at, $1) ELSE d.next_attempt_at END,
        lease_owner = NULL, lease_until = NULL, last_status = u.status, last_error = u.error, updated_at = $2,
        delivered_at = CASE WHEN u.outcome = 'delivered' THEN $2 ELSE d.delivered_at END
      FROM unnest($19::text[], $20::text[], $21::text[], $22::bigint[], $23::int[], $24::text[], $25::timestamptz[], $26::float8[])
        AS u(delivery_id, worker, outcome, next_at, status, error, started_at, duration_ms)
      WHERE d.delivery_id = u.delivery_id AND d.lease_owner = u.worker
      RETURNING d.delivery_id, d.destination, d.attempts, u.worker, u.started_at, u.duration_ms, u.outcome, u.status, u.error
    ), row_attempts AS (
      INSERT INTO delivery_attempts (delivery_id, destination, attempt, worker, started_at, duration_ms, outcome, status, error)
      SELECT delivery_id, destination, attempts, worker, started_at, duration_ms, outcome, status, error FROM done
      RETURNING delivery_id
    ), moved AS (
      UPDATE destination_cursors c SET seq = GREATEST(c.seq, m.seq), lease_until = GREATEST(c.lease_until, m.until), updated_at = $2
      FROM unnest($17::text[], $18::bigint[], $27::text[], $28::bigint[], $29::boolean[]) AS m(destination, seq, owner, until, mark)
      WHERE c.destination = m.destination AND c.lease_owner = m.owner
      RETURNING c.destination, c.seq, m.mark
    ), marked AS (
      INSERT INTO cursor_marks (destination, seq, at) SELECT destination, seq, $2 FROM moved WHERE mark
      ON CONFLICT DO NOTHING
    ), inserted AS (
      ${NEW_ROW_INSERT}
      WHERE r.destination IN (SELECT destination FROM moved)
        -- An event erased (purge) while its first attempt was in flight has no row to keep.
        AND EXISTS (SELECT 1 FROM events e WHERE e.seq = r.event_seq)
      ON CONFLICT (delivery_id) DO NOTHING
      RETURNING delivery_id
    ), first_attempts AS (
      INSERT INTO delivery_attempts (delivery_id, destination, attempt, worker, started_at, duration_ms, outcome, status, error)
      SELECT a.delivery_id, a.destination, 1, a.worker, a.started_at, a.duration_ms, a.outcome, a.status, a.error
      FROM unnest($3::text[], $8::text[], $30::text[], $31::timestamptz[], $32::float8[], $9::text[], $14::int[], $15::text[])
        AS a(delivery_id, destination, worker, started_at, duration_ms, outcome, status, error)
      WHERE a.worker IS NOT NULL AND a.delivery_id IN (SELECT delivery_id FROM inserted)
    )
    SELECT delivery_id, NULL AS destination FROM row_attempts
    UNION ALL
    SELECT NULL, destination FROM moved
    UNION ALL
    SELECT NULL, NULL FROM unsynced`,
};

/** A delivery handed out from the log, until its attempt is recorded. */
interface HandedOut {
  destination: string;
  seq: number;
  eventId: string;
  /** As stored (pgText). */
  docvTransactionId: string;
  eventType: string;
  receivedAt: Date;
  /** How long a record renews the worker's hold on the destination. */
  holdMs: number;
}

/** A row a log delivery gets. */
interface NewRow {
  deliveryId: string;
  eventSeq: number;
  eventId: string;
  docvTransactionId: string;
  eventType: string;
  destination: string;
  state: 'pending' | 'failed' | 'dead';
  attempts: number;
  nextAttemptAt: number;
  waitsFor: string | null;
  waitUntil: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  /** Failed first attempts: their record. */
  attempt?: { worker: string; startedAt: string; durationMs: number };
}

/** $3…$16 of RECORD. */
function newRowColumns(rows: NewRow[]): unknown[] {
  return [
    rows.map((r) => r.deliveryId),
    rows.map((r) => r.eventSeq),
    rows.map((r) => r.eventId),
    rows.map((r) => r.docvTransactionId),
    rows.map((r) => r.eventType),
    rows.map((r) => r.destination),
    rows.map((r) => r.state),
    rows.map((r) => r.attempts),
    rows.map((r) => r.nextAttemptAt),
    rows.map((r) => r.waitsFor),
    rows.map((r) => r.waitUntil),
    rows.map((r) => r.lastStatus),
    rows.map((r) => r.lastError),
    rows.map((r) => r.createdAt.toISOString()),
  ];
}

/** Errors and statuses from other systems are stored, but never unbounded (and never with a NUL: pgText). */
export function clip(text: string | null): string | null {
  return clipText(text === null ? null : pgText(text));
}

/** Events read past the claim's limit per destination: some may get a row instead of an attempt. */
const READ_AHEAD = 4;

function fetchedDecisionOf(row: ClaimRow, sealer: Sealer): FetchedDecision | null {
  if (!row.fetched_decision) return null;
  return {
    decision: row.fetched_decision,
    reasonCodes: row.reason_codes ?? [],
    fetchedAt: row.fetched_at ?? '',
    details: sealer.openJsonValue(row.details, row.decision_key_id, 'decisions', 'details', row.event_id) as Record<
      string,
      unknown
    > | null,
    ...(row.decision_name !== null ? { decisionName: row.decision_name } : {}),
  };
}

/** A cursor to move: to `seq`, while `owner` holds the log (its hold renewed to `until`). */
interface Move {
  destination: string;
  reading: LogReading;
  seq: number;
  owner: string;
  until: number;
  mark: boolean;
}

export class PostgresLogReader {
  private readonly readings = new Map<string, LogReading>();
  private readonly handedOut = new Map<string, HandedOut>();
  /**
   * Rows a reading decided (failed attempts, events that must wait) and no statement is known to
   * have committed yet. Every statement that moves a cursor writes all of them, so a cursor never
   * passes an event whose row is still to be written, whatever order concurrent statements commit
   * in (a row decided after a statement was built is for an event past its position).
   */
  private readonly unwritten = new WeakMap<LogReading, Map<number, NewRow>>();
  /**
   * Rows written since a claim began, with the count of records then (`records`): that claim's
   * statement may have read the database before they were committed, so its verdicts look here
   * too. Kept until a claim starts after them.
   */
  private readonly written = new WeakMap<LogReading, Array<{ row: NewRow; record: number }>>();
  private records = 0;
  private readonly lastMark = new Map<string, number>();
  /** Claims run one at a time (records may run beside them). */
  private claiming: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly sealer: Sealer,
  ) {}

  /** The event's body as stored, opened when sealed. */
  private bodyOf(row: ClaimRow): unknown {
    return JSON.parse(
      this.sealer.openBytes(row.raw_body, row.key_id, 'events', 'raw_body', row.event_id).toString('utf8'),
    ) as unknown;
  }

  /** Forgets what is in flight: after a statement failed, the committed cursor is the truth. */
  forget(): void {
    this.readings.clear();
    this.handedOut.clear();
  }

  private dropReading(destination: string, reading?: LogReading): void {
    if (reading !== undefined && this.readings.get(destination) !== reading) return;
    this.readings.delete(destination);
    for (const [id, out] of this.handedOut) if (out.destination === destination) this.handedOut.delete(id);
  }

  private rowsOf(reading: LogReading): Map<number, NewRow> {
    let rows = this.unwritten.get(reading);
    if (!rows) this.unwritten.set(reading, (rows = new Map()));
    return rows;
  }

  /**
   * Whether the reading has a pending or failed row of the transaction that a claim begun after
   * `since` records may not have seen in the database: still to be written, or written since.
   */
  private openInMemory(reading: LogReading, docvTransactionId: string, since: number): boolean {
    const open = (row: NewRow) =>
      row.docvTransactionId === docvTransactionId && (row.state === 'pending' || row.state === 'failed');
    for (const row of this.rowsOf(reading).values()) if (open(row)) return true;
    return (this.written.get(reading) ?? []).some((w) => w.record > since && open(w.row));
  }

  /**
   * Due rows, then up to the rest of `request.limit` deliveries from the logs of the requested
   * destinations this worker holds or can take. Events that must wait get a row instead (see
   * verdictFor) and are passed.
   */
  claim(request: ClaimRequest, targets: OutboxTargets): Promise<ClaimedDelivery[]> {
    const run = this.claiming.then(() => this.failing(() => this.claimNow(request, targets)));
    this.claiming = run.catch(() => undefined);
    return run;
  }

  /** Runs a statement of the reading; when it fails, what is in flight is forgotten. */
  private async failing<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.forget();
      throw err;
    }
  }

  private async claimNow(request: ClaimRequest, targets: OutboxTargets): Promise<ClaimedDelivery[]> {
    if (request.destinations.length === 0 || request.limit <= 0) return [];
    const now = request.now ?? Date.now();
    const holdMs = cursorLeaseMs(request.leaseMs);
    // The readings the statement reads for: one that changes meanwhile (a record failed, or found
    // the log taken) is not continued from this answer.
    const before = new Map(request.destinations.map((d) => [d, this.readings.get(d)]));
    const since = this.records;
    // Rows written before now are in what the statement reads.
    for (const reading of before.values())
      if (reading)
        this.written.set(
          reading,
          (this.written.get(reading) ?? []).filter((w) => w.record > since),
        );
    const readTo = request.destinations.map((d) => {
      const reading = before.get(d);
      return reading && reading.owner === request.workerId ? reading.readTo : 0;
    });
    const { rows } = await this.pool.query<ClaimRow>({
      ...(request.ordered ? CLAIM_ORDERED : CLAIM_UNORDERED),
      values: [
        now,
        request.destinations,
        request.limit,
        request.workerId,
        now + request.leaseMs,
        now + holdMs,
        now + holdMs / 2,
        readTo,
        // Events handled after one passed over are read again (and skipped): read that many more.
        request.limit +
          READ_AHEAD +
          Math.min(MAX_READ_WINDOW, Math.max(0, ...request.destinations.map((d) => before.get(d)?.window ?? 0))),
      ],
    });
    const claimed: ClaimedDelivery[] = rows
      .filter((r) => r.kind === 'row')
      .sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.row_seq! - b.row_seq!)
      .map((row) => ({
        ...deliveryOf(row),
        event: storedEvent(this.bodyOf(row), row),
        receivedAt: row.received_at.toISOString(),
        fetchedDecision: fetchedDecisionOf(row, this.sealer),
      }));
    const cursors = new Map(rows.filter((r) => r.kind === 'cursor').map((r) => [r.destination, r]));
    const events = new Map<string, ClaimRow[]>();
    for (const r of rows) {
      if (r.kind !== 'log') continue;
      const list = events.get(r.destination);
      if (list) list.push(r);
      else events.set(r.destination, [r]);
    }
    const fromLog: ClaimedDelivery[] = [];
    let room = request.limit - claimed.length;
    const moves: Move[] = [];
    for (const destination of request.destinations) {
      const cursor = cursors.get(destination);
      if (!cursor || this.readings.get(destination) !== before.get(destination)) continue;
      let reading = before.get(destination);
      if (
        !reading ||
        reading.owner !== request.workerId ||
        cursor.prev_owner !== request.workerId ||
        reading.readTo < cursor.event_seq
      ) {
        this.dropReading(destination);
        reading = new LogReading(destination, request.workerId, cursor.event_seq);
        this.readings.set(destination, reading);
      }
      reading.beginPass();
      const fetching = targets.fetchDecisions || cursor.fetching === true;
      // What the destination takes (a library's handler is not stored: every event).
      const subscription = subscriptionOfColumn(cursor.subscription);
      /** Transactions given a row in this claim: their later events wait behind it too. */
      const heldBack = new Set<string>();
      let passed = false;
      for (const event of (events.get(destination) ?? []).sort((a, b) => a.event_seq - b.event_seq)) {
        if (room <= 0) break;
        if (event.event_seq <= reading.readTo) continue;
        // Handed out or given a row after an event passed over in an earlier claim: read again, skipped.
        if (reading.handled(event.event_seq)) {
          reading.note(event.event_seq);
          continue;
        }
        // Given a row by an earlier reading (its attempt failed): the row is its delivery now.
        if (event.has_row === true) {
          reading.skip(event.event_seq);
          passed = true;
          continue;
        }
        // Not an event the destination takes (issue 20): passed over, no delivery, no row, no
        // attempt; the cursor moves past it.
        if (subscription !== null && !subscribes(subscription, { source: event.source, eventType: event.event_type })) {
          reading.skip(event.event_seq);
          passed = true;
          continue;
        }
        const entry = { seq: event.event_seq, docvTransactionId: event.docv_transaction_id };
        const canonical = storedEvent(this.bodyOf(event), event);
        let waitsFor: { id: string; until: number } | null = null;
        const verdict = verdictFor(
          reading,
          entry,
          request.ordered,
          () =>
            event.open_row === true ||
            heldBack.has(event.docv_transaction_id) ||
            this.openInMemory(reading, event.docv_transaction_id, since),
          () => (waitsFor = decisionWait(event, canonical, fetching, targets.decisionWaitMs, now)) !== null,
        );
        if (verdict === 'defer') {
          reading.defer(entry);
          continue;
        }
        if (verdict === 'materialize') {
          const wait = waitsFor as { id: string; until: number } | null;
          this.rowsOf(reading).set(event.event_seq, {
            deliveryId: logDeliveryId(event.event_id, destination),
            eventSeq: event.event_seq,
            eventId: event.event_id,
            docvTransactionId: event.docv_transaction_id,
            eventType: event.event_type,
            destination,
            state: 'pending',
            attempts: 0,
            nextAttemptAt: now,
            waitsFor: wait?.id ?? null,
            waitUntil: wait?.until ?? null,
            lastStatus: null,
            lastError: null,
            createdAt: event.received_at,
          });
          if (event.docv_transaction_id !== '') heldBack.add(event.docv_transaction_id);
          reading.skip(event.event_seq);
          passed = true;
          continue;
        }
        reading.handOut(entry);
        const deliveryId = logDeliveryId(event.event_id, destination);
        this.handedOut.set(deliveryId, {
          destination,
          seq: event.event_seq,
          eventId: event.event_id,
          docvTransactionId: event.docv_transaction_id,
          eventType: event.event_type,
          receivedAt: event.received_at,
          holdMs,
        });
        const receivedAt = event.received_at.toISOString();
        fromLog.push({
          deliveryId,
          eventId: event.event_id,
          docvTransactionId: canonical.docvTransactionId,
          source: event.source,
          eventType: event.event_type,
          destination,
          state: 'pending',
          attempts: 0,
          nextAttemptAt: receivedAt,
          lastStatus: null,
          lastError: null,
          createdAt: receivedAt,
          updatedAt: receivedAt,
          deliveredAt: null,
          event: canonical,
          receivedAt,
          fetchedDecision: fetchedDecisionOf(event, this.sealer),
        });
        room--;
      }
      // Events passed without an attempt: their rows are written now, and the cursor goes past
      // them now where it can (nothing else would move it while nothing is in flight).
      if (passed)
        moves.push({
          destination,
          reading,
          seq: Math.max(reading.cursor(), cursor.event_seq),
          owner: request.workerId,
          until: now + holdMs,
          mark: false,
        });
    }
    if (moves.length > 0) await this.record(moves, [], now);
    const delivered = [...claimed, ...fromLog.filter((d) => this.handedOut.has(d.deliveryId))];
    await withTransactionDecisions(this.pool, delivered, this.sealer);
    return delivered;
  }

  /**
   * Writes `moves` (with the rows their readings decided and are still to write) and
   * `rowResults` in one statement (RECORD). A cursor that did not move (the worker no longer holds
   * the log) drops its reading. Answers the rows recorded and the destinations moved.
   */
  private async record(
    moves: Move[],
    rowResults: AttemptResult[],
    now: number,
  ): Promise<{ rows: Set<string>; moved: Set<string> }> {
    // All of them, past the position too: a row written early is harmless (a reading that starts
    // again finds it, and passes its event), one written late is a delivery that waits.
    const carried = moves.map((m) => [...this.rowsOf(m.reading).values()]);
    const rows = carried.flat();
    const answer = await retrying(() =>
      this.pool.query<{ delivery_id: string | null; destination: string | null }>({
        ...RECORD,
        values: [
          now,
          new Date(now).toISOString(),
          ...newRowColumns(rows),
          moves.map((m) => m.destination),
          moves.map((m) => m.seq),
          rowResults.map((r) => pgText(r.deliveryId)),
          rowResults.map((r) => r.workerId),
          rowResults.map((r) => r.outcome),
          rowResults.map((r) => r.nextAttemptAt ?? null),
          rowResults.map((r) => r.status),
          rowResults.map((r) => clip(r.error)),
          rowResults.map((r) => r.startedAt.toISOString()),
          rowResults.map((r) => r.durationMs),
          moves.map((m) => m.owner),
          moves.map((m) => m.until),
          moves.map((m) => m.mark),
          rows.map((r) => r.attempt?.worker ?? null),
          rows.map((r) => r.attempt?.startedAt ?? null),
          rows.map((r) => r.attempt?.durationMs ?? null),
        ],
      }),
    );
    const record = ++this.records;
    const recorded = new Set<string>();
    const moved = new Set<string>();
    for (const r of answer.rows) {
      if (r.delivery_id !== null) recorded.add(r.delivery_id);
      if (r.destination !== null) moved.add(r.destination);
    }
    moves.forEach((m, i) => {
      if (!moved.has(m.destination)) {
        // Another worker reads this log now: it starts at the committed cursor.
        this.dropReading(m.destination, m.reading);
        return;
      }
      const unwritten = this.rowsOf(m.reading);
      const written = this.written.get(m.reading) ?? [];
      for (const row of carried[i]!) {
        unwritten.delete(row.eventSeq);
        written.push({ row, record });
      }
      this.written.set(m.reading, written);
      if (m.mark) this.lastMark.set(m.destination, now);
    });
    return { rows: recorded, moved };
  }

  /** Whether `deliveryId` is a delivery this reader handed out (and still tracks). */
  owns(deliveryId: string): boolean {
    return this.handedOut.has(deliveryId);
  }

  /**
   * Records a batch of attempts in one statement: rows as before the log; deliveries handed out
   * from the log by moving their cursors, and with a row for those that failed. `results` names
   * each delivery once. Answers whether each was recorded (false: the lease or the hold passed
   * to another worker, whose result counts).
   */
  completeMany(results: AttemptResult[]): Promise<boolean[]> {
    return this.failing(() => this.completeNow(results));
  }

  private async completeNow(results: AttemptResult[]): Promise<boolean[]> {
    const now = Date.now();
    const rowResults: AttemptResult[] = [];
    const logDestination = new Map<AttemptResult, string>();
    const touched = new Map<string, { reading: LogReading; owner: string; holdMs: number }>();
    for (const r of results) {
      const out = this.handedOut.get(r.deliveryId);
      if (!out) {
        rowResults.push(r);
        continue;
      }
      const reading = this.readings.get(out.destination);
      // Not this worker's reading any more: its hold passed to another worker, who delivers it again.
      if (!reading || reading.owner !== r.workerId || !reading.has(out.seq)) continue;
      reading.finish(out.seq);
      this.handedOut.delete(r.deliveryId);
      logDestination.set(r, out.destination);
      touched.set(out.destination, { reading, owner: r.workerId, holdMs: out.holdMs });
      if (r.outcome !== 'delivered')
        this.rowsOf(reading).set(out.seq, {
          deliveryId: r.deliveryId,
          eventSeq: out.seq,
          eventId: out.eventId,
          docvTransactionId: out.docvTransactionId,
          eventType: out.eventType,
          destination: out.destination,
          state: r.outcome,
          attempts: 1,
          nextAttemptAt: r.nextAttemptAt ?? now,
          waitsFor: null,
          waitUntil: null,
          lastStatus: r.status,
          lastError: clip(r.error),
          createdAt: out.receivedAt,
          attempt: { worker: r.workerId, startedAt: r.startedAt.toISOString(), durationMs: r.durationMs },
        });
    }
    const moves: Move[] = [...touched].map(([destination, { reading, owner, holdMs }]) => ({
      destination,
      reading,
      owner,
      seq: reading.cursor(),
      until: now + holdMs,
      mark: now - (this.lastMark.get(destination) ?? 0) >= MARK_EVERY_MS,
    }));
    if (rowResults.length === 0 && moves.length === 0) return results.map(() => false);
    const { rows, moved } = await this.record(moves, rowResults, now);
    return results.map((r) => {
      const destination = logDestination.get(r);
      return destination !== undefined ? moved.has(destination) : rows.has(pgText(r.deliveryId));
    });
  }

  /**
   * When the rows and logs of these destinations next have work for `workerId`: a row when it is
   * due and not leased; a log now when events wait past what the worker has read of it (its
   * cursor, or further: what it handed out and is still to record is not work), or when the hold
   * runs out when another worker holds it. Null when nothing waits.
   */
  async nextDueAt(destinations: string[], workerId: string | undefined): Promise<number | null> {
    if (destinations.length === 0) return null;
    const now = Date.now();
    const readTo = destinations.map((d) => {
      const reading = this.readings.get(d);
      return reading && workerId !== undefined && reading.owner === workerId ? reading.readTo : 0;
    });
    const row = await this.pool.query<{ row_due: number | null; log_due: number | null }>({
      name: 'docv_next_due_log_v3',
      text: `SELECT
               (SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) FROM deliveries
                 WHERE state IN ('pending', 'failed') AND destination = ANY($1::text[])) AS row_due,
               (SELECT MIN(CASE WHEN c.lease_owner IS NOT NULL AND c.lease_owner IS DISTINCT FROM $2 AND c.lease_until >= $3
                                THEN c.lease_until + 1 ELSE $3 END)
                  FROM unnest($1::text[], $4::bigint[]) AS u(destination, read_to)
                  JOIN destination_cursors c ON c.destination = u.destination
                 WHERE GREATEST(c.seq, CASE WHEN c.lease_owner = $2 THEN u.read_to ELSE 0 END)
                         < LEAST((SELECT COALESCE(MAX(seq), 0) FROM events), COALESCE(c.until_seq, 9223372036854775807))
                   AND NOT EXISTS (SELECT 1 FROM destinations p WHERE p.name = c.destination AND p.state <> 'active')) AS log_due`,
      values: [destinations, workerId ?? null, now, readTo],
    });
    const { row_due: rowDue, log_due: logDue } = row.rows[0]!;
    return rowDue === null ? logDue : logDue === null ? rowDue : Math.min(rowDue, logDue);
  }

  /** A stopping worker lets go of its destinations' logs at once instead of when its hold runs out. */
  async release(workerId: string): Promise<void> {
    for (const [destination, reading] of this.readings) if (reading.owner === workerId) this.dropReading(destination);
    await this.pool.query('UPDATE destination_cursors SET lease_until = 0 WHERE lease_owner = $1', [workerId]);
  }
}

/**
 * A completion's delivery waits for its decision fetch while the fetch is still to be made and
 * the wait has not run out: it gets a row saying what it waits for (as a row of an earlier
 * version did from the start).
 */
function decisionWait(
  event: ClaimRow,
  canonical: CanonicalEvent,
  fetching: boolean,
  decisionWaitMs: number,
  now: number,
): { id: string; until: number } | null {
  if (!fetching || decisionFetchFor(canonical) !== 'fetch-and-wait') return null;
  const until = event.received_at.getTime() + decisionWaitMs;
  if (until <= now) return null;
  if (event.fetch_id === null || (event.fetch_state !== 'pending' && event.fetch_state !== 'failed')) return null;
  return { id: event.fetch_id, until };
}

const LATEST_DECISIONS = {
  name: 'docv_latest_decisions_v2',
  text: `SELECT DISTINCT ON (docv_transaction_id) docv_transaction_id, event_id, key_id, decision, reason_codes, fetched_at, details, decision_name
           FROM decisions WHERE docv_transaction_id = ANY($1::text[]) ORDER BY docv_transaction_id, fetched_at DESC`,
};

/** The transaction key of a delivery's event, as decisions has it (rows.ts, transactionColumn). */
function keyOf(delivery: ClaimedDelivery): string {
  return pgText(transactionColumn(delivery.docvTransactionId!, delivery.source));
}

/**
 * A completion's forward carries the transaction's latest fetched decision when none was fetched
 * for the completion itself (see wantsTransactionDecision). One query, and only when a claim has
 * such a delivery: the flat path without decision fetches never pays for it.
 */
async function withTransactionDecisions(db: pg.Pool, claimed: ClaimedDelivery[], sealer: Sealer): Promise<void> {
  const wanting = claimed.filter(wantsTransactionDecision);
  if (wanting.length === 0) return;
  const rows = await db.query<{
    docv_transaction_id: string;
    event_id: string;
    key_id: string | null;
    decision: FetchedDecision['decision'];
    reason_codes: string[];
    fetched_at: string;
    details: Record<string, unknown> | null;
    decision_name: string | null;
  }>({
    ...LATEST_DECISIONS,
    values: [[...new Set(wanting.map(keyOf))]],
  });
  const byTransaction = new Map(rows.rows.map((r) => [r.docv_transaction_id, r]));
  for (const delivery of wanting) {
    const r = byTransaction.get(keyOf(delivery));
    if (!r) continue;
    delivery.fetchedDecision = {
      decision: r.decision,
      reasonCodes: r.reason_codes,
      fetchedAt: r.fetched_at,
      details: sealer.openJsonValue(r.details, r.key_id, 'decisions', 'details', r.event_id) as Record<
        string,
        unknown
      > | null,
      ...(r.decision_name !== null ? { decisionName: r.decision_name } : {}),
    };
  }
}

/**
 * Log destinations not read yet start after the last event (what came before is not theirs), and
 * retired ones read on; `retire` ones stop at the last event (what came before stays theirs). In
 * the caller's transaction: the log lock first, so the last event is the last committed one and
 * every later event comes after it (log-order.ts). The lock is taken by its own statement: a
 * statement's snapshot is taken before it waits on a lock, a later one's after.
 */
export async function ensureCursors(
  client: pg.PoolClient,
  ensure: readonly string[],
  retire: readonly string[] = [],
): Promise<void> {
  if (ensure.length === 0 && retire.length === 0) return;
  await client.query(`SELECT pg_advisory_xact_lock(${LOG_LOCK_KEY})`);
  if (ensure.length > 0)
    await client.query(
      `INSERT INTO destination_cursors (destination, from_seq, seq, updated_at)
       SELECT d, head.seq, head.seq, now() FROM unnest($1::text[]) AS d, (SELECT COALESCE(MAX(seq), 0) AS seq FROM events) head
       ON CONFLICT (destination) DO UPDATE SET until_seq = NULL`,
      [[...ensure]],
    );
  if (retire.length > 0)
    await client.query(
      `UPDATE destination_cursors SET until_seq = (SELECT COALESCE(MAX(seq), 0) FROM events)
       WHERE destination = ANY($1::text[]) AND until_seq IS NULL`,
      [[...retire]],
    );
}
