import { createHash } from 'node:crypto';

/*
 * The event log is the outbox (issue 18, decision 0012). Accepting an event writes the event and
 * its lifecycle, and no outbox row: each log destination (a forward, a library's handler) keeps a
 * cursor into the log, and its worker reads the events past the cursor, delivers them and moves
 * the cursor once per batch. A delivery gets a row in `deliveries` only when it leaves that path:
 * its attempt failed (retries, dead letters), it waits behind an earlier delivery of the same
 * transaction that has a row, it waits for the decision fetch, or an operator retried or replayed
 * it. Deliveries without a row are read back from the log and the cursor (log-views.ts).
 *
 * This file is the part both stores share and that needs no database: the ids of log deliveries
 * and the bookkeeping of one worker's reading of the log.
 */

/** What a log destination's cursor row holds. */
export interface DestinationCursor {
  destination: string;
  /** The log position when the destination started reading: events after it are its deliveries. */
  fromSeq: number;
  /** Every event with fromSeq < seq ≤ this was delivered, or has a row in deliveries. */
  seq: number;
  /**
   * The last event that is this destination's, when it stopped reading (a library's handler
   * destination its process no longer has); null while it reads on.
   */
  untilSeq: number | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  updatedAt: string;
}

/** A row of destination_cursors as either driver returns it (pg: bigint as text, times as Date). */
export interface DestinationCursorRow {
  destination: string;
  from_seq: number | string;
  seq: number | string;
  until_seq: number | string | null;
  lease_owner: string | null;
  lease_until: number | string | null;
  updated_at: Date | string;
}

export function cursorOf(row: DestinationCursorRow): DestinationCursor {
  return {
    destination: row.destination,
    fromSeq: Number(row.from_seq),
    seq: Number(row.seq),
    untilSeq: row.until_seq === null ? null : Number(row.until_seq),
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until === null ? null : Number(row.lease_until),
    updatedAt: typeof row.updated_at === 'string' ? row.updated_at : row.updated_at.toISOString(),
  };
}

/** How often a cursor leaves a mark of when it passed a position (the delivered time of log deliveries). */
export const MARK_EVERY_MS = 1_000;

/** 8 hex characters of SHA-256: which destination a log delivery id names, among a store's few. */
export function destinationTag(destination: string): string {
  return createHash('sha256').update(destination).digest('hex').slice(0, 8);
}

const LOG_DELIVERY_ID = /^dlv_([0-9a-z]{26})\.([0-9a-f]{8})$/;

/**
 * A log delivery's id: the event's and the destination's, so it is the same every time it is
 * read back, on every retry (the forward's `webhook-id`) and once it has a row. `dlv_` ids made
 * by newId (decision fetches, rows from before the log) have no dot.
 */
export function logDeliveryId(eventId: string, destination: string): string {
  return `dlv_${eventId.slice(eventId.indexOf('_') + 1)}.${destinationTag(destination)}`;
}

/** The event id and destination tag of a log delivery id; null for any other id. */
export function parseLogDeliveryId(deliveryId: string): { eventId: string; tag: string } | null {
  const m = LOG_DELIVERY_ID.exec(deliveryId);
  return m ? { eventId: `evt_${m[1]!}`, tag: m[2]! } : null;
}

/** An event read from the log for one destination, as the reader needs it. */
export interface LogEntry {
  seq: number;
  /** '' for no transaction (test events, unlinked notes): nothing orders those. */
  docvTransactionId: string;
}

/** What becomes of an event a worker reads from the log for a destination. */
export type LogVerdict =
  /** Attempt it now (no row). */
  | 'deliver'
  /** It gets a pending row: an earlier delivery of its transaction has one, or it waits for the decision. */
  | 'materialize'
  /**
   * Not now: an earlier delivery of its transaction is in flight from the log (or was passed over
   * just before it). The reader goes on with the events after it, and reads it again next time.
   */
  | 'defer';

/** Events handled past the first one passed over, at most: past it, a reader reads nothing new. */
export const MAX_READ_WINDOW = 1_024;

/**
 * One worker's reading of one destination's log, between the committed cursor and what it has
 * handed out. Every event up to `readTo` has been handed out or given a row; past it, some events
 * were too (after one passed over because its transaction was busy), and `passed` remembers them
 * so the next read, which starts again at `readTo`, skips them. The cursor moves to just before
 * the oldest delivery still in flight or passed over, so a crash loses nothing: the next reader
 * starts at the committed cursor and delivers again what was in flight (at least once).
 */
export class LogReading {
  /** Every seq up to here is handled (handed out or given a row). */
  readTo: number;
  /** In flight: seq → transaction (to keep a transaction's deliveries in order). */
  private readonly inFlight = new Map<number, string>();
  private readonly inFlightTransactions = new Map<string, number>();
  /** Handled seqs past readTo. */
  private readonly passed = new Set<number>();
  /** This pass: whether an event was passed over (readTo stops before it), and whose. */
  private blocked = false;
  private readonly deferredTransactions = new Set<string>();

  constructor(
    readonly destination: string,
    readonly owner: string,
    committed: number,
  ) {
    this.readTo = committed;
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** How many events past readTo a read must skip: what it should read more than it wants. */
  get window(): number {
    return this.passed.size;
  }

  /** A claim starts reading at readTo again. */
  beginPass(): void {
    this.blocked = false;
    this.deferredTransactions.clear();
  }

  /** Whether `seq` was handed out or given a row already (a read past a passed-over event sees it again). */
  handled(seq: number): boolean {
    return this.passed.has(seq) || this.inFlight.has(seq);
  }

  /** An event read again that was handled before: readTo may pass it. */
  note(seq: number): void {
    if (!this.blocked) this.advance(seq);
  }

  /** Whether the transaction has a delivery of this destination in flight, or passed over in this pass. */
  busy(docvTransactionId: string): boolean {
    return (
      docvTransactionId !== '' &&
      (this.inFlightTransactions.has(docvTransactionId) || this.deferredTransactions.has(docvTransactionId))
    );
  }

  handOut(entry: LogEntry): void {
    this.inFlight.set(entry.seq, entry.docvTransactionId);
    if (entry.docvTransactionId !== '')
      this.inFlightTransactions.set(
        entry.docvTransactionId,
        (this.inFlightTransactions.get(entry.docvTransactionId) ?? 0) + 1,
      );
    this.handle(entry.seq);
  }

  /** A read event that got a row instead of an attempt: done as far as the cursor goes. */
  skip(seq: number): void {
    this.handle(seq);
  }

  /** Passed over for now (its transaction is busy): readTo stops before it, and so does the cursor. */
  defer(entry: LogEntry): void {
    this.blocked = true;
    if (entry.docvTransactionId !== '') this.deferredTransactions.add(entry.docvTransactionId);
  }

  private handle(seq: number): void {
    if (this.blocked) this.passed.add(seq);
    else this.advance(seq);
  }

  private advance(seq: number): void {
    if (seq <= this.readTo) return;
    this.readTo = seq;
    for (const s of this.passed) if (s <= seq) this.passed.delete(s);
  }

  has(seq: number): boolean {
    return this.inFlight.has(seq);
  }

  /** The attempt of `seq` is over (delivered, or its failure has a row now). */
  finish(seq: number): void {
    const tx = this.inFlight.get(seq);
    if (tx === undefined) return;
    this.inFlight.delete(seq);
    if (tx !== '') {
      const n = (this.inFlightTransactions.get(tx) ?? 1) - 1;
      if (n <= 0) this.inFlightTransactions.delete(tx);
      else this.inFlightTransactions.set(tx, n);
    }
  }

  /** Where the committed cursor may go: just before the oldest delivery in flight or passed over. */
  cursor(): number {
    let oldest = this.readTo + 1;
    for (const seq of this.inFlight.keys()) if (seq < oldest) oldest = seq;
    return oldest - 1;
  }
}

/**
 * The verdict for the next event of the log in seq order. `hasOpenRow`: the transaction has a
 * pending or failed row for this destination (an earlier failure, a held event); `waitsForDecision`:
 * the event's delivery must wait for its decision fetch (lifecycle/decision-fetch-rule.ts).
 */
export function verdictFor(
  reading: LogReading,
  entry: LogEntry,
  ordered: boolean,
  hasOpenRow: () => boolean,
  waitsForDecision: () => boolean,
): LogVerdict {
  if (ordered && reading.busy(entry.docvTransactionId)) return 'defer';
  if (ordered && entry.docvTransactionId !== '' && hasOpenRow()) return 'materialize';
  if (waitsForDecision()) return 'materialize';
  return 'deliver';
}

/** How long a worker's hold on a destination's log lasts without a claim or a completion renewing it. */
export function cursorLeaseMs(requestedLeaseMs: number): number {
  // Shorter than a delivery's lease: a worker that stopped without letting go (kill -9) holds
  // the whole destination, not one delivery, until this runs out.
  return Math.min(requestedLeaseMs, 15_000);
}
