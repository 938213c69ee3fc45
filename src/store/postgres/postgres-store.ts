import type pg from 'pg';
import { DEFAULT_SOURCE, type Dialect } from '../../contract/index.js';
import type { TransactionLifecycle } from '../../lifecycle/index.js';
import { decodeActivityCursor, decodeCursor } from '../cursor.js';
import { parseLogDeliveryId } from '../log-outbox.js';
import {
  countDeliveriesByDestinationFromLog,
  countDeliveriesFromLog,
  countLog,
  destinationHealthFromLog,
  listDeliveriesFromLog,
  logDeliveryById,
  receiptCountsFromLog,
} from '../log-views.js';
import {
  activityPage,
  EVENT_SUMMARY_COLUMNS,
  eventSummaryOf,
  page,
  removedByRetention,
  shownHeaders,
  transactionColumn,
  withoutBookkeeping,
  type EventSummaryRow,
} from '../rows.js';
import {
  AmbiguousTransactionError,
  StoreUnavailableError,
  type AttemptResult,
  type BoundedCount,
  type DeliveryState,
  type DestinationHealth,
  type ReceiptBucket,
  type ClaimRequest,
  type ClaimedDelivery,
  type DeliveryFilter,
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
import {
  createPool,
  describeError,
  inTransaction,
  isUnavailable,
  mapError,
  parsePostgresUrl,
  redactPostgresUrl,
  type PostgresSettings,
} from './connection.js';
import { GroupCommit } from '../group-commit.js';
import type { EncryptionKeys } from '../encryption/keys.js';
import type { RekeyBatch, RekeyPosition } from '../encryption/rotation.js';
import { Sealer } from '../encryption/sealer.js';
import { registerAndCheckKeys, rekeyBatch, retireUnusedKeys } from './encryption.js';
import { StatisticsKeeper } from './statistics.js';
import { ingestBatch } from './ingest.js';
import { LogListener } from './log-listener.js';
import { ensureCursors, PostgresLogReader } from './log-reader.js';
import { PostgresLogViews } from './log-views.js';
import { applyPostgresMigrations, currentPostgresVersion } from './migrations.js';
import * as outbox from './outbox.js';
import * as destinations from './destinations.js';
import {
  outboxTargets,
  type AddDestinationMode,
  type AddDestinationResult,
  type DestinationState,
  type NewDestination,
  type StoredDestination,
} from '../destinations.js';
import { pgText } from './pg-text.js';
import * as quarantine from './quarantine.js';
import * as retention from './retention.js';
import { keysOfSql, SourceRegistry, whereTransactionKeys } from './source-keys.js';
import { storedEvent } from './stored-rows.js';
import { transactionConditions, unindexedConditions } from './transaction-filter.js';
import { hasUnindexedCondition, unindexedWalk, walkedFilter } from '../unindexed-walk.js';
import { Where } from '../where.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/db?schema=docv&pool_size=10&connect_timeout=5&statement_timeout=10000` */
  url: string;
  /** Overrides `?schema=`. */
  schema?: string;
  /** Rejected deliveries kept for inspection; the oldest go first. */
  quarantineCapacity?: number;
  /** Most deliveries committed in one transaction. */
  maxBatch?: number;
  /** Group commits in flight at once (each holds a connection while it runs). */
  maxConcurrentBatches?: number;
  /** Reading only: no migrations, and every transaction is READ ONLY. */
  readonly?: boolean;
  /** Apply pending migrations on open (default true; `docv-webhooks migrate` opens without). */
  migrate?: boolean;
  /** Which outbox rows each accepted event creates; none by default. */
  outbox?: Partial<OutboxConfig>;
  /** Told about every group commit: how many deliveries shared it and how long it took. */
  onCommit?: (batchSize: number, durationMs: number) => void;
  /**
   * Encryption at rest (store/encryption/): the current key seals new rows' personal data, the
   * previous ones open older rows. Opening fails when rows are sealed with a key not given here.
   */
  encryption?: EncryptionKeys;
}

interface EventRow extends EventSummaryRow {
  seq: number;
  content_hash: string;
  received_at: Date;
  raw_body?: Buffer;
  headers?: unknown;
  key_id?: string | null;
  raw_removed_at?: Date | null;
}

/**
 * A transaction and its events in one statement: one round trip and one backend woken per lookup
 * instead of two (it was two queries on two pooled connections), and one snapshot, so the events
 * listed are those the state was folded from. A row per event, the state repeated; none of the
 * event columns when the transaction has no event yet.
 */
const GET_TRANSACTION = {
  name: 'docv_get_transaction_with_events_v4',
  text: `SELECT t.state, t.source AS transaction_source, ${EVENT_SUMMARY_COLUMNS.split(', ')
    .map((c) => `e.${c}`)
    .join(', ')}
         FROM transactions t
         LEFT JOIN events e ON e.docv_transaction_id = t.docv_transaction_id
         WHERE t.docv_transaction_id = $1
         ORDER BY e.event_time_ms, e.seq`,
};

/**
 * The transactions of one id under every source (a transaction key per source: source-keys.ts),
 * each found by a probe of the key's unique index. A getTransaction without a source reads the
 * one it finds, or says the id is ambiguous.
 */
export const TRANSACTIONS_OF_ID = {
  name: 'docv_transactions_of_id',
  text: `SELECT docv_transaction_id, source FROM transactions WHERE docv_transaction_id = ANY(${keysOfSql('$1')})
         ORDER BY source`,
};

/**
 * Conditions on the canonical metadata (store/rows.ts). A text search in the JSON as
 * storedMetadata wrote it (compact, one level, keys and dialects without quotes to escape), not
 * `canonical->>'dialect'`: PostgreSQL's JSON operators refuse a whole document that holds \u0000
 * or a lone surrogate anywhere, and senders choose what is in customerUserId. A quote inside a
 * JSON string is always escaped, so `"dialect":"riskos"` only ever matches the key itself.
 * Flat events have no metadata: dialect asyncapi, never a test.
 */
function dialectCondition(where: Where, dialect: Dialect): string {
  const found = `strpos(canonical::text, ${where.param(`"dialect":${JSON.stringify(dialect)}`)}) > 0`;
  return dialect === 'asyncapi' ? `(canonical IS NULL OR ${found})` : found;
}

function testCondition(test: boolean): string {
  const found = `strpos(canonical::text, '"test":true') > 0`;
  return test ? found : `(canonical IS NULL OR NOT ${found})`;
}

/**
 * The store for several instances: receivers and workers in separate processes (or machines)
 * share one PostgreSQL. Deduplication and the outbox rest on constraints and row locks, not on
 * anything in this process; ingests that arrive together share one transaction (group commit).
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly settings: PostgresSettings;
  private readonly pool: pg.Pool;
  private readonly quarantineCapacity: number;
  private readonly readonly: boolean;
  private readonly onCommit: PostgresStoreOptions['onCommit'];
  private readonly outboxConfig: OutboxConfig;
  private readonly sealer: Sealer;
  /** Ingests that arrive together share one transaction (see group-commit.ts). */
  private readonly ingests: GroupCommit<IngestInput, IngestOutcome>;
  /** Analyzes the tables as they grow when nothing else has (see statistics.ts). */
  private readonly statistics: StatisticsKeeper;
  /** The sources this process has added to `sources` (source-keys.ts). */
  private readonly sources = new SourceRegistry();
  /**
   * Attempts that finish together are recorded by one statement: one commit instead of one each.
   * Its failures reach the caller as they are (mapped by `read`), retried first when PostgreSQL
   * says so (deadlock, serialization).
   */
  private readonly completions = new GroupCommit<AttemptResult, boolean>({
    commit: (results) => this.log.completeMany(results),
    maxBatch: 500,
    keyOf: (r) => r.deliveryId,
    failsAll: isUnavailable,
  });
  /** Deliveries of the log destinations (forwards, handlers) and every claim and record: log-reader.ts. */
  private readonly log: PostgresLogReader;
  /** The outbox as operators see it, rows and log together: log-views.ts. */
  private readonly views: PostgresLogViews;
  /** Wakes dispatchers on new events (onNewEvents); opened on first use. */
  private listener: LogListener | null = null;
  /**
   * The cursors of this process's own destinations (a library's handlers): `ensure` to make (or
   * read on), `retire` to stop at the last event; set by configureOutbox, written by the next
   * commit or claim, whichever comes first (done then).
   */
  private localCursors: LocalCursors = { ensure: [], retire: [], done: true };
  private closed = false;
  private ended: Promise<void> | null = null;

  constructor(options: PostgresStoreOptions) {
    this.settings = parsePostgresUrl(options.url);
    if (options.schema !== undefined) this.settings = parsePostgresUrl(withSchema(options.url, options.schema));
    this.readonly = options.readonly ?? false;
    this.pool = createPool(this.settings, { readonly: this.readonly });
    this.statistics = new StatisticsKeeper(this.pool);
    this.sealer = new Sealer(options.encryption);
    this.log = new PostgresLogReader(this.pool, this.sealer);
    this.views = new PostgresLogViews(this.pool);
    this.quarantineCapacity = options.quarantineCapacity ?? 10_000;
    this.onCommit = options.onCommit;
    this.outboxConfig = { destinations: [], fetchDecisions: false, decisionWaitMs: 30_000, ...options.outbox };
    this.ingests = new GroupCommit<IngestInput, IngestOutcome>({
      commit: (inputs) => this.commit(inputs),
      maxBatch: options.maxBatch ?? 500,
      // Each holds a connection while it runs.
      maxInFlight: Math.max(1, Math.min(options.maxConcurrentBatches ?? 2, this.settings.poolSize - 1 || 1)),
      failsAll: isUnavailable,
      commitError: (err) => new StoreUnavailableError(`could not commit: ${describeError(err)}`, { cause: err }),
    });
  }

  /** Connects, then migrates (or, read-only, checks there is something to read). */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      if (store.readonly) {
        if ((await currentPostgresVersion(store.pool)) === null) {
          throw new Error(
            `${store.describe()} has no docv-webhooks tables; run \`docv-webhooks migrate --db <url>\` or check the schema`,
          );
        }
      } else if (options.migrate !== false) {
        await store.migrate();
      }
      await registerAndCheckKeys(store.pool, store.sealer, !store.readonly);
    } catch (err) {
      await store.close();
      // The reason goes after a space, not a colon: redaction hides a password parameter's value up to
      // the next space, and would take a colon right after the URL along with it.
      if (isUnavailable(err))
        throw new StoreUnavailableError(`cannot reach ${store.describe()} (${describeError(err)})`, { cause: err });
      throw err;
    }
    return store;
  }

  /** Where this store is, without credentials (user:password, `?password=`, `?sslpassword=`…). */
  describe(): string {
    return `PostgreSQL ${redactPostgresUrl(this.settings.connectionString)}${this.settings.schema ? ` (schema ${this.settings.schema})` : ''}`;
  }

  /**
   * This process's own destinations (a library's handlers) and the decision-fetch settings. Its
   * destinations read the log from the first event committed after this call (their cursors are
   * made by the next commit, before its events); those it no longer has stop at the last one.
   */
  configureOutbox(config: Partial<OutboxConfig>): void {
    const before = new Set(this.outboxConfig.destinations);
    Object.assign(this.outboxConfig, config);
    const local = [...this.outboxConfig.destinations];
    const retire = [...before].filter((d) => !local.includes(d));
    // Still to be written from an earlier call: stopped now after all, or wanted again.
    if (!this.localCursors.done)
      for (const d of this.localCursors.retire) if (!local.includes(d) && !retire.includes(d)) retire.push(d);
    this.localCursors = { ensure: local, retire, done: local.length === 0 && retire.length === 0 };
  }

  /** Writes the cursors configureOutbox asked for, in its own transaction (a claim's). */
  private async ensureLocalCursors(): Promise<void> {
    const wanted = this.localCursors;
    if (wanted.done || this.readonly) return;
    await inTransaction(this.pool, (client) => ensureCursors(client, wanted.ensure, wanted.retire));
    wanted.done = true;
  }

  /**
   * Calls `listener` whenever events are committed to this schema, by this process or any other
   * (LISTEN/NOTIFY on a connection of its own, opened at the first call; log-listener.ts), so a
   * dispatcher need not poll for them. Answers a function that stops the calls.
   */
  onNewEvents(listener: () => void): () => void {
    if (this.closed) return () => undefined;
    this.listener ??= new LogListener(this.settings);
    return this.listener.add(listener);
  }

  listDestinations(): Promise<StoredDestination[]> {
    return this.read('listing destinations', () => destinations.list(this.pool));
  }

  addDestination(destination: NewDestination, mode: AddDestinationMode): Promise<AddDestinationResult> {
    return this.read('adding a destination', () =>
      inTransaction(this.pool, async (client) => {
        const added = await destinations.add(client, destination, mode);
        // A forward reads the log from the event committed after it (a no-op when it has a cursor).
        if (added.destination.kind === 'forward') await ensureCursors(client, [added.destination.name]);
        return added;
      }),
    );
  }

  setDestinationState(name: string, state: DestinationState): Promise<StoredDestination | null> {
    return this.read('changing a destination', () => destinations.setState(this.pool, name, state));
  }

  async migrate(): Promise<number[]> {
    this.assertOpen();
    try {
      return await applyPostgresMigrations(this.pool, this.settings.schema);
    } catch (err) {
      throw mapError(err, 'migrating');
    }
  }

  ingest(input: IngestInput): Promise<IngestOutcome> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    return this.ingests.submit(input);
  }

  private async commit(inputs: IngestInput[]): Promise<IngestOutcome[]> {
    // A copy: configureOutbox may change the destinations while the batch runs.
    const config = { ...this.outboxConfig, destinations: [...this.outboxConfig.destinations] };
    const cursors = this.localCursors;
    const register = this.sources.unregistered(inputs);
    const started = performance.now();
    const outcomes = await inTransaction(this.pool, (client) =>
      ingestBatch(client, inputs, config, cursors.done ? { ensure: [], retire: [] } : cursors, this.sealer, register),
    );
    cursors.done = true;
    this.sources.confirm(register);
    this.onCommit?.(inputs.length, performance.now() - started);
    this.statistics.noteWrites(inputs.length);
    return outcomes;
  }

  async quarantine(input: QuarantineInput): Promise<void> {
    if (this.quarantineCapacity <= 0) return;
    await this.write('quarantining a delivery', (client) =>
      quarantine.insert(client, input, this.quarantineCapacity, this.sealer),
    );
  }

  /**
   * With `source`, the transaction of that key; without, the one transaction of the id under any
   * source (TRANSACTIONS_OF_ID, then its key), or AmbiguousTransactionError when several sources
   * have one.
   */
  async getTransaction(docvTransactionId: string, source?: string): Promise<TransactionView | null> {
    return this.read('reading a transaction', async () => {
      let key = pgText(transactionColumn(docvTransactionId, source ?? DEFAULT_SOURCE));
      if (source === undefined) {
        const found = await this.pool.query<{ docv_transaction_id: string; source: string }>({
          ...TRANSACTIONS_OF_ID,
          values: [pgText(docvTransactionId)],
        });
        if (found.rows.length === 0) return null;
        if (found.rows.length > 1)
          throw new AmbiguousTransactionError(
            docvTransactionId,
            found.rows.map((r) => r.source),
          );
        key = found.rows[0]!.docv_transaction_id;
      }
      // Named: parsed and planned once per connection instead of on every lookup.
      const { rows } = await this.pool.query<EventRow & { state: TransactionLifecycle; transaction_source: string }>({
        ...GET_TRANSACTION,
        values: [key],
      });
      const first = rows[0];
      return first
        ? {
            ...withoutBookkeeping(first.state, first.transaction_source),
            events: rows.filter((r) => r.event_id !== null).map(eventSummaryOf),
          }
        : null;
    });
  }

  /**
   * By last activity, newest first (transaction-filter.ts says which index each filter walks). The
   * cursor is the last row's (last_received_at, seq): a row comparison the indexes range over.
   * Dialect and environment are tested on the first unindexedWalk() rows of that walk, at most.
   */
  async listTransactions(filter: TransactionFilter): Promise<Page<TransactionSummary>> {
    type Row = { seq: number; last_received_at: string; state: TransactionLifecycle; source: string };
    const after = decodeActivityCursor(filter.cursor);
    const walkOf = (conditions: Omit<TransactionFilter, 'limit' | 'cursor'>) => {
      const where = transactionConditions(conditions);
      if (after !== null)
        where.raw(`(last_received_at, seq) < (${where.param(after.at.toISOString())}, ${where.param(after.seq)})`);
      return where;
    };
    const summaryOf = (r: Row) => withoutBookkeeping(r.state, r.source);
    if (!hasUnindexedCondition(filter)) {
      const where = walkOf(filter);
      const sql = `SELECT seq, last_received_at, state, source FROM transactions ${where}
                   ORDER BY last_received_at DESC, seq DESC LIMIT ${where.param(filter.limit + 1)}`;
      const rows = await this.read(
        'listing transactions',
        async () => (await this.pool.query<Row>(sql, where.values)).rows,
      );
      return activityPage(rows, filter.limit, summaryOf);
    }
    // One statement, so one snapshot: the matches among the first `bound` rows of the walk, and
    // the rows at bound and bound + 1 (from the index alone), which say whether the walk stopped
    // at its bound and where the next page starts when it did and the page is not full.
    const bound = unindexedWalk();
    const walk = walkOf(walkedFilter(filter));
    const tested = unindexedConditions(walk, filter)!;
    const sql = `(SELECT seq, last_received_at, state, source, true AS matched FROM (
                   SELECT seq, last_received_at, state, dialects, environment, source FROM transactions ${walk}
                   ORDER BY last_received_at DESC, seq DESC LIMIT ${bound}) walked
                 WHERE ${tested} ORDER BY last_received_at DESC, seq DESC LIMIT ${walk.param(filter.limit + 1)})
                 UNION ALL
                 (SELECT seq, last_received_at, NULL, NULL, false FROM transactions ${walk}
                   ORDER BY last_received_at DESC, seq DESC LIMIT 2 OFFSET ${bound - 1})`;
    const rows = await this.read(
      'listing transactions',
      async () => (await this.pool.query<Row & { matched: boolean }>(sql, walk.values)).rows,
    );
    const edge = rows.filter((r) => !r.matched);
    return activityPage(
      rows.filter((r) => r.matched),
      filter.limit,
      summaryOf,
      edge.length === 2 ? { at: edge[0]!, examined: bound } : undefined,
    );
  }

  /**
   * At most cap + 1 rows are read: the count stops there. With dialect or environment, among the
   * first unindexedWalk() rows the rest of the filter walks.
   */
  async countTransactions(filter: Omit<TransactionFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount> {
    const limit = Math.max(0, Math.floor(cap));
    const counted = (n: number): BoundedCount =>
      n > limit ? { count: limit, capped: true } : { count: n, capped: false };
    const count = async (sql: string, values: unknown[]) =>
      (await this.pool.query<{ n: number }>(sql, values)).rows[0]?.n ?? 0;
    if (!hasUnindexedCondition(filter)) {
      const where = transactionConditions(filter);
      const sql = `SELECT COUNT(*)::int AS n FROM (SELECT 1 FROM transactions ${where} LIMIT ${where.param(limit + 1)}) matched`;
      return counted(await this.read('counting transactions', () => count(sql, where.values)));
    }
    // One statement (one snapshot): the matches among the first `bound` rows, and whether there
    // is a row after them.
    const bound = unindexedWalk();
    const walk = transactionConditions(walkedFilter(filter));
    const tested = unindexedConditions(walk, filter)!;
    const sql = `SELECT
                   (SELECT COUNT(*)::int FROM (SELECT 1 FROM (
                     SELECT state, dialects, environment, source FROM transactions ${walk}
                     ORDER BY last_received_at DESC, seq DESC LIMIT ${bound}) walked
                   WHERE ${tested} LIMIT ${walk.param(limit + 1)}) matched) AS n,
                   EXISTS (SELECT 1 FROM transactions ${walk}
                     ORDER BY last_received_at DESC, seq DESC LIMIT 1 OFFSET ${bound}) AS more`;
    const row = await this.read(
      'counting transactions',
      async () => (await this.pool.query<{ n: number; more: boolean }>(sql, walk.values)).rows[0],
    );
    const n = row?.n ?? 0;
    return n <= limit && row?.more === true ? { ...counted(n), examined: bound } : counted(n);
  }

  /**
   * From log positions (PostgresLogViews.positionsAt), no rows counted: a bucket is the difference
   * of its edges' positions. Right to within the events committed out of receipt order at its
   * edges, and the gaps in seq: a seq taken and never used (a rolled-back batch; a duplicate that
   * raced its original's commit, see ingest.ts) counts as an event of its bucket. Duplicates no
   * longer take a seq, so gaps are rare; counting them away would mean counting rows.
   */
  receiptCounts(from: Date, to: Date, bucketMs: number): Promise<ReceiptBucket[]> {
    return this.read('counting receipts', () => receiptCountsFromLog(this.views, from, to, bucketMs));
  }

  async getEvent(eventId: string): Promise<StoredEvent | null> {
    const row = await this.read(
      'reading an event',
      async () =>
        (
          await this.pool.query<EventRow>(
            `SELECT ${EVENT_SUMMARY_COLUMNS}, raw_body, headers, key_id, raw_removed_at FROM events WHERE event_id = $1`,
            [pgText(eventId)],
          )
        ).rows[0],
    );
    if (!row) return null;
    const keyId = row.key_id ?? null;
    const rawBody = this.sealer.openBytes(row.raw_body!, keyId, 'events', 'raw_body', row.event_id).toString('utf8');
    const payload = JSON.parse(rawBody) as Record<string, unknown>;
    return {
      ...eventSummaryOf(row),
      payload,
      event: storedEvent(payload, row),
      rawBody,
      headers: shownHeaders(
        this.sealer.openJsonValue(row.headers, keyId, 'events', 'headers', row.event_id) as Record<string, string>,
      ),
      ...removedByRetention(row.raw_removed_at),
    };
  }

  async listEvents(filter: EventFilter): Promise<Page<StoredEventSummary>> {
    const where = new Where('$n');
    const after = decodeCursor(filter.cursor, 'ev');
    if (after !== null) where.add('seq < ?', after);
    if (filter.docvTransactionId !== undefined)
      whereTransactionKeys(where, 'docv_transaction_id', filter.docvTransactionId, filter.source);
    // No index has the source: tested on the rows the rest of the filter walks.
    if (filter.source !== undefined) where.add('source = ?', filter.source);
    if (filter.eventType) where.add('event_type = ?', pgText(filter.eventType));
    if (filter.evaluationId !== undefined) where.add('evaluation_id = ?', pgText(filter.evaluationId));
    if (filter.dialect !== undefined) where.raw(dialectCondition(where, filter.dialect));
    if (filter.test !== undefined) where.raw(testCondition(filter.test));
    const sql = `SELECT ${EVENT_SUMMARY_COLUMNS} FROM events ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
    const rows = await this.read(
      'listing events',
      async () => (await this.pool.query<EventRow>(sql, where.values)).rows,
    );
    return page(rows, filter.limit, 'ev', eventSummaryOf);
  }

  listQuarantine(filter: QuarantineFilter): Promise<Page<QuarantineEntry>> {
    return this.read('listing the quarantine', () => quarantine.list(this.pool, filter, this.sealer));
  }

  countQuarantine(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>, cap: number): Promise<BoundedCount> {
    return this.read('counting the quarantine', () => quarantine.count(this.pool, filter, cap));
  }

  getQuarantine(quarantineId: string): Promise<QuarantineEntry | null> {
    return this.read('reading a quarantined delivery', () => quarantine.get(this.pool, quarantineId, this.sealer));
  }

  markQuarantineReprocessed(quarantineId: string, result: QuarantineReprocessResult): Promise<void> {
    return this.read('recording a reprocessed delivery', () =>
      quarantine.markReprocessed(this.pool, quarantineId, result),
    );
  }

  async stats(): Promise<StoreStats> {
    return this.read('counting', async () => {
      // No COUNT(*) of transactions: the counts by status add up to it, and each is a walk of an
      // index of every transaction (about 70 ms at 333,000 transactions).
      // In parallel: each is one index walk, and the pool has connections to spare.
      const [counts, byStatus, byDecision] = await Promise.all([
        this.pool.query<{ quarantine: number }>('SELECT (SELECT COUNT(*) FROM quarantine) AS quarantine'),
        this.pool.query<{ status: string; n: number }>(
          'SELECT status, COUNT(*) AS n FROM transactions GROUP BY status',
        ),
        // Through the partial index of decided transactions; the rest have none.
        this.pool.query<{ decision: string; n: number }>(
          'SELECT decision, COUNT(*) AS n FROM transactions WHERE decision IS NOT NULL GROUP BY decision',
        ),
      ]);
      const row = counts.rows[0]!;
      const transactions = byStatus.rows.reduce((sum, r) => sum + Number(r.n), 0);
      const decided = byDecision.rows.reduce((sum, r) => sum + Number(r.n), 0);
      return {
        events: await countLog(this.views),
        transactions,
        transactionsByStatus: Object.fromEntries(byStatus.rows.map((r) => [r.status, Number(r.n)])),
        transactionsByDecision: {
          ...Object.fromEntries(byDecision.rows.map((r) => [r.decision, Number(r.n)])),
          ...(transactions > decided ? { none: transactions - decided } : {}),
        },
        quarantine: row.quarantine,
        deliveries: await countDeliveriesFromLog(this.views),
      };
    });
  }

  claimDeliveries(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    return this.read('claiming deliveries', async () => {
      await this.ensureLocalCursors();
      // The decision-fetch destinations of the store are read by the claim itself.
      const targets = outboxTargets(this.outboxConfig, []);
      // Not paced while ingest is busy (claim-pacing.ts did, before the log): a claim writes
      // nothing per delivery now, and dispatch must keep up under a steady load (issue 18); the
      // dispatcher's own throttle yields to bursts.
      return this.log.claim(request, targets);
    });
  }

  completeDelivery(result: AttemptResult): Promise<boolean> {
    return this.read('recording an attempt', () => this.completions.submit(result));
  }

  /**
   * Filed under the key of the id under `source`; without one, under the event's own key (right
   * whatever its source), or the id's under the default source when the event is gone.
   */
  async recordDecision(
    eventId: string,
    docvTransactionId: string,
    decision: FetchedDecision,
    source?: string,
  ): Promise<void> {
    await this.write('recording a decision', async (client) => {
      const key =
        source !== undefined
          ? transactionColumn(docvTransactionId, source)
          : ((await outbox.keyOfEvent(client, eventId)) ?? transactionColumn(docvTransactionId, DEFAULT_SOURCE));
      await outbox.saveDecision(client, eventId, key, decision, this.sealer);
    });
  }

  async markDecisionUnavailable(docvTransactionId: string, reason: string, at: Date, source?: string): Promise<void> {
    await this.write('recording an unavailable decision', (client) =>
      outbox.saveDecisionUnavailable(
        client,
        transactionColumn(docvTransactionId, source ?? DEFAULT_SOURCE),
        reason,
        at,
      ),
    );
  }

  releaseDeliveries(workerId: string): Promise<void> {
    return this.read('letting go of destinations', () => this.log.release(workerId));
  }

  nextDueAt(destinations: string[], workerId?: string): Promise<number | null> {
    return this.read('looking for due deliveries', () => this.log.nextDueAt(destinations, workerId));
  }

  listDeliveries(filter: DeliveryFilter): Promise<Page<OutboxDelivery>> {
    return this.read('listing deliveries', () => listDeliveriesFromLog(this.views, filter));
  }

  async getDelivery(deliveryId: string): Promise<OutboxDeliveryView | null> {
    return this.read('reading a delivery', async () => {
      const found = await outbox.get(this.pool, deliveryId);
      if (found) return { ...found.delivery, history: found.history };
      const parsed = parseLogDeliveryId(deliveryId);
      return parsed ? ((await logDeliveryById(this.views, parsed))?.delivery ?? null) : null;
    });
  }

  retryDelivery(deliveryId: string): Promise<OutboxDelivery | null> {
    return this.read('re-queueing a delivery', () => outbox.retry(this.pool, this.views, deliveryId));
  }

  replay(filter: ReplayFilter): Promise<number> {
    return this.read('replaying deliveries', () => outbox.replay(this.pool, this.views, filter));
  }

  countReplay(filter: ReplayFilter): Promise<number> {
    return this.read('counting a replay', () => outbox.countReplay(this.pool, this.views, filter));
  }

  deliveryCountsByDestination(): Promise<Record<string, Record<DeliveryState, number>>> {
    return this.read('counting deliveries', () => countDeliveriesByDestinationFromLog(this.views));
  }

  destinationHealth(since: Date): Promise<DestinationHealth[]> {
    return this.read('reading destination health', () => destinationHealthFromLog(this.views, since));
  }

  // Retention and erasure (postgres/retention.ts): each step one transaction.

  retentionStep(step: RetentionStep): Promise<RetentionStepResult> {
    return this.read('applying retention', () =>
      retention.retentionStep(this.pool, step, async (before) => (await this.views.positionsAt([before]))[0] ?? 0),
    );
  }

  eraseCustomerStep(
    customerUserId: string,
    limit: number,
    now: Date,
  ): Promise<{ counts: ErasureCounts; done: boolean }> {
    return this.read('erasing a customer', () => retention.eraseStep(this.pool, customerUserId, limit, now));
  }

  recordErasure(customerUserId: string, counts: ErasureCounts, at: Date): Promise<ErasureRecord> {
    return this.read('recording an erasure', () => retention.recordErasure(this.pool, customerUserId, counts, at));
  }

  listErasures(filter: PageRequest & { customerUserId?: string | undefined }): Promise<Page<ErasureRecord>> {
    return this.read('listing erasures', () => retention.listErasures(this.pool, filter));
  }

  getTombstone(docvTransactionId: string, source?: string): Promise<Tombstone | null> {
    return this.read('reading a tombstone', () => retention.tombstone(this.pool, docvTransactionId, source));
  }

  async ping(): Promise<void> {
    await this.read('checking readiness', () => this.pool.query('SELECT 1'));
  }

  async close(): Promise<void> {
    if (this.ended) return this.ended;
    this.closed = true;
    this.ended = (async () => {
      // Whatever is queued still gets its commit (or its error) before the pool closes.
      await this.ingests.idle();
      await this.completions.idle();
      await this.listener?.close();
      await this.pool.end();
    })();
    return this.ended;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('store is closed');
  }

  /** One statement (or a few on the pool); connection failures become StoreUnavailableError. */
  // Encryption at rest

  rekey(position: RekeyPosition | null, limit: number): Promise<RekeyBatch> {
    this.assertOpen();
    return inTransaction(this.pool, (client) => rekeyBatch(client, this.sealer, position, limit)).catch((err) => {
      throw mapError(err, 're-sealing rows');
    });
  }

  retireUnusedKeys(): Promise<string[]> {
    this.assertOpen();
    return inTransaction(this.pool, (client) => retireUnusedKeys(client, this.sealer)).catch((err) => {
      throw mapError(err, 'retiring keys');
    });
  }

  private async read<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await fn();
    } catch (err) {
      throw mapError(err, doing);
    }
  }

  private async write(doing: string, fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    this.assertOpen();
    try {
      await inTransaction(this.pool, fn);
    } catch (err) {
      throw mapError(err, doing);
    }
  }
}

/** What configureOutbox asks of the cursors of this process's own destinations. */
interface LocalCursors {
  ensure: string[];
  retire: string[];
  done: boolean;
}

function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}
