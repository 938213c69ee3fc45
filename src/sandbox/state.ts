import type { CanonicalDecision, DocvEventType } from '../contract/index.js';
import type {
  AttemptRecord,
  DeliveryRecord,
  DeliveryStatus,
  EventRecord,
  StepRecord,
  TransactionRecord,
} from './records.js';

/** What a new delivery is made of; the state gives it its id, position, status and counters. */
export type NewDelivery = Pick<
  DeliveryRecord,
  'eventId' | 'docvTransactionId' | 'eventType' | 'url' | 'body' | 'ordered' | 'copy' | 'notBefore' | 'createdAt'
> & {
  /** Waits for a later event of its transaction (chaos: out of order) or for its hold to run out. */
  held: boolean;
};

/** A finished attempt and where its delivery goes next. */
export interface FinishedAttempt {
  attempt: AttemptRecord;
  next: { status: DeliveryStatus; notBefore: number; finishedAt?: number };
}

/**
 * What the DocV service, the delivery engine and `simulate` need of the sandbox's state. The
 * sandbox server keeps it in SQLite (`SandboxStore`, store.ts), so its deliveries survive a
 * restart; a `simulate` run, which is never resumed, keeps it in memory (`MemoryStore`,
 * memory-store.ts). Both answer the same calls alike (test/sandbox/state.test.ts runs them side by
 * side on seeded sequences).
 */
export interface SandboxState {
  /**
   * Runs `fn` as one unit: a step and the deliveries it causes land together. Inside another call
   * it joins the caller's unit, so a batch (a tick's steps, a tick's attempts) commits once.
   */
  atomically<T>(fn: () => T): T;
  close(): void;

  insertTransaction(t: TransactionRecord): void;
  getTransaction(id: string): TransactionRecord | undefined;
  updateTransactionState(
    t: Pick<TransactionRecord, 'docvTransactionId' | 'status' | 'decision' | 'uploads' | 'completedAt'>,
  ): void;

  /** Plans a scenario step (an event to happen at `dueAt`). */
  insertStep(
    docvTransactionId: string,
    eventType: DocvEventType,
    decision: CanonicalDecision | undefined,
    dueAt: number,
  ): void;
  /** Planned steps due by `now`, earliest first. */
  dueSteps(now: number, limit: number): StepRecord[];
  nextStepDue(): number | undefined;
  countPlannedSteps(): number;
  markStep(id: number, state: 'done' | 'skipped'): void;
  cancelPlannedSteps(docvTransactionId: string): void;

  insertEvent(e: EventRecord): void;
  /** Returns the new delivery's id. */
  insertDelivery(d: NewDelivery): number;
  /** Moves the transaction's held deliveries behind everything queued so far: they now come after the event that overtook them. */
  releaseHeld(docvTransactionId: string, now: number): number;
  /** Held deliveries whose hold ran out because no later event came. */
  releaseExpiredHolds(now: number): number;
  /** Deliveries that may be attempted now: due, and (when ordered) first open one of their transaction. */
  readyDeliveries(now: number, limit: number): DeliveryRecord[];
  /** The earliest future moment a delivery or hold becomes due. */
  nextDeliveryDue(now: number): number | undefined;
  /** False when the delivery is no longer pending (cancelled meanwhile). */
  markInFlight(id: number): boolean;
  /** After a crash or restart nothing is in flight: those attempts are retried (receivers deduplicate on `webhook-id`). */
  resetInFlight(): number;
  /** Records finished attempts and where each delivery goes next, as one unit (or the caller's). */
  recordAttempts(batch: ReadonlyArray<FinishedAttempt>): void;
  countOpenDeliveries(): number;
  /** Events in total, events that reached the receiver at least once, events still on their way. */
  eventCounts(): { total: number; delivered: number; open: number };
  /** Events per type, as the dialect names them. */
  eventTypeCounts(): Array<[string, number]>;
}
