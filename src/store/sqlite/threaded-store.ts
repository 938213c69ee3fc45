import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../threads/spawn.js';
import {
  StoreUnavailableError,
  type AttemptResult,
  type BoundedCount,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryFilter,
  type DeliveryState,
  type DestinationHealth,
  type EventFilter,
  type FetchedDecision,
  type IngestInput,
  type IngestOutcome,
  type OutboxConfig,
  type OutboxDelivery,
  type OutboxDeliveryView,
  type Page,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineInput,
  type QuarantineReprocessResult,
  type ReceiptBucket,
  type ReplayFilter,
  type Store,
  type StoreStats,
  type StoredEvent,
  type StoredEventSummary,
  type TransactionFilter,
  type TransactionSummary,
  type TransactionView,
} from '../types.js';
import type {
  AddDestinationMode,
  AddDestinationResult,
  DestinationState,
  NewDestination,
  StoredDestination,
} from '../destinations.js';
import type { RekeyBatch, RekeyPosition } from '../encryption/rotation.js';
import type {
  ErasureCounts,
  ErasureRecord,
  PageRequest,
  RetentionStep,
  RetentionStepResult,
  Tombstone,
} from '../types.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import type { FromWriter, ToWriter, WriteCall, WriteMethod, WriterOpenOptions } from './writer-protocol.js';

export interface ThreadedSqliteStoreOptions extends WriterOpenOptions {
  onCommit?: SqliteStoreOptions['onCommit'];
}

interface Waiting {
  resolve: (value: never) => void;
  reject: (err: Error) => void;
}

/**
 * The SQLite store with its writes on a thread of their own. better-sqlite3 is synchronous:
 * every statement and commit of an ingest (about half of what an acknowledgement costs) runs on
 * the thread that calls it. Here the main thread parses, authenticates and validates, and posts
 * the write; the writer thread runs the same SqliteStore, group commit and fsync as before, and
 * posts the outcome back once it is durable. So a 2xx still waits for the fsync, and the two
 * halves of the work run on two cores.
 *
 * Reads (the admin API, lookups, the dispatcher's due time) use a connection of this thread:
 * in WAL mode they do not wait for the writer, and they see every write that has been reported
 * done.
 *
 * If the writer thread dies, every write in flight and after fails with StoreUnavailableError
 * (503: the sender retries) and ping fails, so /readyz tells the orchestrator to restart us.
 */
export class ThreadedSqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private queued: WriteCall[] = [];
  private postScheduled = false;
  private failure: string | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly writer: Worker,
    private readonly reader: SqliteStore,
    private readonly onCommit: SqliteStoreOptions['onCommit'],
  ) {
    writer.on('message', (m: FromWriter) => this.receive(m));
    writer.on('error', (err) => this.fail(`the SQLite writer thread failed: ${err.message}`));
    writer.on('exit', (code) => this.fail(`the SQLite writer thread exited (code ${code})`));
  }

  private utilizationMark: EventLoopUtilization | undefined;

  /** How busy the writer thread's event loop was since the last call (0-1), for the burst throttle. */
  writerUtilization(): number {
    const now = this.writer.performance.eventLoopUtilization();
    const since = this.utilizationMark ? this.writer.performance.eventLoopUtilization(now, this.utilizationMark) : now;
    this.utilizationMark = now;
    return since.utilization;
  }

  /** Starts the writer (which opens the file and applies migrations), then the reading connection. */
  static async open(options: ThreadedSqliteStoreOptions): Promise<ThreadedSqliteStore> {
    const { onCommit, ...writerOptions } = options;
    const writer = spawnModuleWorker(import.meta.url, 'writer-thread');
    let onMessage: (m: FromWriter) => void = () => undefined;
    let onError: (err: Error) => void = () => undefined;
    let onExit: (code: number) => void = () => undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onMessage = (m) => {
          if (m.kind === 'opened') resolve();
          else if (m.kind === 'open-failed') reject(new Error(m.message));
        };
        onError = reject;
        onExit = (code) => reject(new Error(`the SQLite writer thread exited (code ${code}) while opening`));
        writer.on('message', onMessage).on('error', onError).on('exit', onExit);
        writer.postMessage({ kind: 'open', options: writerOptions } satisfies ToWriter);
      });
    } catch (err) {
      await writer.terminate();
      throw err;
    } finally {
      // Not removeAllListeners(): the Worker's own listeners start and stop its message port.
      writer.off('message', onMessage).off('error', onError).off('exit', onExit);
    }
    const reader = new SqliteStore({
      path: options.path,
      migrate: false,
      ...(options.encryption ? { encryption: options.encryption } : {}),
      ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    });
    return new ThreadedSqliteStore(writer, reader, onCommit);
  }

  private receive(m: FromWriter): void {
    if (m.kind !== 'results') return;
    for (const [size, ms] of m.commits) this.onCommit?.(size, ms);
    for (const r of m.results) {
      const w = this.waiting.get(r.id);
      if (!w) continue;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r.value as never);
      else w.reject(r.unavailable ? new StoreUnavailableError(r.message) : new Error(r.message));
    }
  }

  private fail(reason: string): void {
    if (this.failure !== null) return;
    this.failure = reason;
    for (const w of this.waiting.values()) w.reject(new StoreUnavailableError(reason));
    this.waiting.clear();
  }

  /** Queues a write; the writes of one turn of the event loop cross to the writer in one message. */
  private call<T>(method: WriteMethod, ...args: unknown[]): Promise<T> {
    if (this.failure !== null) return Promise.reject(new StoreUnavailableError(this.failure));
    if (this.closing) return Promise.reject(new StoreUnavailableError('store is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: never) => void, reject });
      this.queued.push({ id, method, args });
      if (!this.postScheduled) {
        this.postScheduled = true;
        setImmediate(() => this.post());
      }
    });
  }

  private post(): void {
    this.postScheduled = false;
    if (this.queued.length === 0 || this.failure !== null) return;
    const calls = this.queued;
    this.queued = [];
    this.writer.postMessage({ kind: 'calls', calls } satisfies ToWriter);
  }

  migrate(): Promise<number[]> {
    return this.call('migrate');
  }
  ingest(input: IngestInput): Promise<IngestOutcome> {
    return this.call('ingest', input);
  }
  quarantine(input: QuarantineInput): Promise<void> {
    return this.call('quarantine', input);
  }
  markQuarantineReprocessed(quarantineId: string, result: QuarantineReprocessResult): Promise<void> {
    return this.call('markQuarantineReprocessed', quarantineId, result);
  }
  configureOutbox(config: Partial<OutboxConfig>): void {
    // Its own ordering: queued like a write, so it applies to every ingest queued after it.
    this.call('configureOutbox', config).catch(() => undefined);
  }
  addDestination(destination: NewDestination, mode: AddDestinationMode): Promise<AddDestinationResult> {
    return this.call('addDestination', destination, mode);
  }
  setDestinationState(name: string, state: DestinationState): Promise<StoredDestination | null> {
    return this.call('setDestinationState', name, state);
  }
  claimDeliveries(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    return this.call('claimDeliveries', request);
  }
  completeDelivery(result: AttemptResult): Promise<boolean> {
    return this.call('completeDelivery', result);
  }
  recordDecision(
    eventId: string,
    docvTransactionId: string,
    decision: FetchedDecision,
    source?: string,
  ): Promise<void> {
    return this.call('recordDecision', eventId, docvTransactionId, decision, source);
  }
  markDecisionUnavailable(docvTransactionId: string, reason: string, at: Date, source?: string): Promise<void> {
    return this.call('markDecisionUnavailable', docvTransactionId, reason, at, source);
  }
  retryDelivery(deliveryId: string): Promise<OutboxDelivery | null> {
    return this.call('retryDelivery', deliveryId);
  }
  replay(filter: ReplayFilter): Promise<number> {
    return this.call('replay', filter);
  }
  rekey(position: RekeyPosition | null, limit: number): Promise<RekeyBatch> {
    return this.call('rekey', position, limit);
  }
  retireUnusedKeys(): Promise<string[]> {
    return this.call('retireUnusedKeys');
  }

  getTransaction(docvTransactionId: string, source?: string): Promise<TransactionView | null> {
    return this.reader.getTransaction(docvTransactionId, source);
  }
  listTransactions(filter: TransactionFilter): Promise<Page<TransactionSummary>> {
    return this.reader.listTransactions(filter);
  }
  getEvent(eventId: string): Promise<StoredEvent | null> {
    return this.reader.getEvent(eventId);
  }
  listEvents(filter: EventFilter): Promise<Page<StoredEventSummary>> {
    return this.reader.listEvents(filter);
  }
  listQuarantine(filter: QuarantineFilter): Promise<Page<QuarantineEntry>> {
    return this.reader.listQuarantine(filter);
  }
  countQuarantine(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount> {
    return this.reader.countQuarantine(filter, cap);
  }
  getQuarantine(quarantineId: string): Promise<QuarantineEntry | null> {
    return this.reader.getQuarantine(quarantineId);
  }
  stats(): Promise<StoreStats> {
    return this.reader.stats();
  }
  countTransactions(filter: Omit<TransactionFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount> {
    return this.reader.countTransactions(filter, cap);
  }
  receiptCounts(from: Date, to: Date, bucketMs: number): Promise<ReceiptBucket[]> {
    return this.reader.receiptCounts(from, to, bucketMs);
  }
  // Reads, on this thread's connection: the count may be a commit behind the replay that follows it.
  countReplay(filter: ReplayFilter): Promise<number> {
    return this.reader.countReplay(filter);
  }
  deliveryCountsByDestination(): Promise<Record<string, Record<DeliveryState, number>>> {
    return this.reader.deliveryCountsByDestination();
  }
  destinationHealth(since: Date): Promise<DestinationHealth[]> {
    return this.reader.destinationHealth(since);
  }
  listDestinations(): Promise<StoredDestination[]> {
    return this.reader.listDestinations();
  }
  releaseDeliveries(workerId: string): Promise<void> {
    return this.call('releaseDeliveries', workerId);
  }
  nextDueAt(destinations: string[], workerId?: string): Promise<number | null> {
    return this.reader.nextDueAt(destinations, workerId);
  }
  listDeliveries(filter: DeliveryFilter): Promise<Page<OutboxDelivery>> {
    return this.reader.listDeliveries(filter);
  }
  getDelivery(deliveryId: string): Promise<OutboxDeliveryView | null> {
    return this.reader.getDelivery(deliveryId);
  }

  retentionStep(step: RetentionStep): Promise<RetentionStepResult> {
    return this.call('retentionStep', step);
  }
  eraseCustomerStep(
    customerUserId: string,
    limit: number,
    now: Date,
  ): Promise<{ counts: ErasureCounts; done: boolean }> {
    return this.call('eraseCustomerStep', customerUserId, limit, now);
  }
  recordErasure(customerUserId: string, counts: ErasureCounts, at: Date): Promise<ErasureRecord> {
    return this.call('recordErasure', customerUserId, counts, at);
  }
  listErasures(filter: PageRequest & { customerUserId?: string | undefined }): Promise<Page<ErasureRecord>> {
    return this.reader.listErasures(filter);
  }
  getTombstone(docvTransactionId: string, source?: string): Promise<Tombstone | null> {
    return this.reader.getTombstone(docvTransactionId, source);
  }

  async ping(): Promise<void> {
    if (this.failure !== null) throw new StoreUnavailableError(this.failure);
    await this.reader.ping();
  }

  /** Whatever is queued is still written and made durable, then both connections close. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.post();
      if (this.failure === null) {
        await new Promise<void>((resolve) => {
          const onMessage = (m: FromWriter) => {
            if (m.kind === 'closed') resolve();
          };
          this.writer.on('message', onMessage);
          this.writer.once('exit', () => resolve());
          this.writer.postMessage({ kind: 'close' } satisfies ToWriter);
        });
      }
      this.fail('store is closed');
      await this.writer.terminate();
      await this.reader.close();
    })();
    return this.closing;
  }
}
