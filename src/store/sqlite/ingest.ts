import type Database from 'better-sqlite3';
import {
  canonicalFromStored,
  DEFAULT_SOURCE,
  eventTimeMs,
  storedMetadata,
  type CanonicalEvent,
} from '../../contract/index.js';
import { applyEvent, lifecycleEventOf, startLifecycle, type TransactionLifecycle } from '../../lifecycle/index.js';
import type { OutboxTargets } from '../destinations.js';
import type { Sealer } from '../encryption/sealer.js';
import { newId } from '../ids.js';
import { dialectsColumn, NO_TRANSACTION, transactionColumn, transactionOfColumn } from '../rows.js';
import type { IngestInput, IngestOutcome } from '../types.js';
import type { SqliteOutbox } from './outbox.js';

/** A transaction as its rows name it: its key (rows.ts, transactionColumn) and its source. */
interface TransactionKey {
  key: string;
  source: string;
}

/** An event stored before its RiskOS evaluation was linked to a transaction (see adoptEvaluation). */
interface UnlinkedEventRow {
  seq: number;
  event_id: string;
  raw_body: Buffer;
  key_id: string | null;
  canonical: string | null;
  received_at: string;
}

/**
 * The event log and lifecycle rows of the SQLite store: one accepted event is its row, its
 * transaction's lifecycle folded again, and its outbox rows, all in the commit of the write
 * queue that runs `ingest` (so these methods are synchronous and never commit themselves).
 */
export class SqliteIngest {
  private readonly stmts;

  constructor(
    db: Database.Database,
    private readonly outbox: SqliteOutbox,
    private readonly sealer: Sealer,
  ) {
    this.stmts = {
      eventByKey: db.prepare<[string], { seq: number; event_id: string; content_hash: string }>(
        'SELECT seq, event_id, content_hash FROM events WHERE dedupe_key = ?',
      ),
      // No index holds these columns: a duplicate writes one page of events, nothing else.
      countDuplicate: db.prepare<[string, number]>(
        'UPDATE events SET duplicates = duplicates + 1, last_duplicate_at = ? WHERE seq = ?',
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (event_id, dedupe_key, delivery_id, content_hash, docv_transaction_id, event_type, event_time,
           event_time_ms, customer_user_id, decision, received_at, raw_body, headers, canonical, evaluation_id, key_id, source)
         VALUES (@eventId, @dedupeKey, @deliveryId, @contentHash, @docvTransactionId, @eventType, @eventTime,
           @eventTimeMs, @customerUserId, @decision, @receivedAt, @rawBody, @headers, @canonical, @evaluationId, @keyId, @source)`,
      ),
      // Both walk events_by_evaluation; they run only for events that carry an evaluation id. The
      // link stays within a source (issue 20): two accounts' evaluation ids are not one evaluation.
      transactionOfEvaluation: db.prepare<[string, string], { docv_transaction_id: string }>(
        `SELECT docv_transaction_id FROM events WHERE evaluation_id = ? AND source = ? AND docv_transaction_id <> '${NO_TRANSACTION}' ORDER BY seq LIMIT 1`,
      ),
      unlinkedOfEvaluation: db.prepare<[string, string], UnlinkedEventRow>(
        `SELECT seq, event_id, raw_body, key_id, canonical, received_at FROM events WHERE evaluation_id = ? AND source = ? AND docv_transaction_id = '${NO_TRANSACTION}' ORDER BY seq`,
      ),
      linkEvent: db.prepare<[string, number]>('UPDATE events SET docv_transaction_id = ? WHERE seq = ?'),
      // No index on deliveries.event_seq: a linked note has one row per destination, found through
      // deliveries_in_order (docv_transaction_id = '', destination, event_seq) by its prefix.
      linkDeliveries: db.prepare<[string, number]>(
        `UPDATE deliveries SET docv_transaction_id = ? WHERE docv_transaction_id = '${NO_TRANSACTION}' AND event_seq = ?`,
      ),
      keyOfEvent: db.prepare<[string], { docv_transaction_id: string; source: string }>(
        'SELECT docv_transaction_id, source FROM events WHERE event_id = ?',
      ),
      transactionState: db.prepare<[string], { state: string; source: string }>(
        'SELECT state, source FROM transactions WHERE docv_transaction_id = ?',
      ),
      insertTransaction: db.prepare(
        `INSERT INTO transactions (docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at,
           first_received_at, last_received_at, event_count, anomaly_count, state, dialects, environment, source)
         VALUES (@key, @status, @decision, @customerUserId, @firstEventAt, @lastEventAt,
           @firstReceivedAt, @lastReceivedAt, @eventCount, @anomalyCount, @state, @dialects, @environment, @source)`,
      ),
    };
    // An UPDATE rewrites the entry of every index on a column it SETs, changed or not: one
    // statement per combination of the indexed columns that changed, so a commit writes the
    // customer index only when its value moves. The activity, status, decision (partial: rows with
    // a decision) and anomalous (partial) indexes hold last_received_at, which every event moves
    // (migration 8): they are written whatever the mask says.
    const update = (columns: string[]) =>
      db.prepare(
        `UPDATE transactions SET ${[
          ...columns,
          'first_event_at = @firstEventAt',
          'last_event_at = @lastEventAt',
          'first_received_at = @firstReceivedAt',
          'last_received_at = @lastReceivedAt',
          'event_count = @eventCount',
          'anomaly_count = @anomalyCount',
          'state = @state',
          'dialects = @dialects',
          'environment = @environment',
        ].join(', ')} WHERE docv_transaction_id = @key`,
      );
    for (let mask = 0; mask < 8; mask++)
      this.updates.push(
        update(
          [
            mask & 1 ? 'status = @status' : '',
            mask & 2 ? 'decision = @decision' : '',
            mask & 4 ? 'customer_user_id = @customerUserId' : '',
          ].filter(Boolean),
        ),
      );
  }

  /** By which indexed columns changed: bit 1 status, 2 decision, 4 customer user id. */
  private readonly updates: Database.Statement[] = [];

  /** Runs inside a commit of the write queue; `targets` are the outbox rows this event gets. */
  ingest(input: IngestInput, targets: () => OutboxTargets): IngestOutcome {
    const existing = this.stmts.eventByKey.get(input.dedupeKey);
    if (existing) {
      if (existing.content_hash !== input.contentHash) return { kind: 'conflict', eventId: existing.event_id };
      this.stmts.countDuplicate.run(input.receivedAt.toISOString(), existing.seq);
      return { kind: 'duplicate', eventId: existing.event_id };
    }
    const source = input.source ?? DEFAULT_SOURCE;
    const event = this.withTransaction(input.event, source);
    // The transaction key (rows.ts): the same id under two sources is two transactions.
    const key = transactionColumn(event.docvTransactionId, source);
    const receivedAt = input.receivedAt.toISOString();
    const eventId = newId('evt', input.receivedAt.getTime());
    const headers = JSON.stringify(input.headers);
    // With a key, the body and headers are sealed (bound to this event id); ids, types, times,
    // the decision and the customer id stay in clear for the lists and filters.
    const keyId = this.sealer.currentKeyId;
    const inserted = this.stmts.insertEvent.run({
      eventId,
      dedupeKey: input.dedupeKey,
      deliveryId: input.webhookId,
      contentHash: input.contentHash,
      docvTransactionId: key,
      eventType: event.eventType,
      eventTime: event.eventTime,
      eventTimeMs: eventTimeMs(event.eventTime),
      customerUserId: event.customerUserId ?? null,
      decision: event.decision ?? null,
      receivedAt,
      rawBody: keyId ? this.sealer.sealBytes(input.rawBody, 'events', 'raw_body', eventId) : input.rawBody,
      headers: keyId ? this.sealer.sealJson(headers, 'events', 'headers', eventId) : headers,
      // What the sender said (a note's transaction as resolved is in docv_transaction_id).
      canonical: storedMetadata(input.event),
      evaluationId: event.evaluationId ?? null,
      keyId,
      source,
    });
    if (event.docvTransactionId !== null && !event.test) {
      // Only an event that names its transaction itself can link an evaluation to it.
      const links = input.event.docvTransactionId !== null && event.evaluationId !== undefined;
      this.foldIntoLifecycle(event.docvTransactionId, { key, source }, event, receivedAt, links);
    }
    this.outbox.enqueueFor(
      { seq: Number(inserted.lastInsertRowid), eventId, event, receivedAt: input.receivedAt, key },
      targets(),
    );
    return { kind: 'accepted', eventId };
  }

  /**
   * The key of the transaction `docvTransactionId` a decision fetched for `eventId` belongs to:
   * under `source` when given; else the event's own (its row knows its source, and the
   * transaction it was filed under), or the id under the default source when there is no such
   * event (erased since, or a caller's mistake).
   */
  decisionKey(eventId: string, docvTransactionId: string, source: string | undefined): string {
    if (source !== undefined) return transactionColumn(docvTransactionId, source);
    const event = this.stmts.keyOfEvent.get(eventId);
    if (event && transactionOfColumn(event.docv_transaction_id, event.source) === docvTransactionId)
      return event.docv_transaction_id;
    return transactionColumn(docvTransactionId, DEFAULT_SOURCE);
  }

  /**
   * Folds `change` into the stored lifecycle of the transaction whose key is `key` (rows.ts,
   * transactionColumn: a fetched decision, its absence); none when there is no such transaction.
   */
  updateLifecycle(key: string, change: (state: TransactionLifecycle) => TransactionLifecycle): void {
    const row = this.stmts.transactionState.get(key);
    if (!row) return;
    const previous = JSON.parse(row.state) as TransactionLifecycle;
    this.saveLifecycle(change(previous), previous, { key, source: row.source });
  }

  /**
   * The event with the transaction it belongs to. A RiskOS note carries only its evaluation id:
   * when an earlier event of that evaluation under the same source named the transaction, the
   * note is filed under it. Test events never join a transaction. Flat events (no evaluation id)
   * cost no query here.
   */
  private withTransaction(event: CanonicalEvent, source: string): CanonicalEvent {
    if (event.docvTransactionId !== null || event.evaluationId === undefined || event.test) return event;
    const known = this.stmts.transactionOfEvaluation.get(event.evaluationId, source);
    return known ? { ...event, docvTransactionId: transactionOfColumn(known.docv_transaction_id, source) } : event;
  }

  /**
   * Folds an accepted event into its transaction's lifecycle; with `linksEvaluation`, also the
   * events of its evaluation that were waiting for a transaction.
   */
  private foldIntoLifecycle(
    docvTransactionId: string,
    transaction: TransactionKey,
    event: CanonicalEvent,
    receivedAt: string,
    linksEvaluation: boolean,
  ): void {
    const lifecycleEvent = lifecycleEventOf(event, receivedAt);
    const row = this.stmts.transactionState.get(transaction.key);
    const previous = row ? (JSON.parse(row.state) as TransactionLifecycle) : null;
    // The lifecycle names the transaction by its id (what the API shows); the row by its key.
    let state = previous ? applyEvent(previous, lifecycleEvent) : startLifecycle(docvTransactionId, lifecycleEvent);
    if (linksEvaluation && event.evaluationId !== undefined)
      state = this.adoptEvaluation(state, transaction, event.evaluationId);
    this.saveLifecycle(state, previous, transaction);
  }

  /**
   * Events of `evaluationId` stored before any event linked the evaluation to a transaction (RiskOS
   * notes that arrived before the evaluation named its DocV token) move to this transaction, with
   * their deliveries, and are folded into its lifecycle: all in the commit of the event that
   * made the link, so no reader sees the event linked without them.
   */
  private adoptEvaluation(
    state: TransactionLifecycle,
    transaction: TransactionKey,
    evaluationId: string,
  ): TransactionLifecycle {
    let folded = state;
    for (const row of this.stmts.unlinkedOfEvaluation.all(evaluationId, transaction.source)) {
      const body = this.sealer.openBytes(row.raw_body, row.key_id, 'events', 'raw_body', row.event_id);
      const stored = canonicalFromStored(JSON.parse(body.toString('utf8')) as unknown, row.canonical);
      if (stored.test) continue;
      this.stmts.linkEvent.run(transaction.key, row.seq);
      this.stmts.linkDeliveries.run(transaction.key, row.seq);
      folded = applyEvent(folded, lifecycleEventOf(stored, row.received_at));
    }
    return folded;
  }

  /** `previous`: the lifecycle as stored, null when the transaction has no row yet. */
  private saveLifecycle(
    state: TransactionLifecycle,
    previous: TransactionLifecycle | null,
    transaction: TransactionKey,
  ): void {
    const statement = previous
      ? this.updates[
          (state.status !== previous.status ? 1 : 0) |
            (state.decision !== previous.decision ? 2 : 0) |
            (state.customerUserId !== previous.customerUserId ? 4 : 0)
        ]!
      : this.stmts.insertTransaction;
    statement.run({
      key: transaction.key,
      // Written by the insert only: a transaction's source never changes.
      ...(previous ? {} : { source: transaction.source }),
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
      dialects: dialectsColumn(state),
      environment: state.environment ?? null,
    });
  }
}
