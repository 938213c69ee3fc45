import Database from 'better-sqlite3';
import { close as closeFd, closeSync, fsync, open as openFd } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalFromStored, eventTimeMs, storedMetadata, type CanonicalEvent } from '../../contract/index.js';
import {
  applyApiDecision,
  applyDecisionUnavailable,
  applyEvent,
  lifecycleEventOf,
  startLifecycle,
  type TransactionLifecycle,
} from '../../lifecycle/index.js';
import { decodeCursor } from '../cursor.js';
import {
  canonicalOfRow,
  deliveryOf,
  EVENT_SUMMARY_COLUMNS,
  eventSummaryOf,
  NO_TRANSACTION,
  page,
  shownHeaders,
  transactionColumn,
  withoutBookkeeping,
  type EventSummaryRow,
} from '../rows.js';
import { newId } from '../ids.js';
import {
  StoreUnavailableError,
  type AttemptResult,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryFilter,
  type FetchedDecision,
  type OutboxConfig,
  type OutboxDelivery,
  type OutboxDeliveryView,
  type ReplayFilter,
  type EventFilter,
  type IngestInput,
  type IngestOutcome,
  type Page,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineInput,
  type QuarantineReprocessResult,
  type Store,
  type StoreStats,
  type StoredEvent,
  type StoredEventSummary,
  type TransactionFilter,
  type TransactionSummary,
  type TransactionView,
} from '../types.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteCheckpointer, type CheckpointerStats } from './checkpointer.js';
import { SqliteOutbox } from './outbox.js';
import { SqliteDestinations } from './destinations.js';
import { outboxTargets, type ActiveDestination, type AddDestinationMode, type AddDestinationResult, type DestinationState, type NewDestination, type OutboxTargets, type StoredDestination } from '../destinations.js';
import { SqliteQuarantine } from './quarantine.js';
import { createPrivateDatabaseFile } from './private-file.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for tests. */
  path: string;
  /** Rejected deliveries kept for inspection; the oldest go first. */
  quarantineCapacity?: number;
  /** Most deliveries committed in one transaction. */
  maxBatch?: number;
  readonly?: boolean;
  /** Apply pending migrations on open (default true; `docv-webhooks migrate` opens without). */
  migrate?: boolean;
  /** How long to wait for another connection's write lock before answering 503 (default 5 s). */
  busyTimeoutMs?: number;
  /** Which outbox rows each accepted event creates; none by default. */
  outbox?: Partial<OutboxConfig>;
  /** Told about every group commit: how many deliveries shared it and how long it took. */
  onCommit?: (batchSize: number, durationMs: number) => void;
  /** How the WAL is fsynced (default: fs.fsync, on the thread pool); tests hold or fail it. */
  fsync?: (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;
  /**
   * Checkpoint from a thread of its own (see checkpointer.ts) instead of inside commits. Off by
   * default for the library (one thread per store); the receiver turns it on.
   */
  checkpointThread?: boolean;
}

/**
 * WAL pages between automatic checkpoints (SQLite's default is 1,000). A checkpoint copies every
 * page changed since the last one into the database file and fsyncs it, on the event loop, inside
 * the commit that triggers it. An event touches a few index pages at random places, so at 1,000
 * pages the checkpoints took most of the commit time. Ten times fewer checkpoints write a hot page
 * once instead of ten times. The WAL grows to about 40 MB (10,000 pages of 4 KiB) between
 * checkpoints and is removed when the store closes. The measurements, and the checkpoint thread
 * that now does most of this work: docs/decisions/0007-sqlite-checkpoints-on-a-thread.md.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** A unit of work for the write queue; all queued work shares one transaction and one fsync. */
interface Pending {
  run: () => unknown;
  resolve: (value: never) => void;
  reject: (err: Error) => void;
}

interface EventRow extends EventSummaryRow {
  seq: number;
  content_hash: string;
  received_at: string;
  raw_body?: Buffer;
  headers?: string;
}

interface TransactionRow {
  seq: number;
  state: string;
}

/** An event stored before its RiskOS evaluation was linked to a transaction (see adoptEvaluation). */
interface UnlinkedEventRow {
  seq: number;
  raw_body: Buffer;
  canonical: string | null;
  received_at: string;
}

/**
 * The embedded store. better-sqlite3 is synchronous, so every commit blocks the event loop:
 * deliveries that arrive in the same tick are committed together in one transaction (group
 * commit). The fsync that makes them durable runs off the loop (see whenDurable), and each request
 * is still answered only after its row is durable.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly quarantineCapacity: number;
  private readonly maxBatch: number;
  private readonly onCommit: SqliteStoreOptions['onCommit'];
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private preparedStatements: ReturnType<SqliteStore['prepare']> | null = null;
  /** The write-ahead log we fsync ourselves; null for `:memory:` and read-only stores. */
  private readonly walPath: string | null;
  /** Committed writes waiting for the next fsync of the WAL before they are reported done. */
  private awaitingSync: Array<(err: Error | null) => void> = [];
  private syncing: Promise<void> | null = null;
  /** Open for the life of the store: SQLite removes the WAL only when its last connection closes. */
  private walFd: number | null = null;
  private directorySynced = false;
  private readonly fsyncWal: NonNullable<SqliteStoreOptions['fsync']>;
  /** Statements of the read paths, prepared once each (preparing costs more than a lookup). */
  private readonly readStatements = new Map<string, Database.Statement>();
  private outboxInstance: SqliteOutbox | null = null;
  private destinationsInstance: SqliteDestinations | null = null;
  /**
   * The active stored destinations as the current commit read them: read at its first accepted
   * event, so another process's `destinations disable` counts from the next commit on, at the
   * cost of one tiny read per commit (not per event).
   */
  private activeInCommit: ActiveDestination[] | null = null;
  private quarantineInstance: SqliteQuarantine | null = null;
  private readonly outboxConfig: OutboxConfig;
  private readonly checkpointer: SqliteCheckpointer | null = null;

  constructor(options: SqliteStoreOptions) {
    if (!options.readonly) createPrivateDatabaseFile(options.path);
    this.db = new Database(options.path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    this.walPath = options.path === ':memory:' || options.readonly ? null : `${options.path}-wal`;
    this.fsyncWal = options.fsync ?? fsync;
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      // NORMAL, with the WAL fsynced by us before any write is reported done: see syncWal.
      this.db.pragma(`synchronous = ${this.walPath ? 'NORMAL' : 'FULL'}`);
      this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    }
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    this.quarantineCapacity = options.quarantineCapacity ?? 10_000;
    this.maxBatch = options.maxBatch ?? 1000;
    this.onCommit = options.onCommit;
    this.outboxConfig = { destinations: [], fetchDecisions: false, decisionWaitMs: 30_000, ...options.outbox };
    if (options.readonly) {
      // A read-only open never creates tables: say so now, not as "no such table" at the first query.
      const ours = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
      if (!ours) {
        this.db.close();
        throw new Error('it has no docv-webhooks tables; run `docv-webhooks migrate --db <url>` or check the path');
      }
    }
    if (!options.readonly) this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    if (options.migrate !== false && !options.readonly) this.applyMigrations();
    if (options.checkpointThread && this.walPath) this.checkpointer = SqliteCheckpointer.start(options.path);
  }

  /** Background checkpoints so far, or null when they run inside commits (see checkpointer.ts). */
  checkpointStats(): Readonly<CheckpointerStats> | null {
    return this.checkpointer?.current ?? null;
  }

  private cached<P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let stmt = this.readStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.readStatements.set(sql, stmt);
    }
    return stmt as unknown as Database.Statement<P, R>;
  }

  /** Prepared on first use, after migrations have created the tables. */
  private get stmts(): ReturnType<SqliteStore['prepare']> {
    this.preparedStatements ??= this.prepare();
    return this.preparedStatements;
  }

  /** Prepared on first use, after migrations have created the table. */
  private get quarantineRows(): SqliteQuarantine {
    this.quarantineInstance ??= new SqliteQuarantine(this.db);
    return this.quarantineInstance;
  }

  private get outbox(): SqliteOutbox {
    this.outboxInstance ??= new SqliteOutbox(this.db);
    return this.outboxInstance;
  }

  /** Prepared on first use, after migrations have created the table. */
  private get destinations(): SqliteDestinations {
    this.destinationsInstance ??= new SqliteDestinations(this.db);
    return this.destinationsInstance;
  }

  /** Changes which outbox rows new events create (the receiver knows its destinations after open). */
  configureOutbox(config: Partial<OutboxConfig>): void {
    Object.assign(this.outboxConfig, config);
  }

  /** This process's destinations and the store's active ones, read once per commit. */
  private outboxTargets(): OutboxTargets {
    this.activeInCommit ??= this.destinations.active();
    return outboxTargets(this.outboxConfig, this.activeInCommit);
  }

  async listDestinations(): Promise<StoredDestination[]> {
    return this.destinations.list();
  }

  addDestination(destination: NewDestination, mode: AddDestinationMode): Promise<AddDestinationResult> {
    return this.enqueue(() => {
      // Events later in the same commit get its rows too.
      this.activeInCommit = null;
      return this.destinations.add(destination, mode);
    });
  }

  setDestinationState(name: string, state: DestinationState): Promise<StoredDestination | null> {
    return this.enqueue(() => {
      this.activeInCommit = null;
      return this.destinations.setState(name, state);
    });
  }

  private prepare() {
    const db = this.db;
    return {
      eventByKey: db.prepare<[string], { event_id: string; content_hash: string }>(
        'SELECT event_id, content_hash FROM events WHERE dedupe_key = ?',
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
           event_time_ms, customer_user_id, decision, received_at, raw_body, headers, canonical, evaluation_id)
         VALUES (@eventId, @dedupeKey, @deliveryId, @contentHash, @docvTransactionId, @eventType, @eventTime,
           @eventTimeMs, @customerUserId, @decision, @receivedAt, @rawBody, @headers, @canonical, @evaluationId)`,
      ),
      // Both walk events_by_evaluation; they run only for events that carry an evaluation id.
      transactionOfEvaluation: db.prepare<[string], { docv_transaction_id: string }>(
        `SELECT docv_transaction_id FROM events WHERE evaluation_id = ? AND docv_transaction_id <> '${NO_TRANSACTION}' ORDER BY seq LIMIT 1`,
      ),
      unlinkedOfEvaluation: db.prepare<[string], UnlinkedEventRow>(
        `SELECT seq, raw_body, canonical, received_at FROM events WHERE evaluation_id = ? AND docv_transaction_id = '${NO_TRANSACTION}' ORDER BY seq`,
      ),
      linkEvent: db.prepare<[string, number]>('UPDATE events SET docv_transaction_id = ? WHERE seq = ?'),
      // No index on deliveries.event_seq: a linked note has one row per destination, found through
      // deliveries_in_order (docv_transaction_id = '', destination, event_seq) by its prefix.
      linkDeliveries: db.prepare<[string, number]>(`UPDATE deliveries SET docv_transaction_id = ? WHERE docv_transaction_id = '${NO_TRANSACTION}' AND event_seq = ?`),
      transactionState: db.prepare<[string], { state: string }>('SELECT state FROM transactions WHERE docv_transaction_id = ?'),
      upsertTransaction: db.prepare(
        `INSERT INTO transactions (docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at,
           first_received_at, last_received_at, event_count, anomaly_count, state)
         VALUES (@docvTransactionId, @status, @decision, @customerUserId, @firstEventAt, @lastEventAt,
           @firstReceivedAt, @lastReceivedAt, @eventCount, @anomalyCount, @state)
         ON CONFLICT (docv_transaction_id) DO UPDATE SET status = excluded.status, decision = excluded.decision,
           customer_user_id = excluded.customer_user_id, first_event_at = excluded.first_event_at,
           last_event_at = excluded.last_event_at, first_received_at = excluded.first_received_at,
           last_received_at = excluded.last_received_at, event_count = excluded.event_count,
           anomaly_count = excluded.anomaly_count, state = excluded.state`,
      ),
    };
  }

  private applyMigrations(): number[] {
    const applied = new Set(this.db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    const done: number[] = [];
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      }).immediate();
      done.push(m.version);
    }
    return done;
  }

  async migrate(): Promise<number[]> {
    return this.applyMigrations();
  }

  ingest(input: IngestInput): Promise<IngestOutcome> {
    return this.enqueue(() => this.ingestOne(input));
  }

  /**
   * Queues a write. setImmediate runs after the I/O callbacks of this loop turn, so every request
   * read by now joins the same commit.
   */
  private enqueue<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (value: never) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Commits what is queued. While an fsync is in flight a commit made now would wait for the
   * next fsync anyway, so the queue keeps gathering and syncWal commits it the moment the fsync
   * ends, just before starting the next one: same acknowledgement time, bigger commits and fewer
   * fsyncs when writes come from every side (ingest, claims, completions).
   */
  private flush(force = false): void {
    this.flushScheduled = false;
    if (!force && this.syncing && this.pending.length < this.maxBatch) return;
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    const done: Array<{ p: Pending; value: unknown }> = [];
    try {
      const results = this.commit(batch);
      batch.forEach((p, i) => done.push({ p, value: results[i] }));
    } catch (batchError) {
      if (batch.length === 1) {
        batch[0]!.reject(new StoreUnavailableError(`could not commit: ${(batchError as Error).message}`, { cause: batchError }));
        return;
      }
      // One bad row must not fail its neighbours: retry each alone.
      for (const p of batch) {
        try {
          done.push({ p, value: this.commit([p])[0] });
        } catch (err) {
          p.reject(new StoreUnavailableError(`could not commit: ${(err as Error).message}`, { cause: err }));
        }
      }
    }
    if (done.length === 0) return;
    this.whenDurable((err) => {
      for (const { p, value } of done) {
        if (err) p.reject(new StoreUnavailableError(`could not make the commit durable: ${err.message}`, { cause: err }));
        else p.resolve(value as never);
      }
    });
  }

  /**
   * Durability without blocking the event loop. The connection runs at synchronous=NORMAL: a
   * commit writes its WAL frames but does not wait for the disk. Every queued write is reported
   * done (and so every 2xx sent) only after an fsync of the WAL that started after its commit,
   * which is what synchronous=FULL would have waited for inside the commit, except that here the
   * fsync runs on libuv's thread pool while the loop goes on reading requests; commits made in the
   * meantime share the next fsync. A later write that reads an earlier one's rows (a duplicate, a
   * claim) waits for a later fsync, so nothing is ever answered from data that is not yet durable.
   * A crash of the process loses nothing either way (the frames are in the OS); a power cut can
   * only take back writes nobody was told about. Checkpoints at NORMAL still fsync the WAL and
   * the database themselves.
   */
  private whenDurable(done: (err: Error | null) => void): void {
    if (!this.walPath) return done(null);
    this.awaitingSync.push(done);
    this.syncing ??= this.syncWal();
  }

  private async syncWal(): Promise<void> {
    const walPath = this.walPath!;
    for (let round = 0; this.awaitingSync.length > 0 && round < 1_000_000; round++) {
      const waiting = this.awaitingSync;
      this.awaitingSync = [];
      let error: Error | null = null;
      try {
        const fd = (this.walFd ??= await openPath(walPath));
        await new Promise<void>((resolve, reject) => this.fsyncWal(fd, (err) => (err ? reject(err) : resolve())));
        // The WAL's directory entry must be durable too, once: SQLite would sync the directory
        // at the WAL's first sync, which at NORMAL only comes with the first checkpoint. Like
        // SQLite, a file system that cannot sync a directory is not an error.
        if (!this.directorySynced) {
          await fsyncPath(dirname(walPath)).catch(() => undefined);
          this.directorySynced = true;
        }
      } catch (err) {
        error = err as Error;
        if (this.walFd !== null) closeFd(this.walFd, () => undefined);
        this.walFd = null;
      }
      for (const w of waiting) w(error);
      // What gathered during this fsync: commit it now so it joins the next one.
      if (this.pending.length > 0) this.flush(true);
    }
    this.syncing = null;
  }

  /** One durable transaction for a batch; earlier work of the batch is visible to later work. */
  private commit(batch: Pending[]): unknown[] {
    const started = performance.now();
    this.activeInCommit = null;
    const results = this.db.transaction(() => batch.map((p) => p.run())).immediate();
    this.onCommit?.(batch.length, performance.now() - started);
    return results;
  }

  private ingestOne(input: IngestInput): IngestOutcome {
    const existing = this.stmts.eventByKey.get(input.dedupeKey);
    if (existing) {
      return existing.content_hash === input.contentHash
        ? { kind: 'duplicate', eventId: existing.event_id }
        : { kind: 'conflict', eventId: existing.event_id };
    }
    const event = this.withTransaction(input.event);
    const receivedAt = input.receivedAt.toISOString();
    const eventId = newId('evt', input.receivedAt.getTime());
    const inserted = this.stmts.insertEvent.run({
      eventId,
      dedupeKey: input.dedupeKey,
      deliveryId: input.webhookId,
      contentHash: input.contentHash,
      docvTransactionId: transactionColumn(event.docvTransactionId),
      eventType: event.eventType,
      eventTime: event.eventTime,
      eventTimeMs: eventTimeMs(event.eventTime),
      customerUserId: event.customerUserId ?? null,
      decision: event.decision ?? null,
      receivedAt,
      rawBody: input.rawBody,
      headers: JSON.stringify(input.headers),
      // What the sender said (a note's transaction as resolved is in docv_transaction_id).
      canonical: storedMetadata(input.event),
      evaluationId: event.evaluationId ?? null,
    });
    if (event.docvTransactionId !== null && !event.test) {
      // Only an event that names its transaction itself can link an evaluation to it.
      const links = input.event.docvTransactionId !== null && event.evaluationId !== undefined;
      this.foldIntoLifecycle(event.docvTransactionId, event, receivedAt, links);
    }
    this.outbox.enqueueFor({ seq: Number(inserted.lastInsertRowid), eventId, event, receivedAt: input.receivedAt }, this.outboxTargets());
    return { kind: 'accepted', eventId };
  }

  /**
   * The event with the transaction it belongs to. A RiskOS note carries only its evaluation id:
   * when an earlier event of that evaluation named the transaction, the note is filed under it.
   * Test events never join a transaction. Flat events (no evaluation id) cost no query here.
   */
  private withTransaction(event: CanonicalEvent): CanonicalEvent {
    if (event.docvTransactionId !== null || event.evaluationId === undefined || event.test) return event;
    const known = this.stmts.transactionOfEvaluation.get(event.evaluationId);
    return known ? { ...event, docvTransactionId: known.docv_transaction_id } : event;
  }

  /**
   * Folds an accepted event into its transaction's lifecycle; with `linksEvaluation`, also the
   * events of its evaluation that were waiting for a transaction.
   */
  private foldIntoLifecycle(docvTransactionId: string, event: CanonicalEvent, receivedAt: string, linksEvaluation: boolean): void {
    const lifecycleEvent = lifecycleEventOf(event, receivedAt);
    const row = this.stmts.transactionState.get(docvTransactionId);
    let state = row ? applyEvent(JSON.parse(row.state) as TransactionLifecycle, lifecycleEvent) : startLifecycle(docvTransactionId, lifecycleEvent);
    if (linksEvaluation && event.evaluationId !== undefined) state = this.adoptEvaluation(state, event.evaluationId);
    this.saveLifecycle(state);
  }

  /**
   * Events of `evaluationId` stored before any event linked the evaluation to a transaction (RiskOS
   * notes that arrived before the evaluation named its DocV token) move to this transaction, with
   * their deliveries, and are folded into its lifecycle: all in the commit of the event that
   * made the link, so no reader sees the event linked without them.
   */
  private adoptEvaluation(state: TransactionLifecycle, evaluationId: string): TransactionLifecycle {
    let folded = state;
    for (const row of this.stmts.unlinkedOfEvaluation.all(evaluationId)) {
      const stored = canonicalFromStored(JSON.parse(row.raw_body.toString('utf8')) as unknown, row.canonical);
      if (stored.test) continue;
      this.stmts.linkEvent.run(state.docvTransactionId, row.seq);
      this.stmts.linkDeliveries.run(state.docvTransactionId, row.seq);
      folded = applyEvent(folded, lifecycleEventOf(stored, row.received_at));
    }
    return folded;
  }

  private saveLifecycle(state: TransactionLifecycle): void {
    this.stmts.upsertTransaction.run({
      docvTransactionId: state.docvTransactionId,
      status: state.status,
      decision: state.decision,
      customerUserId: state.customerUserId,
      firstEventAt: state.firstEventAt,
      lastEventAt: state.lastEventAt,
      firstReceivedAt: state.firstReceivedAt,
      lastReceivedAt: state.lastReceivedAt,
      eventCount: state.eventCount,
      anomalyCount: state.anomalies.length,
      state: JSON.stringify(state),
    });
  }

  async quarantine(input: QuarantineInput): Promise<void> {
    if (this.quarantineCapacity <= 0) return;
    await this.enqueue(() => this.quarantineRows.insert(input, this.quarantineCapacity));
  }

  async getTransaction(docvTransactionId: string): Promise<TransactionView | null> {
    const row = this.cached<[string], TransactionRow>('SELECT seq, state FROM transactions WHERE docv_transaction_id = ?').get(docvTransactionId);
    if (!row) return null;
    const events = this.cached<[string], EventRow>(`SELECT ${EVENT_SUMMARY_COLUMNS} FROM events WHERE docv_transaction_id = ? ORDER BY event_time_ms, seq`).all(
      docvTransactionId,
    );
    return { ...withoutBookkeeping(JSON.parse(row.state) as TransactionLifecycle), events: events.map(eventSummaryOf) };
  }

  async listTransactions(filter: TransactionFilter): Promise<Page<TransactionSummary>> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit + 1 };
    const after = decodeCursor(filter.cursor, 'tx');
    if (after !== null) {
      where.push('seq < @after');
      params.after = after;
    }
    if (filter.status) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.decision) {
      where.push('decision = @decision');
      params.decision = filter.decision;
    }
    if (filter.customerUserId !== undefined) {
      where.push('customer_user_id = @customerUserId');
      params.customerUserId = filter.customerUserId;
    }
    const sql = `SELECT seq, state FROM transactions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    const rows = this.db.prepare<[Record<string, unknown>], TransactionRow>(sql).all(params);
    return page(rows, filter.limit, 'tx', (r) => withoutBookkeeping(JSON.parse(r.state) as TransactionLifecycle));
  }

  async getEvent(eventId: string): Promise<StoredEvent | null> {
    const row = this.cached<[string], EventRow>(`SELECT ${EVENT_SUMMARY_COLUMNS}, raw_body, headers FROM events WHERE event_id = ?`).get(eventId);
    if (!row) return null;
    const rawBody = row.raw_body!.toString('utf8');
    const payload = JSON.parse(rawBody) as Record<string, unknown>;
    return { ...eventSummaryOf(row), payload, event: canonicalOfRow(payload, row), rawBody, headers: shownHeaders(row.headers!) };
  }

  async listEvents(filter: EventFilter): Promise<Page<StoredEventSummary>> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit + 1 };
    const after = decodeCursor(filter.cursor, 'ev');
    if (after !== null) {
      where.push('seq < @after');
      params.after = after;
    }
    if (filter.docvTransactionId !== undefined) {
      where.push('docv_transaction_id = @docvTransactionId');
      params.docvTransactionId = filter.docvTransactionId;
    }
    if (filter.eventType) {
      where.push('event_type = @eventType');
      params.eventType = filter.eventType;
    }
    if (filter.evaluationId !== undefined) {
      where.push('evaluation_id = @evaluationId');
      params.evaluationId = filter.evaluationId;
    }
    // Dialect and test live in the canonical JSON; flat events (canonical NULL) are asyncapi, not test.
    if (filter.dialect !== undefined) {
      where.push("COALESCE(json_extract(canonical, '$.dialect'), 'asyncapi') = @dialect");
      params.dialect = filter.dialect;
    }
    if (filter.test !== undefined) {
      where.push("COALESCE(json_extract(canonical, '$.test'), 0) = @test");
      params.test = filter.test ? 1 : 0;
    }
    const sql = `SELECT ${EVENT_SUMMARY_COLUMNS} FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    return page(this.db.prepare<[Record<string, unknown>], EventRow>(sql).all(params), filter.limit, 'ev', eventSummaryOf);
  }

  async listQuarantine(filter: QuarantineFilter): Promise<Page<QuarantineEntry>> {
    return this.quarantineRows.list(filter);
  }

  async getQuarantine(quarantineId: string): Promise<QuarantineEntry | null> {
    return this.quarantineRows.get(quarantineId);
  }

  markQuarantineReprocessed(quarantineId: string, result: QuarantineReprocessResult): Promise<void> {
    return this.enqueue(() => this.quarantineRows.markReprocessed(quarantineId, result));
  }

  async stats(): Promise<StoreStats> {
    const count = (table: string) => (this.db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? 0);
    const byStatus = this.db.prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM transactions GROUP BY status').all();
    return {
      events: count('events'),
      transactions: count('transactions'),
      transactionsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      quarantine: count('quarantine'),
      deliveries: this.outbox.countByState(),
    };
  }

  claimDeliveries(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    return this.enqueue(() => this.outbox.claim(request));
  }

  completeDelivery(result: AttemptResult): Promise<boolean> {
    return this.enqueue(() => this.outbox.complete(result));
  }

  recordDecision(eventId: string, docvTransactionId: string, decision: FetchedDecision): Promise<void> {
    return this.enqueue(() => {
      this.outbox.saveDecision(eventId, docvTransactionId, decision);
      const row = this.stmts.transactionState.get(docvTransactionId);
      if (row) this.saveLifecycle(applyApiDecision(JSON.parse(row.state) as TransactionLifecycle, decision));
    });
  }

  markDecisionUnavailable(docvTransactionId: string, reason: string, at: Date): Promise<void> {
    return this.enqueue(() => {
      const row = this.stmts.transactionState.get(docvTransactionId);
      if (row) this.saveLifecycle(applyDecisionUnavailable(JSON.parse(row.state) as TransactionLifecycle, reason, at.toISOString()));
    });
  }

  async nextDueAt(destinations: string[]): Promise<number | null> {
    return this.outbox.nextDueAt(destinations);
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Page<OutboxDelivery>> {
    return page(this.outbox.list(filter).rows, filter.limit, 'dl', deliveryOf);
  }

  async getDelivery(deliveryId: string): Promise<OutboxDeliveryView | null> {
    const found = this.outbox.get(deliveryId);
    return found ? { ...found.delivery, history: found.history } : null;
  }

  retryDelivery(deliveryId: string): Promise<OutboxDelivery | null> {
    return this.enqueue(() => this.outbox.retry(deliveryId));
  }

  replay(filter: ReplayFilter): Promise<number> {
    return this.enqueue(() => this.outbox.replay(filter));
  }

  async ping(): Promise<void> {
    if (this.closed) throw new StoreUnavailableError('store is closed');
    this.cached('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Whatever is queued still gets its commit (and its fsync) before the file closes.
    while (this.pending.length > 0) this.flush(true);
    for (let i = 0; this.syncing && i < 1_000; i++) await this.syncing;
    // Its connection closes first: SQLite removes the WAL when the last connection closes.
    await this.checkpointer?.stop();
    if (this.walFd !== null) closeSync(this.walFd);
    this.db.close();
  }
}

/** The fs calls below run on libuv's thread pool; read-only descriptors suffice for fsync on Linux. */
function openPath(path: string): Promise<number> {
  return new Promise((resolve, reject) => openFd(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

async function fsyncPath(path: string): Promise<void> {
  const fd = await openPath(path);
  try {
    await fsyncFd(fd);
  } finally {
    closeFd(fd, () => undefined);
  }
}
