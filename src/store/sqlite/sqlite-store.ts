import type Database from 'better-sqlite3';
import { applyApiDecision, applyDecisionUnavailable } from '../../lifecycle/index.js';
import {
  outboxTargets,
  type ActiveDestination,
  type AddDestinationMode,
  type AddDestinationResult,
  type DestinationState,
  type NewDestination,
  type OutboxTargets,
  type StoredDestination,
} from '../destinations.js';
import { DEFAULT_SOURCE } from '../../contract/index.js';
import { parseLogDeliveryId } from '../log-outbox.js';
import { transactionColumn } from '../rows.js';
import {
  countDeliveriesByDestinationFromLog,
  countDeliveriesFromLog,
  countLog,
  destinationHealthFromLog,
  listDeliveriesFromLog,
  logDeliveryById,
} from '../log-views.js';
import {
  StoreUnavailableError,
  type AttemptResult,
  type BoundedCount,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryFilter,
  type DeliveryState,
  type DestinationHealth,
  type ErasureCounts,
  type ErasureRecord,
  type EventFilter,
  type FetchedDecision,
  type IngestInput,
  type IngestOutcome,
  type OutboxConfig,
  type OutboxDelivery,
  type OutboxDeliveryView,
  type Page,
  type PageRequest,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineInput,
  type QuarantineReprocessResult,
  type ReceiptBucket,
  type ReplayFilter,
  type RetentionStep,
  type RetentionStepResult,
  type Store,
  type StoreStats,
  type StoredEvent,
  type StoredEventSummary,
  type Tombstone,
  type TransactionFilter,
  type TransactionSummary,
  type TransactionView,
} from '../types.js';
import type { EncryptionKeys } from '../encryption/keys.js';
import type { RekeyBatch, RekeyPosition } from '../encryption/rotation.js';
import { Sealer } from '../encryption/sealer.js';
import { SqliteCheckpointer, type CheckpointerStats } from './checkpointer.js';
import { registerAndCheckKeys, SqliteRekey } from './encryption.js';
import { openSqliteDatabase } from './database.js';
import { SqliteDestinations } from './destinations.js';
import { SqliteIngest } from './ingest.js';
import { applySqliteMigrations } from './migrations.js';
import { SqliteOutbox } from './outbox.js';
import { SqliteQuarantine } from './quarantine.js';
import { SqliteReadModel } from './read-model.js';
import { SqliteRetention } from './retention.js';
import { SqliteWriteQueue } from './write-queue.js';

export { WAL_AUTOCHECKPOINT_PAGES } from './database.js';

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
  /**
   * Encryption at rest (store/encryption/): the current key seals new rows' personal data, the
   * previous ones open older rows. Opening fails when rows are sealed with a key not given here.
   */
  encryption?: EncryptionKeys;
}

/**
 * The embedded store: one SQLite file, one connection. Its parts, each on that connection:
 * the write queue (write-queue.ts: group commit, the fsync off the event loop), the event log
 * (ingest.ts), the reads (read-model.ts), the outbox, the quarantine and the destinations. Every
 * write goes through the queue, so each request is answered only after its row is durable.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly quarantineCapacity: number;
  private readonly writes: SqliteWriteQueue;
  private closed = false;
  private readonly readonly: boolean;
  private readonly outboxConfig: OutboxConfig;
  private readonly checkpointer: SqliteCheckpointer | null = null;
  private readonly reads: SqliteReadModel;
  private readonly sealer: Sealer;
  // The parts below prepare their statements when built: on first use, after migrations have
  // created the tables.
  private ingestInstance: SqliteIngest | null = null;
  private outboxInstance: SqliteOutbox | null = null;
  private destinationsInstance: SqliteDestinations | null = null;
  private quarantineInstance: SqliteQuarantine | null = null;
  /**
   * The active stored destinations as the current commit read them: read at its first accepted
   * event, so another process's `destinations disable` counts from the next commit on, at the
   * cost of one tiny read per commit (not per event).
   */
  private activeInCommit: ActiveDestination[] | null = null;

  constructor(options: SqliteStoreOptions) {
    const { db, walPath } = openSqliteDatabase(options);
    this.db = db;
    this.readonly = options.readonly === true;
    this.quarantineCapacity = options.quarantineCapacity ?? 10_000;
    this.outboxConfig = { destinations: [], fetchDecisions: false, decisionWaitMs: 30_000, ...options.outbox };
    this.sealer = new Sealer(options.encryption);
    try {
      registerAndCheckKeys(db, this.sealer, !this.readonly);
    } catch (err) {
      db.close();
      throw err;
    }
    this.reads = new SqliteReadModel(db, this.sealer);
    this.writes = new SqliteWriteQueue(db, {
      walPath,
      maxBatch: options.maxBatch ?? 1000,
      fsync: options.fsync,
      onCommit: options.onCommit,
      beforeCommit: () => {
        this.activeInCommit = null;
      },
      endOfCommit: () => this.outboxInstance?.log.flushCursors(),
    });
    if (options.checkpointThread && walPath) this.checkpointer = SqliteCheckpointer.start(options.path);
  }

  /** Background checkpoints so far, or null when they run inside commits (see checkpointer.ts). */
  checkpointStats(): Readonly<CheckpointerStats> | null {
    return this.checkpointer?.current ?? null;
  }

  private get events(): SqliteIngest {
    this.ingestInstance ??= new SqliteIngest(this.db, this.outbox, this.sealer);
    return this.ingestInstance;
  }

  private get quarantineRows(): SqliteQuarantine {
    this.quarantineInstance ??= new SqliteQuarantine(this.db, this.sealer);
    return this.quarantineInstance;
  }

  private get outbox(): SqliteOutbox {
    this.outboxInstance ??= new SqliteOutbox(this.db, this.sealer);
    return this.outboxInstance;
  }

  private get destinations(): SqliteDestinations {
    this.destinationsInstance ??= new SqliteDestinations(this.db);
    return this.destinationsInstance;
  }

  async migrate(): Promise<number[]> {
    return applySqliteMigrations(this.db);
  }

  // Event log

  ingest(input: IngestInput): Promise<IngestOutcome> {
    return this.forgettingOnFailure(
      this.writes.enqueue(() => {
        this.ensureLocalCursors();
        return this.events.ingest(input, () => this.outboxTargets());
      }),
    );
  }

  /** Whether this process's own destinations have their cursors (see ensureLocalCursors). */
  private localCursorsReady = false;

  /**
   * This process's own destinations (a library's handlers) read the log from the first event
   * accepted after they were configured: their cursors are made in the commit of that event,
   * before it, once.
   */
  private ensureLocalCursors(): void {
    if (this.localCursorsReady) return;
    this.outbox.log.ensureCursors(this.outboxConfig.destinations);
    this.localCursorsReady = true;
  }

  async quarantine(input: QuarantineInput): Promise<void> {
    if (this.quarantineCapacity <= 0) return;
    await this.writes.enqueue(() => this.quarantineRows.insert(input, this.quarantineCapacity));
  }

  /** This process's destinations and the store's active ones, read once per commit. */
  private outboxTargets(): OutboxTargets {
    this.activeInCommit ??= this.destinations.active();
    return outboxTargets(this.outboxConfig, this.activeInCommit);
  }

  // Read model

  async getTransaction(docvTransactionId: string, source?: string): Promise<TransactionView | null> {
    return this.reads.getTransaction(docvTransactionId, source);
  }

  async listTransactions(filter: TransactionFilter): Promise<Page<TransactionSummary>> {
    return this.reads.listTransactions(filter);
  }

  async getEvent(eventId: string): Promise<StoredEvent | null> {
    return this.reads.getEvent(eventId);
  }

  async listEvents(filter: EventFilter): Promise<Page<StoredEventSummary>> {
    return this.reads.listEvents(filter);
  }

  async countTransactions(filter: Omit<TransactionFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount> {
    return this.reads.countTransactions(filter, cap);
  }

  receiptCounts(from: Date, to: Date, bucketMs: number): Promise<ReceiptBucket[]> {
    return this.reads.receiptCounts(from, to, bucketMs);
  }

  async stats(): Promise<StoreStats> {
    return {
      ...this.reads.counts(),
      events: await countLog(this.outbox.views),
      deliveries: await countDeliveriesFromLog(this.outbox.views),
    };
  }

  // Quarantine

  async listQuarantine(filter: QuarantineFilter): Promise<Page<QuarantineEntry>> {
    return this.quarantineRows.list(filter);
  }

  async countQuarantine(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount> {
    return this.quarantineRows.count(filter, cap);
  }

  async getQuarantine(quarantineId: string): Promise<QuarantineEntry | null> {
    return this.quarantineRows.get(quarantineId);
  }

  markQuarantineReprocessed(quarantineId: string, result: QuarantineReprocessResult): Promise<void> {
    return this.writes.enqueue(() => this.quarantineRows.markReprocessed(quarantineId, result));
  }

  // Outbox

  /** Changes which outbox rows new events create (the receiver knows its destinations after open). */
  configureOutbox(config: Partial<OutboxConfig>): void {
    const before = new Set(this.outboxConfig.destinations);
    Object.assign(this.outboxConfig, config);
    // This process's own destinations read the log from the next event on; those it no longer
    // has stop there (queued now, so before any event queued after this call).
    const local = [...this.outboxConfig.destinations];
    const dropped = [...before].filter((d) => !local.includes(d));
    this.localCursorsReady = false;
    if ((local.length > 0 || dropped.length > 0) && !this.readonly)
      this.writes
        .enqueue(() => {
          this.ensureLocalCursors();
          this.outbox.log.retireCursors(dropped);
        })
        .catch(() => undefined);
  }

  claimDeliveries(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    // Answered once durable like every write that reads others' rows: a claim must not hand out
    // an event whose own commit a power cut could still take back (write-queue.ts, whenDurable).
    return this.forgettingOnFailure(
      this.writes.enqueue(() => {
        this.ensureLocalCursors();
        return this.outbox.claim(request, this.outboxTargets());
      }),
    );
  }

  completeDelivery(result: AttemptResult): Promise<boolean> {
    // An attempt's record lost in a crash means the delivery is made again: no fsync to wait for.
    return this.forgettingOnFailure(this.writes.enqueue(() => this.outbox.complete(result), { durable: false }));
  }

  releaseDeliveries(workerId: string): Promise<void> {
    return this.writes.enqueue(() => this.outbox.log.release(workerId));
  }

  /**
   * What the log reader keeps in memory (what is in flight, how far it read) runs ahead of its
   * commit; when a commit fails, it is forgotten, and the next claim reads again from the
   * committed cursor: deliveries may be made twice, none is skipped.
   */
  private async forgettingOnFailure<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } catch (err) {
      // Not this.outbox: on a closed store, building it would throw instead of the write's error.
      this.outboxInstance?.log.forget();
      this.localCursorsReady = false;
      throw err;
    }
  }

  async nextDueAt(destinations: string[], workerId?: string): Promise<number | null> {
    return this.outbox.nextDueAt(destinations, workerId);
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Page<OutboxDelivery>> {
    return listDeliveriesFromLog(this.outbox.views, filter);
  }

  async getDelivery(deliveryId: string): Promise<OutboxDeliveryView | null> {
    const found = this.outbox.get(deliveryId);
    if (found) return { ...found.delivery, history: found.history };
    const parsed = parseLogDeliveryId(deliveryId);
    return parsed ? ((await logDeliveryById(this.outbox.views, parsed))?.delivery ?? null) : null;
  }

  retryDelivery(deliveryId: string): Promise<OutboxDelivery | null> {
    return this.writes.enqueue(() => this.outbox.retry(deliveryId));
  }

  replay(filter: ReplayFilter): Promise<number> {
    return this.writes.enqueue(() => this.outbox.replay(filter));
  }

  async countReplay(filter: ReplayFilter): Promise<number> {
    return this.outbox.countReplay(filter);
  }

  deliveryCountsByDestination(): Promise<Record<string, Record<DeliveryState, number>>> {
    return countDeliveriesByDestinationFromLog(this.outbox.views);
  }

  destinationHealth(since: Date): Promise<DestinationHealth[]> {
    return destinationHealthFromLog(this.outbox.views, since);
  }

  // Decisions

  recordDecision(
    eventId: string,
    docvTransactionId: string,
    decision: FetchedDecision,
    source?: string,
  ): Promise<void> {
    return this.writes.enqueue(() => {
      // Filed under the transaction key (rows.ts): the event's own when no source is given.
      const key = this.events.decisionKey(eventId, docvTransactionId, source);
      this.outbox.saveDecision(eventId, key, decision);
      this.events.updateLifecycle(key, (state) => applyApiDecision(state, decision));
    });
  }

  markDecisionUnavailable(docvTransactionId: string, reason: string, at: Date, source?: string): Promise<void> {
    return this.writes.enqueue(() =>
      this.events.updateLifecycle(transactionColumn(docvTransactionId, source ?? DEFAULT_SOURCE), (state) =>
        applyDecisionUnavailable(state, reason, at.toISOString()),
      ),
    );
  }

  // Destinations

  async listDestinations(): Promise<StoredDestination[]> {
    return this.destinations.list();
  }

  addDestination(destination: NewDestination, mode: AddDestinationMode): Promise<AddDestinationResult> {
    return this.writes.enqueue(() => {
      // Events later in the same commit get its rows too.
      this.activeInCommit = null;
      const added = this.destinations.add(destination, mode);
      // A forward reads the log from the event accepted after it.
      if (added.outcome === 'created' && destination.kind === 'forward')
        this.outbox.log.ensureCursors([destination.name]);
      return added;
    });
  }

  setDestinationState(name: string, state: DestinationState): Promise<StoredDestination | null> {
    return this.writes.enqueue(() => {
      this.activeInCommit = null;
      return this.destinations.setState(name, state);
    });
  }

  // Encryption at rest

  rekey(position: RekeyPosition | null, limit: number): Promise<RekeyBatch> {
    return this.writes.enqueue(() => new SqliteRekey(this.db, this.sealer).batch(position, limit));
  }

  retireUnusedKeys(): Promise<string[]> {
    return this.writes.enqueue(() => new SqliteRekey(this.db, this.sealer).retireUnused());
  }

  // Retention and erasure (sqlite/retention.ts): each step one commit of the write queue.

  private retentionInstance: SqliteRetention | null = null;

  private get retention(): SqliteRetention {
    this.retentionInstance ??= new SqliteRetention(this.db);
    return this.retentionInstance;
  }

  retentionStep(step: RetentionStep): Promise<RetentionStepResult> {
    return this.writes.enqueue(() => this.retention.step(step));
  }

  eraseCustomerStep(
    customerUserId: string,
    limit: number,
    now: Date,
  ): Promise<{ counts: ErasureCounts; done: boolean }> {
    return this.writes.enqueue(() => this.retention.eraseStep(customerUserId, limit, now));
  }

  recordErasure(customerUserId: string, counts: ErasureCounts, at: Date): Promise<ErasureRecord> {
    return this.writes.enqueue(() => this.retention.recordErasure(customerUserId, counts, at));
  }

  async listErasures(filter: PageRequest & { customerUserId?: string | undefined }): Promise<Page<ErasureRecord>> {
    return this.retention.listErasures(filter);
  }

  async getTombstone(docvTransactionId: string, source?: string): Promise<Tombstone | null> {
    return this.retention.tombstone(docvTransactionId, source);
  }

  // Lifecycle

  async ping(): Promise<void> {
    if (this.closed) throw new StoreUnavailableError('store is closed');
    this.reads.cached('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Whatever is queued still gets its commit (and its fsync) before the file closes.
    await this.writes.close();
    // Its connection closes first: SQLite removes the WAL when the last connection closes.
    await this.checkpointer?.stop();
    this.db.close();
  }
}
