import type { CanonicalDecision, CanonicalEvent, Dialect } from '../contract/index.js';
import type { AnomalyCode, ApiDecision, TransactionLifecycle } from '../lifecycle/index.js';
import type {
  AddDestinationMode,
  AddDestinationResult,
  DestinationState,
  NewDestination,
  StoredDestination,
} from './destinations.js';
import type { RekeyBatch, RekeyPosition } from './encryption/rotation.js';

/** One authenticated delivery that fits a dialect, normalised, ready to be committed. */
export interface IngestInput {
  /**
   * `id:<webhook-id>` when the sender gave a delivery id, `env:<envelope id>` for an envelope
   * with an id of its own, else `t:<event time>:sha256:<canonical payload hash>` (see
   * ingest/dedupe-key.ts).
   */
  dedupeKey: string;
  /** The sender's `webhook-id` (or `svix-id`): its id for this message, the same on every retry. */
  webhookId: string | null;
  /** SHA-256 of the canonical payload: tells a true duplicate from a reused webhook-id. */
  contentHash: string;
  /**
   * The canonical event. `docvTransactionId` is null for a test event, and for a RiskOS note
   * whose evaluation id the store may resolve to a transaction it already knows.
   */
  event: CanonicalEvent;
  /** What is kept of the body: the bytes as received, or re-serialised when document data was removed. */
  rawBody: Uint8Array;
  headers: Record<string, string>;
  receivedAt: Date;
  /**
   * The source it came through (contract/source.ts); DEFAULT_SOURCE when absent. It scopes the
   * transaction (rows.ts, transactionColumn) and a RiskOS note's evaluation link; the dedupe key
   * is already scoped by ingest (dedupe-key.ts).
   */
  source?: string | undefined;
}

export type IngestOutcome =
  | { kind: 'accepted'; eventId: string }
  | { kind: 'duplicate'; eventId: string }
  /** The delivery id was seen before with a different payload. */
  | { kind: 'conflict'; eventId: string };

export interface QuarantineInput {
  reason: string;
  /** The dialect the body was closest to, when it was JSON. */
  dialect?: Dialect | null;
  status: number;
  detail: unknown;
  headers: Record<string, string>;
  body: Uint8Array;
  bodySize: number;
  receivedAt: Date;
  /** The source whose endpoint refused it (reprocessing runs it through that source again); DEFAULT_SOURCE when absent. */
  source?: string | undefined;
}

export interface StoredEventSummary {
  eventId: string;
  /** Null for a test event or a RiskOS note not linked to a transaction (yet). */
  docvTransactionId: string | null;
  /** The source it came through. */
  source: string;
  eventType: string;
  eventTime: string;
  /** `receipt` when the sender gave no event time and the receipt time stands in. */
  eventTimeSource: 'event' | 'receipt';
  decision: CanonicalDecision | null;
  customerUserId: string | null;
  dialect: Dialect;
  test: boolean;
  evaluationId: string | null;
  /** The sender's `webhook-id` (`msg_…` from the sandbox), when it sent one. */
  webhookId: string | null;
  dedupeKey: string;
  receivedAt: string;
  /** How many times the same event arrived again after it was accepted (answered `duplicate`). */
  duplicates: number;
  /** When the last of those arrived; null when none did. */
  lastDuplicateAt: string | null;
}

export interface StoredEvent extends StoredEventSummary {
  /** The body as stored (document data removed unless kept on purpose). */
  payload: Record<string, unknown>;
  /** The canonical event, payload included. */
  event: CanonicalEvent;
  rawBody: string;
  headers: Record<string, string>;
  /**
   * Present when retention removed part of the event (the raw body, stored headers and document
   * data: `raw` is when); payload and rawBody are then empty.
   */
  removedByRetention?: { raw: string };
}

/** A transaction: its lifecycle, and the source whose events it holds (the same id under two sources is two transactions). */
export type TransactionSummary = Omit<TransactionLifecycle, 'seen'> & { source: string };

/**
 * A transaction id looked up without its source matched transactions of several sources: the
 * caller must say which (the admin API answers 409 with them, the CLI asks for --source).
 */
export class AmbiguousTransactionError extends Error {
  constructor(
    readonly docvTransactionId: string,
    readonly sources: string[],
  ) {
    super(
      `transaction ${JSON.stringify(docvTransactionId)} exists under several sources (${sources.join(', ')}); say which one`,
    );
    this.name = 'AmbiguousTransactionError';
  }
}

export interface TransactionView extends TransactionSummary {
  events: StoredEventSummary[];
}

export interface QuarantineEntry {
  quarantineId: string;
  receivedAt: string;
  reason: string;
  status: number;
  detail: unknown;
  headers: Record<string, string>;
  body: string;
  bodySize: number;
  bodyTruncated: boolean;
  /** The dialect the body was closest to (null when it was not JSON or was rejected before parsing). */
  dialect: Dialect | null;
  /** The source whose endpoint refused it. */
  source: string;
  /** The last time the body was run through ingest again, and what came of it. */
  reprocessed: QuarantineReprocessResult | null;
}

export interface QuarantineReprocessResult {
  at: string;
  /** The ingest outcome: accepted, duplicate, invalid… */
  outcome: string;
  status: number;
  eventId: string | null;
}

export interface QuarantineFilter extends PageRequest {
  reason?: string | undefined;
  status?: number | undefined;
  /** true: only rows run through ingest again; false: only rows never reprocessed. */
  reprocessed?: boolean | undefined;
  source?: string | undefined;
  /** Received at or after. */
  from?: Date | undefined;
  /** Received before. */
  to?: Date | undefined;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
  /**
   * Present when the store stopped looking at its bound: a transaction filter with a condition
   * no index answers (dialect, environment) examines at most `examined` transactions per page
   * (UNINDEXED_WALK), by last activity from the cursor. `items` are the matches among them (none,
   * some, or a full page); nextCursor is the position of the last one examined, so the next page
   * searches older ones. Absent when the page ends at its last item or is the last page.
   */
  partial?: { examined: number };
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

/**
 * Transactions are listed by last activity (last receipt), newest first, then by creation;
 * the cursor is a keyset position, so a page never repeats or skips a row because rows were added.
 * A transaction that changes while someone pages moves to the top (a new first page shows it).
 */
export interface TransactionFilter extends PageRequest {
  /** Only this source's transactions (no index: a bounded walk, as for dialect and environment). */
  source?: string | undefined;
  status?: string | undefined;
  decision?: CanonicalDecision | undefined;
  customerUserId?: string | undefined;
  /**
   * A transaction id, customer user id or event id, exact or a prefix of one (at most
   * MAX_SEARCH_LENGTH characters): transactions matching any of the three.
   */
  search?: string | undefined;
  /** Only transactions with this anomaly, or (`any`) with at least one. */
  anomaly?: AnomalyCode | 'any' | undefined;
  /** Only transactions that received an event in this dialect. */
  dialect?: Dialect | undefined;
  /** Only transactions of this environment (`Sandbox`, `Production`…), as the events said. */
  environment?: string | undefined;
  /** Last activity (last receipt) at or after. */
  from?: Date | undefined;
  /** Last activity before. */
  to?: Date | undefined;
}

/** Longest search string a transaction filter takes. */
export const MAX_SEARCH_LENGTH = 256;

/** A count that stops at a bound, so counting a filter never walks a million rows. */
export interface BoundedCount {
  /** The count, or the bound when there are more. */
  count: number;
  /** True when the count stopped at the bound (the real number is higher). */
  capped: boolean;
  /**
   * Present when the filter has a condition no index answers (dialect, environment) and there
   * were more transactions to examine than UNINDEXED_WALK: the count covers only the `examined`
   * most recent (by last activity) of those the rest of the filter picks.
   */
  examined?: number;
}

/** Events received in one time bucket. */
export interface ReceiptBucket {
  /** Start of the bucket (ISO 8601). */
  start: string;
  /** Events received from `start` to the next bucket's start. */
  events: number;
}

/** How a destination has been doing lately, for people deciding whether to pause it. */
export interface DestinationHealth {
  /** The destination's name (`forward:<host><path>`, a handler's name, `decision-fetch`). */
  destination: string;
  /** Attempts since the window's start: first attempts read from the log (to the second) plus recorded ones. */
  attempts: number;
  /** Of those, attempts that failed or gave up. */
  failures: number;
  /** When it last took a delivery (a first attempt from the log: to the second). */
  lastDeliveredAt: string | null;
  /** The error of its latest recorded failed attempt, whenever that was. */
  lastError: string | null;
  /** When that attempt started. */
  lastErrorAt: string | null;
}

export interface EventFilter extends PageRequest {
  source?: string | undefined;
  /** With `source` unset, the events of this id under every source. */
  docvTransactionId?: string | undefined;
  eventType?: string | undefined;
  evaluationId?: string | undefined;
  dialect?: Dialect | undefined;
  /** true: only test events; false: none of them. */
  test?: boolean | undefined;
}

export interface StoreStats {
  events: number;
  transactions: number;
  transactionsByStatus: Record<string, number>;
  /** By decision; transactions without one under `none`. */
  transactionsByDecision: Record<string, number>;
  quarantine: number;
  deliveries: Record<DeliveryState, number>;
}

/**
 * pending: due, never tried (or re-queued); failed: tried, a retry is scheduled;
 * delivered: a destination took it; dead: gave up (attempts exhausted or 410 Gone).
 */
export type DeliveryState = 'pending' | 'failed' | 'delivered' | 'dead';
export const DELIVERY_STATES: readonly DeliveryState[] = ['pending', 'failed', 'delivered', 'dead'];

/** The destination name of the decision fetch (Get A DocV Transaction) in the outbox. */
export const DECISION_FETCH_DESTINATION = 'decision-fetch';

/**
 * Which outbox rows accepting an event creates, in the same transaction, besides those of the
 * store's active destinations (store/destinations.ts), which every process on the store shares.
 */
export interface OutboxConfig {
  /** Every event gets one delivery per destination of this process alone (a library's handlers). */
  destinations: string[];
  /**
   * Events that call for it also get a decision fetch (which ones: lifecycle/decision-fetch-rule.ts,
   * decisionFetchFor).
   */
  fetchDecisions: boolean;
  /** How long a destination's delivery of a completion without a decision waits for the fetched one. */
  decisionWaitMs: number;
}

export interface OutboxDelivery {
  deliveryId: string;
  eventId: string;
  docvTransactionId: string | null;
  /** The event's source. */
  source: string;
  eventType: string;
  destination: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
}

export interface DeliveryAttempt {
  attempt: number;
  startedAt: string;
  durationMs: number;
  outcome: 'delivered' | 'failed' | 'dead';
  status: number | null;
  error: string | null;
}

export interface OutboxDeliveryView extends OutboxDelivery {
  history: DeliveryAttempt[];
}

/** A delivery leased to one worker, with what it needs to make the attempt. */
export interface ClaimedDelivery extends OutboxDelivery {
  /** The canonical event, its stored payload included. */
  event: CanonicalEvent;
  receivedAt: string;
  /** The decision fetched for this event, when there is one. */
  fetchedDecision: FetchedDecision | null;
}

export interface FetchedDecision extends ApiDecision {
  /** Only kept when DOCV_STORE_DOCUMENT_DATA=true: it is PII. */
  details: Record<string, unknown> | null;
}

export interface ClaimRequest {
  workerId: string;
  limit: number;
  leaseMs: number;
  now?: number;
  /** Only these destinations (a worker that has no handlers must not claim theirs). */
  destinations: string[];
  /** Hold a transaction's later delivery until the earlier one is delivered or dead. */
  ordered: boolean;
}

export interface AttemptResult {
  deliveryId: string;
  workerId: string;
  outcome: 'delivered' | 'failed' | 'dead';
  status: number | null;
  error: string | null;
  startedAt: Date;
  durationMs: number;
  /** For failed: when to try again (epoch ms). */
  nextAttemptAt?: number;
}

export interface DeliveryFilter extends PageRequest {
  /** Only deliveries of this source's events. */
  source?: string | undefined;
  state?: DeliveryState | undefined;
  destination?: string | undefined;
  docvTransactionId?: string | undefined;
  /** Only the deliveries of this event. */
  eventId?: string | undefined;
  /** The event was received at or after. */
  from?: Date | undefined;
  /** The event was received before. */
  to?: Date | undefined;
}

export interface ReplayFilter {
  source?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  eventType?: string | undefined;
  docvTransactionId?: string | undefined;
  destination?: string | undefined;
  state?: DeliveryState | undefined;
}

/*
 * The store by role. Each consumer takes the narrowest role it uses (the dispatcher a
 * DeliveryQueue, the ingest pipeline an EventLog, the admin routes the ReadModel…), so a test can
 * stand in for one role without faking twenty methods, and a reader sees what each part touches.
 * Both implementations (SQLite, PostgreSQL) are the whole `Store`.
 */

/**
 * Where deliveries arrive: an accepted event (with its lifecycle and outbox rows, in one commit)
 * or an authenticated refusal kept in quarantine. `ingest` resolves only once the event and its
 * lifecycle are durably committed.
 */
export interface EventLog {
  ingest(input: IngestInput): Promise<IngestOutcome>;
  quarantine(input: QuarantineInput): Promise<void>;
}

/** What was accepted, as read back: transactions with their lifecycle, events, counts. */
export interface ReadModel {
  /**
   * One transaction. With `source`, that source's; without, the one transaction of that id under
   * any source, or AmbiguousTransactionError when several sources have one.
   */
  getTransaction(docvTransactionId: string, source?: string): Promise<TransactionView | null>;
  listTransactions(filter: TransactionFilter): Promise<Page<TransactionSummary>>;
  getEvent(eventId: string): Promise<StoredEvent | null>;
  listEvents(filter: EventFilter): Promise<Page<StoredEventSummary>>;
  stats(): Promise<StoreStats>;
  /** How many transactions the filter matches, counted up to `cap`. */
  countTransactions(filter: Omit<TransactionFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount>;
  /**
   * Events received per bucket of `bucketMs` from `from` to `to` (at most MAX_RECEIPT_BUCKETS
   * buckets, oldest first). A store may count from log positions: then a bucket is right to within
   * the events committed out of receipt order at its edges.
   */
  receiptCounts(from: Date, to: Date, bucketMs: number): Promise<ReceiptBucket[]>;
}

/** Most buckets one receiptCounts call answers. */
export const MAX_RECEIPT_BUCKETS = 1_500;

/** The refused deliveries kept for inspection, and what running one through ingest again gave. */
export interface QuarantineStore {
  listQuarantine(filter: QuarantineFilter): Promise<Page<QuarantineEntry>>;
  /** How many rows the filter matches, counted up to `cap` without reading a body. */
  countQuarantine(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount>;
  getQuarantine(quarantineId: string): Promise<QuarantineEntry | null>;
  /** Records what running a quarantined body through ingest again gave. */
  markQuarantineReprocessed(quarantineId: string, result: QuarantineReprocessResult): Promise<void>;
}

/** What the dispatcher needs of the outbox: lease due deliveries, record attempts. */
export interface DeliveryQueue {
  /** Leases due deliveries to a worker (a crashed worker's lease simply runs out). */
  claimDeliveries(request: ClaimRequest): Promise<ClaimedDelivery[]>;
  /** Records an attempt; ignored when the lease has passed to another worker. */
  completeDelivery(result: AttemptResult): Promise<boolean>;
  /**
   * Earliest epoch ms at which some delivery becomes due for `workerId`, or null when none is
   * waiting (a destination's log held by another worker is due when that hold runs out).
   */
  nextDueAt(destinations: string[], workerId?: string): Promise<number | null>;
  /** A stopping worker lets go of the destinations' logs it holds, so another takes them at once. */
  releaseDeliveries?(workerId: string): Promise<void>;
  /**
   * Calls `listener` when another process on the store accepted events (PostgreSQL:
   * LISTEN/NOTIFY), so a worker looks at the log then instead of at its next poll. Returns the
   * unsubscribe. Absent where every writer is this process (SQLite's wake-ups are in-process).
   */
  onNewEvents?(listener: () => void): () => void;
}

/** The outbox whole: which rows accepting an event makes, the queue, and the operator's view. */
export interface Outbox extends DeliveryQueue {
  /** Sets which outbox rows newly accepted events create, besides those of the active stored destinations. */
  configureOutbox(config: Partial<OutboxConfig>): void;
  listDeliveries(filter: DeliveryFilter): Promise<Page<OutboxDelivery>>;
  getDelivery(deliveryId: string): Promise<OutboxDeliveryView | null>;
  /** Makes one delivery due now with a fresh attempt budget. */
  retryDelivery(deliveryId: string): Promise<OutboxDelivery | null>;
  /** Re-queues every matching delivery; returns how many. */
  replay(filter: ReplayFilter): Promise<number>;
  /** How many deliveries `replay(filter)` would re-queue now (for a confirmation). */
  countReplay(filter: ReplayFilter): Promise<number>;
  /** Deliveries by state, per destination (the stats' outbox counts, split). */
  deliveryCountsByDestination(): Promise<Record<string, Record<DeliveryState, number>>>;
  /** Attempts, failures and the last error of each destination since `since`. */
  destinationHealth(since: Date): Promise<DestinationHealth[]>;
}

/** Where the decision fetch puts Socure's answer (or its absence), folded into the lifecycle. */
export interface DecisionRecords {
  /** Stores the decision from Get A DocV Transaction and folds it into the lifecycle. */
  recordDecision(eventId: string, docvTransactionId: string, decision: FetchedDecision, source?: string): Promise<void>;
  /**
   * The decision fetch gave up without a decision: the transaction says so (lifecycle
   * `decisionUnavailable`, anomaly `decision_unavailable`) until a decision arrives.
   */
  markDecisionUnavailable(docvTransactionId: string, reason: string, at: Date, source?: string): Promise<void>;
}

/** The destinations kept in the store, which every process on it shares. */
export interface DestinationStore {
  /** Every destination kept in the store, by name. */
  listDestinations(): Promise<StoredDestination[]>;
  /** Adds a destination, or (`replace`) updates its url and flags; never changes its state. */
  addDestination(destination: NewDestination, mode: AddDestinationMode): Promise<AddDestinationResult>;
  /** Enables or disables one; null when there is none of that name. */
  setDestinationState(name: string, state: DestinationState): Promise<StoredDestination | null>;
}

/** Opening and closing: schema, readiness. */
export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; returns the versions applied. */
  migrate(): Promise<number[]>;
  /** Throws when the store cannot serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One bounded step of retention (store/retention.ts runs them): at most `limit` rows, one commit. */
export interface RetentionStep {
  /**
   * raw: empty the raw body and headers (and drop document data) of events received before
   * `before`; events: delete finished transactions last active before it, with their events;
   * quarantine: delete rows received before it; tombstones: forget tombstones made before it.
   */
  kind: 'raw' | 'events' | 'quarantine' | 'tombstones';
  before: Date;
  limit: number;
  /** When the step runs (the marker and tombstone time): injectable, for tests. */
  now: Date;
  /**
   * Which sources' rows (retention per source): `only` these, or all `except` these (the
   * receiver-wide policy covers every source without one of its own). Absent: every source.
   * Ignored by `tombstones`.
   */
  sources?: { only: string[] } | { except: string[] } | undefined;
}

export interface RetentionStepResult {
  /** Rows this step removed (or emptied). */
  removed: number;
  /** Nothing more of this kind is due now: the job moves on. */
  done: boolean;
  /** Why a step stopped before `before`: the destination whose cursor holds the data back. */
  heldBy?: string | undefined;
}

/** Rows an erasure deleted, per table (never the data itself). */
export interface ErasureCounts {
  events: number;
  transactions: number;
  deliveries: number;
  attempts: number;
  decisions: number;
  quarantine: number;
}

/** What is kept of an erasure request: when, how much, and a salted hash of the customer user id. */
export interface ErasureRecord {
  erasureId: string;
  at: string;
  /** HMAC-SHA-256 of the customer user id under the store's own salt (erasure.ts, customerHash). */
  customerHash: string;
  counts: ErasureCounts;
}

/** A transaction that is gone: why, and when. No personal data. */
export interface Tombstone {
  docvTransactionId: string;
  source: string;
  removedAt: string;
  reason: 'retention' | 'erasure';
}

/**
 * Retention and erasure (issue 20): bounded deletions, each step one short commit that never
 * deletes what a destination still owes (retention) and a record of each erasure.
 */
export interface RetentionStore {
  retentionStep(step: RetentionStep): Promise<RetentionStepResult>;
  /**
   * Deletes at most about `limit` rows of this customer's data (events, transactions, their
   * deliveries, attempts and decisions, quarantine rows), whatever a destination owes; `done`
   * when none is left.
   */
  eraseCustomerStep(
    customerUserId: string,
    limit: number,
    now: Date,
  ): Promise<{ counts: ErasureCounts; done: boolean }>;
  /** Records an erasure (the hash, never the id) and returns it. */
  recordErasure(customerUserId: string, counts: ErasureCounts, at: Date): Promise<ErasureRecord>;
  /** Erasures, newest first; with `customerUserId`, only that customer's (found by its hash). */
  listErasures(filter: PageRequest & { customerUserId?: string | undefined }): Promise<Page<ErasureRecord>>;
  /** Why a transaction that is not there is gone, when it was removed by retention or erased. */
  getTombstone(docvTransactionId: string, source?: string): Promise<Tombstone | null>;
}

/**
 * Encryption at rest (issue 20, store/encryption/): rows sealed with an older key, or written in
 * clear, sealed again with the current key, in bounded batches while the service runs.
 */
export interface KeyRotation {
  /** One batch: examines at most `limit` rows from `position` (null: the start), in one commit. */
  rekey(position: RekeyPosition | null, limit: number): Promise<RekeyBatch>;
  /** Marks retired the registered keys, other than the current one, that no row uses; returns their ids. */
  retireUnusedKeys(): Promise<string[]>;
}

/** Everything the receiver persists. Implementations: SQLite (embedded default) and PostgreSQL. */
export interface Store
  extends
    EventLog,
    ReadModel,
    QuarantineStore,
    Outbox,
    DecisionRecords,
    DestinationStore,
    StoreLifecycle,
    RetentionStore,
    KeyRotation {}

/** The store cannot take writes right now (disk, lock, connection): the sender should retry. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export const MAX_PAGE_LIMIT = 500;
