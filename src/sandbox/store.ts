import Database from 'better-sqlite3';
import { createPrivateDatabaseFile } from '../store/sqlite/private-file.js';
import type { CanonicalDecision, DocvEventType } from '../contract/index.js';
import type {
  AttemptRecord,
  DeliveryFilter,
  DeliveryListing,
  DeliveryRecord,
  DeliveryStatus,
  EventRecord,
  StepRecord,
  TransactionRecord,
} from './records.js';
import type { FinishedAttempt, NewDelivery, SandboxState } from './state.js';

/** 2: transactions have a dialect, a user id, and remember a numeric customerUserId. */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS transactions (
  id TEXT PRIMARY KEY,
  reference_id TEXT NOT NULL,
  session_token TEXT NOT NULL UNIQUE,
  customer_user_id TEXT,
  customer_user_id_is_number INTEGER NOT NULL DEFAULT 0,
  user_id TEXT,
  webhook_url TEXT,
  dialect TEXT NOT NULL DEFAULT 'asyncapi',
  document_type TEXT NOT NULL,
  country TEXT NOT NULL,
  redirect_url TEXT,
  requested_scenario TEXT NOT NULL,
  scenario TEXT NOT NULL,
  outcome TEXT NOT NULL,
  time_scale REAL NOT NULL,
  chaos TEXT,
  status TEXT NOT NULL,
  decision TEXT,
  uploads TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE TABLE IF NOT EXISTS steps (
  id INTEGER PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  decision TEXT,
  due_at INTEGER NOT NULL,
  state TEXT NOT NULL
);
-- Only planned steps are ever looked for by time, and a transaction has a handful of steps: a
-- step that happens leaves the first index and changes nothing in the second.
DROP INDEX IF EXISTS steps_due;
DROP INDEX IF EXISTS steps_tx;
CREATE INDEX IF NOT EXISTS steps_planned ON steps(due_at) WHERE state = 'planned';
CREATE INDEX IF NOT EXISTS steps_of_tx ON steps(transaction_id);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_tx ON events(transaction_id);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  position INTEGER NOT NULL,
  ordered INTEGER NOT NULL,
  copy INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  retry_from INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL,
  last_status_code INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
-- Ends in position so the ready query reads due deliveries already in order: with (status,
-- not_before) alone, SQLite sorted every due delivery on each tick to return the first few.
DROP INDEX IF EXISTS deliveries_ready;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, not_before, position);
CREATE INDEX IF NOT EXISTS deliveries_tx ON deliveries(transaction_id, position);
-- eventCounts() groups deliveries by status instead of looking up each event's: no index of
-- its own to keep up on every status change.
DROP INDEX IF EXISTS deliveries_event;
CREATE TABLE IF NOT EXISTS attempts (
  id INTEGER PRIMARY KEY,
  delivery_id INTEGER NOT NULL,
  n INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  latency_ms REAL NOT NULL,
  status_code INTEGER,
  error TEXT,
  retry_after_ms INTEGER,
  response TEXT
);
CREATE INDEX IF NOT EXISTS attempts_delivery ON attempts(delivery_id);
`;

type Row = Record<string, unknown>;

const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));

function toTransaction(r: Row): TransactionRecord {
  return {
    docvTransactionId: r.id as string,
    referenceId: r.reference_id as string,
    sessionToken: r.session_token as string,
    customerUserId: r.customer_user_id_is_number === 1 ? Number(r.customer_user_id) : opt(r.customer_user_id),
    userId: opt(r.user_id),
    dialect: r.dialect as TransactionRecord['dialect'],
    webhookUrl: opt(r.webhook_url),
    documentType: r.document_type as TransactionRecord['documentType'],
    country: r.country as string,
    redirectUrl: opt(r.redirect_url),
    requestedScenario: r.requested_scenario as TransactionRecord['requestedScenario'],
    scenario: r.scenario as TransactionRecord['scenario'],
    outcome: r.outcome as CanonicalDecision,
    timeScale: r.time_scale as number,
    chaos: r.chaos ? (JSON.parse(r.chaos as string) as NonNullable<TransactionRecord['chaos']>) : undefined,
    status: r.status as TransactionRecord['status'],
    decision: opt(r.decision),
    uploads: JSON.parse(r.uploads as string) as string[],
    createdAt: r.created_at as number,
    completedAt: opt(r.completed_at),
  };
}

function toDelivery(r: Row): DeliveryRecord {
  return {
    id: r.id as number,
    eventId: r.event_id as string,
    docvTransactionId: r.transaction_id as string,
    eventType: r.event_type as string,
    url: r.url as string,
    body: r.body as string,
    position: r.position as number,
    ordered: r.ordered === 1,
    copy: r.copy as number,
    status: r.status as DeliveryStatus,
    attempts: r.attempts as number,
    retryFrom: r.retry_from as number,
    notBefore: r.not_before as number,
    lastStatusCode: opt(r.last_status_code),
    lastError: opt(r.last_error),
    createdAt: r.created_at as number,
    finishedAt: opt(r.finished_at),
  };
}

function toListing(r: Row): DeliveryListing {
  return { ...toDelivery(r), waitingFor: opt(r.waiting_for) };
}

/**
 * What an ordered pending delivery waits for: the first open ordered delivery before it in its
 * transaction (the one that holds up all the others). Null when it can go as soon as it is due.
 */
const WAITING_FOR = `CASE WHEN d.status = 'pending' AND d.ordered = 1 THEN (
    SELECT p.id FROM deliveries p
    WHERE p.transaction_id = d.transaction_id AND p.ordered = 1 AND p.position < d.position AND p.status IN ('pending', 'in_flight')
    ORDER BY p.position LIMIT 1) END`;

/** The state a listing shows, as SQL over a row that has `waiting_for`. */
function shownStatusCondition(status: DeliveryStatus): string {
  if (status === 'held') return "(status = 'held' OR waiting_for IS NOT NULL)";
  if (status === 'pending') return "status = 'pending' AND waiting_for IS NULL";
  return 'status = ?';
}

function toAttempt(r: Row): AttemptRecord {
  return {
    deliveryId: r.delivery_id as number,
    n: r.n as number,
    startedAt: r.started_at as number,
    latencyMs: r.latency_ms as number,
    statusCode: opt(r.status_code),
    error: opt(r.error),
    retryAfterMs: opt(r.retry_after_ms),
    response: opt(r.response),
  };
}

/**
 * Columns added after a table was first created: CREATE TABLE IF NOT EXISTS leaves an older
 * file's table as it was. Defaults keep what was there meaning what it meant (flat events).
 */
const ADDED_COLUMNS: ReadonlyArray<readonly [table: string, column: string, definition: string]> = [
  ['transactions', 'customer_user_id_is_number', 'INTEGER NOT NULL DEFAULT 0'],
  ['transactions', 'user_id', 'TEXT'],
  ['transactions', 'dialect', "TEXT NOT NULL DEFAULT 'asyncapi'"],
  // No schema version of its own: an older docv-webhooks inserts without it (0) and ignores it.
  ['deliveries', 'retry_from', 'INTEGER NOT NULL DEFAULT 0'],
];

function addMissingColumns(db: Database.Database): void {
  for (const [table, column, definition] of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

/**
 * The sandbox's state in SQLite (the records: records.ts), so the sandbox server's transactions
 * and deliveries survive a restart. Beyond SandboxState it answers the API's reads (listings,
 * attempts) and its controls (cancel, retry).
 */
export class SandboxStore implements SandboxState {
  private readonly db: Database.Database;
  private position: number;
  private readonly stmt;
  /** One wrapper for every call: better-sqlite3 builds a transaction function at some cost each time. */
  private readonly inTransaction: (fn: () => unknown) => unknown;

  constructor(file: string) {
    createPrivateDatabaseFile(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL keeps WAL commits durable against a process crash, which is what a restart test
    // and a developer's Ctrl-C need; power-loss durability is not a sandbox's job.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `sandbox database ${file} has schema version ${version}; this docv-webhooks knows up to ${SCHEMA_VERSION}`,
      );
    }
    this.db.exec(SCHEMA);
    addMissingColumns(this.db);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.position = (
      this.db.prepare('SELECT COALESCE(MAX(position), 0) AS p FROM deliveries').get() as { p: number }
    ).p;
    const db = this.db;
    this.stmt = {
      insertTx:
        db.prepare(`INSERT INTO transactions (id, reference_id, session_token, customer_user_id, customer_user_id_is_number,
        user_id, webhook_url, dialect, document_type, country, redirect_url, requested_scenario, scenario, outcome, time_scale, chaos,
        status, decision, uploads, created_at, completed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      getTx: db.prepare('SELECT * FROM transactions WHERE id = ?'),
      getTxBySession: db.prepare('SELECT * FROM transactions WHERE session_token = ?'),
      updateTxState: db.prepare(
        'UPDATE transactions SET status = ?, decision = ?, uploads = ?, completed_at = ? WHERE id = ?',
      ),
      insertStep: db.prepare(
        "INSERT INTO steps (transaction_id, event_type, decision, due_at, state) VALUES (?, ?, ?, ?, 'planned')",
      ),
      dueSteps: db.prepare("SELECT * FROM steps WHERE state = 'planned' AND due_at <= ? ORDER BY due_at, id LIMIT ?"),
      nextStepDue: db.prepare("SELECT MIN(due_at) AS t FROM steps WHERE state = 'planned'"),
      markStep: db.prepare('UPDATE steps SET state = ? WHERE id = ?'),
      cancelSteps: db.prepare("UPDATE steps SET state = 'cancelled' WHERE transaction_id = ? AND state = 'planned'"),
      plannedSteps: db.prepare(
        "SELECT * FROM steps WHERE transaction_id = ? AND state = 'planned' ORDER BY due_at, id",
      ),
      countPlanned: db.prepare("SELECT COUNT(*) AS n FROM steps WHERE state = 'planned'"),
      insertEvent: db.prepare(
        'INSERT INTO events (id, transaction_id, event_type, body, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      listEvents: db.prepare('SELECT * FROM events WHERE transaction_id = ? ORDER BY created_at, rowid'),
      insertDelivery:
        db.prepare(`INSERT INTO deliveries (event_id, transaction_id, event_type, url, body, position, ordered, copy,
        status, not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      heldOf: db.prepare("SELECT id FROM deliveries WHERE transaction_id = ? AND status = 'held' ORDER BY position"),
      dueHeld: db.prepare(
        "SELECT id FROM deliveries WHERE status = 'held' AND not_before <= ? ORDER BY position LIMIT 1000",
      ),
      release: db.prepare(
        "UPDATE deliveries SET status = 'pending', position = ?, not_before = ? WHERE id = ? AND status = 'held'",
      ),
      ready: db.prepare(`SELECT d.* FROM deliveries d
        WHERE d.status = 'pending' AND d.not_before <= ?
          AND (d.ordered = 0 OR NOT EXISTS (
            SELECT 1 FROM deliveries p
            WHERE p.transaction_id = d.transaction_id AND p.ordered = 1 AND p.position < d.position
              AND p.status IN ('pending', 'in_flight')))
        ORDER BY d.not_before, d.position LIMIT ?`),
      nextDue: db.prepare(
        "SELECT MIN(not_before) AS t FROM deliveries WHERE status IN ('pending', 'held') AND not_before > ?",
      ),
      markInFlight: db.prepare("UPDATE deliveries SET status = 'in_flight' WHERE id = ? AND status = 'pending'"),
      resetInFlight: db.prepare("UPDATE deliveries SET status = 'pending' WHERE status = 'in_flight'"),
      finish: db.prepare(`UPDATE deliveries SET status = ?, attempts = ?, not_before = ?,
        last_status_code = ?, last_error = ?, finished_at = ? WHERE id = ?`),
      insertAttempt:
        db.prepare(`INSERT INTO attempts (delivery_id, n, started_at, latency_ms, status_code, error, retry_after_ms, response)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      getDelivery: db.prepare(`SELECT d.*, ${WAITING_FOR} AS waiting_for FROM deliveries d WHERE d.id = ?`),
      cancel: db.prepare(
        "UPDATE deliveries SET status = 'cancelled', finished_at = ? WHERE id = ? AND status IN ('held', 'pending')",
      ),
      // Last in its transaction, as a released hold: the engine relies on positions only growing.
      retry:
        db.prepare(`UPDATE deliveries SET status = 'pending', position = ?, not_before = ?, retry_from = attempts, finished_at = NULL
        WHERE id = ? AND status IN ('failed', 'gone', 'rejected', 'cancelled')`),
      retryNow: db.prepare(
        "UPDATE deliveries SET not_before = ?, retry_from = attempts WHERE id = ? AND status = 'pending'",
      ),
      countWaiting:
        db.prepare(`SELECT COUNT(*) AS n FROM deliveries d WHERE d.status = 'pending' AND d.ordered = 1 AND EXISTS (
        SELECT 1 FROM deliveries p WHERE p.transaction_id = d.transaction_id AND p.ordered = 1 AND p.position < d.position
          AND p.status IN ('pending', 'in_flight'))`),
      attemptsOf: db.prepare('SELECT * FROM attempts WHERE delivery_id = ? ORDER BY n'),
      countOpen: db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE status IN ('held', 'pending', 'in_flight')"),
      countByStatus: db.prepare('SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status'),
      eventTypes: db.prepare('SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type'),
      allAttempts: db.prepare('SELECT * FROM attempts ORDER BY id'),
      // Every delivery's event is in events, so the events with such a delivery are its distinct event ids.
      eventsDelivered: db.prepare(`SELECT (SELECT COUNT(*) FROM events) AS total,
        (SELECT COUNT(DISTINCT event_id) FROM deliveries WHERE status = 'delivered') AS delivered,
        (SELECT COUNT(DISTINCT event_id) FROM deliveries WHERE status IN ('held', 'pending', 'in_flight')) AS open`),
    };
  }

  /**
   * Runs `fn` in one SQLite transaction: a step and the deliveries it causes land together.
   * Inside another call it joins the caller's transaction instead of opening a savepoint, so a
   * batch (a tick's steps, a tick's attempts) commits once and fails as a whole.
   */
  atomically<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    return this.inTransaction(fn) as T;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  insertTransaction(t: TransactionRecord): void {
    // Positional, in the column order of the statement: binding by name costs more, per flow.
    this.stmt.insertTx.run(
      t.docvTransactionId,
      t.referenceId,
      t.sessionToken,
      t.customerUserId === undefined ? null : String(t.customerUserId),
      typeof t.customerUserId === 'number' ? 1 : 0,
      t.userId ?? null,
      t.webhookUrl ?? null,
      t.dialect,
      t.documentType,
      t.country,
      t.redirectUrl ?? null,
      t.requestedScenario,
      t.scenario,
      t.outcome,
      t.timeScale,
      t.chaos && Object.keys(t.chaos).length > 0 ? JSON.stringify(t.chaos) : null,
      t.status,
      t.decision ?? null,
      JSON.stringify(t.uploads),
      t.createdAt,
      t.completedAt ?? null,
    );
  }

  getTransaction(id: string): TransactionRecord | undefined {
    const r = this.stmt.getTx.get(id) as Row | undefined;
    return r && toTransaction(r);
  }

  getTransactionBySessionToken(token: string): TransactionRecord | undefined {
    const r = this.stmt.getTxBySession.get(token) as Row | undefined;
    return r && toTransaction(r);
  }

  updateTransactionState(
    t: Pick<TransactionRecord, 'docvTransactionId' | 'status' | 'decision' | 'uploads' | 'completedAt'>,
  ): void {
    this.stmt.updateTxState.run(
      t.status,
      t.decision ?? null,
      JSON.stringify(t.uploads),
      t.completedAt ?? null,
      t.docvTransactionId,
    );
  }

  insertStep(
    docvTransactionId: string,
    eventType: DocvEventType,
    decision: CanonicalDecision | undefined,
    dueAt: number,
  ): void {
    this.stmt.insertStep.run(docvTransactionId, eventType, decision ?? null, dueAt);
  }

  dueSteps(now: number, limit: number): StepRecord[] {
    return (this.stmt.dueSteps.all(now, limit) as Row[]).map((r) => ({
      id: r.id as number,
      docvTransactionId: r.transaction_id as string,
      eventType: r.event_type as DocvEventType,
      decision: opt(r.decision),
      dueAt: r.due_at as number,
    }));
  }

  plannedSteps(
    docvTransactionId: string,
  ): Array<{ eventType: DocvEventType; decision?: CanonicalDecision; dueAt: number }> {
    return (this.stmt.plannedSteps.all(docvTransactionId) as Row[]).map((r) => ({
      eventType: r.event_type as DocvEventType,
      decision: opt(r.decision),
      dueAt: r.due_at as number,
    }));
  }

  nextStepDue(): number | undefined {
    return opt((this.stmt.nextStepDue.get() as Row).t);
  }

  countPlannedSteps(): number {
    return (this.stmt.countPlanned.get() as { n: number }).n;
  }

  markStep(id: number, state: 'done' | 'skipped'): void {
    this.stmt.markStep.run(state, id);
  }

  cancelPlannedSteps(docvTransactionId: string): void {
    this.stmt.cancelSteps.run(docvTransactionId);
  }

  insertEvent(e: EventRecord): void {
    this.stmt.insertEvent.run(e.eventId, e.docvTransactionId, e.eventType, e.body, e.createdAt);
  }

  listEvents(docvTransactionId: string): EventRecord[] {
    return (this.stmt.listEvents.all(docvTransactionId) as Row[]).map((r) => ({
      eventId: r.id as string,
      docvTransactionId: r.transaction_id as string,
      eventType: r.event_type as string,
      body: r.body as string,
      createdAt: r.created_at as number,
    }));
  }

  private nextPosition(): number {
    this.position += 1;
    return this.position;
  }

  insertDelivery(d: NewDelivery): number {
    const info = this.stmt.insertDelivery.run(
      d.eventId,
      d.docvTransactionId,
      d.eventType,
      d.url,
      d.body,
      this.nextPosition(),
      d.ordered ? 1 : 0,
      d.copy,
      d.held ? 'held' : 'pending',
      d.notBefore,
      d.createdAt,
    );
    return Number(info.lastInsertRowid);
  }

  /** Moves the transaction's held deliveries behind everything queued so far: they now come after the event that overtook them. */
  releaseHeld(docvTransactionId: string, now: number): number {
    const ids = this.stmt.heldOf.all(docvTransactionId) as Array<{ id: number }>;
    for (const { id } of ids) this.stmt.release.run(this.nextPosition(), now, id);
    return ids.length;
  }

  /** Held deliveries whose hold ran out because no later event came. */
  releaseExpiredHolds(now: number): number {
    const ids = this.stmt.dueHeld.all(now) as Array<{ id: number }>;
    for (const { id } of ids) this.stmt.release.run(this.nextPosition(), now, id);
    return ids.length;
  }

  readyDeliveries(now: number, limit: number): DeliveryRecord[] {
    return (this.stmt.ready.all(now, limit) as Row[]).map(toDelivery);
  }

  /** The earliest future moment a delivery or hold becomes due. */
  nextDeliveryDue(now: number): number | undefined {
    return opt((this.stmt.nextDue.get(now) as Row).t);
  }

  markInFlight(id: number): boolean {
    return this.stmt.markInFlight.run(id).changes === 1;
  }

  /** After a crash or restart nothing is in flight: those attempts are retried (receivers deduplicate on `webhook-id`). */
  resetInFlight(): number {
    return this.stmt.resetInFlight.run().changes;
  }

  /** Records finished attempts and where each delivery goes next, in one transaction (or the caller's). */
  recordAttempts(batch: ReadonlyArray<FinishedAttempt>): void {
    if (batch.length === 0) return;
    this.atomically(() => {
      for (const { attempt, next } of batch) {
        this.stmt.insertAttempt.run(
          attempt.deliveryId,
          attempt.n,
          attempt.startedAt,
          attempt.latencyMs,
          attempt.statusCode ?? null,
          attempt.error ?? null,
          attempt.retryAfterMs ?? null,
          attempt.response ?? null,
        );
        this.stmt.finish.run(
          next.status,
          attempt.n,
          next.notBefore,
          attempt.statusCode ?? null,
          attempt.error ?? null,
          next.finishedAt ?? null,
          attempt.deliveryId,
        );
      }
    });
  }

  getDelivery(id: number): DeliveryListing | undefined {
    const r = this.stmt.getDelivery.get(id) as Row | undefined;
    return r && toListing(r);
  }

  /** No more attempts for a delivery not in flight and not final; the transaction's later ones go on without it. */
  cancelDelivery(id: number, now: number): boolean {
    return this.stmt.cancel.run(now, id).changes === 1;
  }

  /**
   * A final delivery other than a delivered one goes again, last in its transaction; a pending one
   * goes now instead of at its retry time. Either way with the whole retry schedule ahead of it.
   */
  retryDelivery(id: number, now: number): boolean {
    if (this.stmt.retry.run(this.nextPosition(), now, id).changes === 1) return true;
    return this.stmt.retryNow.run(now, id).changes === 1;
  }

  attemptsOf(deliveryId: number): AttemptRecord[] {
    return (this.stmt.attemptsOf.all(deliveryId) as Row[]).map(toAttempt);
  }

  allAttempts(): AttemptRecord[] {
    return (this.stmt.allAttempts.all() as Row[]).map(toAttempt);
  }

  listDeliveries(filter: DeliveryFilter = {}): DeliveryListing[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.docvTransactionId !== undefined) {
      where.push('d.transaction_id = ?');
      params.push(filter.docvTransactionId);
    }
    if (filter.afterId !== undefined) {
      where.push('d.id > ?');
      params.push(filter.afterId);
    }
    const shown: string[] = [];
    if (filter.status !== undefined) {
      shown.push(shownStatusCondition(filter.status));
      if (filter.status !== 'held' && filter.status !== 'pending') params.push(filter.status);
    }
    const limit = Math.min(Math.max(1, filter.limit ?? 100), 1000);
    const rows = `SELECT d.*, ${WAITING_FOR} AS waiting_for FROM deliveries d ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const sql = `SELECT * FROM (${rows}) ${shown.length ? `WHERE ${shown.join(' AND ')}` : ''} ORDER BY id LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...params) as Row[]).map(toListing);
  }

  countOpenDeliveries(): number {
    return (this.stmt.countOpen.get() as { n: number }).n;
  }

  /** By the state shown: pending deliveries waiting behind an earlier one count as held. */
  deliveryCounts(): Partial<Record<DeliveryStatus, number>> {
    const out: Partial<Record<DeliveryStatus, number>> = {};
    for (const r of this.stmt.countByStatus.all() as Array<{ status: DeliveryStatus; n: number }>) out[r.status] = r.n;
    const waiting = (this.stmt.countWaiting.get() as { n: number }).n;
    if (waiting > 0) {
      out.held = (out.held ?? 0) + waiting;
      const pending = out.pending! - waiting;
      if (pending > 0) out.pending = pending;
      else delete out.pending;
    }
    return out;
  }

  eventTypeCounts(): Array<[string, number]> {
    return (this.stmt.eventTypes.all() as Array<{ event_type: string; n: number }>).map((r) => [r.event_type, r.n]);
  }

  /** Events in total, events that reached the receiver at least once, events still on their way. */
  eventCounts(): { total: number; delivered: number; open: number } {
    const r = this.stmt.eventsDelivered.get() as { total: number; delivered: number | null; open: number | null };
    return { total: r.total, delivered: r.delivered ?? 0, open: r.open ?? 0 };
  }
}
