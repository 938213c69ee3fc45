import type { CanonicalDecision, DocvEventType } from '../contract/index.js';
import { MinHeap } from './min-heap.js';
import type {
  AttemptRecord,
  DeliveryRecord,
  DeliveryStatus,
  EventRecord,
  StepRecord,
  TransactionRecord,
} from './records.js';
import type { SandboxState } from './state.js';

interface Step extends StepRecord {
  state: 'planned' | 'done' | 'skipped' | 'cancelled';
}

/** A delivery's place in a due queue; stale (and skipped) once the delivery has a newer one or left the state. */
interface Entry {
  d: DeliveryRecord;
  notBefore: number;
  position: number;
}

const earlier = (a: { notBefore: number; position: number }, b: { notBefore: number; position: number }): boolean =>
  a.notBefore < b.notBefore || (a.notBefore === b.notBefore && a.position < b.position);

const RELEASE_BATCH = 1_000;

/**
 * The sandbox's state for a `simulate` run, in plain JavaScript structures: the run is never
 * resumed, and as SQLite (even `:memory:`) its statements were half the sender's CPU per request.
 * It answers exactly what `SandboxStore` answers for the same calls (test/sandbox/state.test.ts
 * runs both), with the due work kept in heaps instead of indexes:
 * - each transaction's open ordered deliveries form a queue in position order (positions only
 *   grow, so a new or released one goes last), and only its head can be ready: the deliveries
 *   behind it are never looked at until it is done;
 * - what can be ready (queue heads, unordered deliveries) waits in one heap by (notBefore, position).
 * Attempts are not kept: nothing in a run reads them back. `atomically` has nothing to roll back
 * to: the callers it serves throw only before they change anything.
 */
export class MemoryStore implements SandboxState {
  private readonly transactions = new Map<string, TransactionRecord>();
  private stepSeq = 0;
  private readonly steps = new Map<number, Step>();
  private readonly plannedOfTx = new Map<string, Step[]>();
  private readonly planned = new MinHeap<Step>((a, b) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id));
  private plannedCount = 0;

  private eventTotal = 0;
  private readonly eventTypes = new Map<string, number>();
  /** Per event with deliveries open: how many, and whether one was delivered already. */
  private readonly eventState = new Map<string, { open: number; delivered: boolean }>();
  private eventsDelivered = 0;
  private eventsOpen = 0;

  private deliverySeq = 0;
  private position = 0;
  /** Deliveries not final yet (held, pending, in flight). */
  private readonly open = new Map<number, DeliveryRecord>();
  /** Open deliveries not attempted yet. */
  private unsent = 0;
  private readonly queueOfTx = new Map<string, DeliveryRecord[]>();
  private readonly heldOfTx = new Map<string, DeliveryRecord[]>();
  private readonly held = new MinHeap<Entry>(earlier);
  private readonly due = new MinHeap<Entry>(earlier);
  /** The one live due entry per delivery. */
  private readonly entries = new Map<number, Entry>();

  atomically<T>(fn: () => T): T {
    return fn();
  }

  close(): void {
    this.transactions.clear();
    this.steps.clear();
    this.open.clear();
  }

  insertTransaction(t: TransactionRecord): void {
    this.transactions.set(t.docvTransactionId, { ...t });
  }

  /** The record as stored: updates replace it rather than change it, so a caller's copy stays a snapshot. */
  getTransaction(id: string): TransactionRecord | undefined {
    return this.transactions.get(id);
  }

  updateTransactionState(
    t: Pick<TransactionRecord, 'docvTransactionId' | 'status' | 'decision' | 'uploads' | 'completedAt'>,
  ): void {
    const old = this.transactions.get(t.docvTransactionId);
    if (!old) return;
    this.transactions.set(t.docvTransactionId, {
      ...old,
      status: t.status,
      decision: t.decision,
      uploads: t.uploads,
      completedAt: t.completedAt,
    });
  }

  insertStep(
    docvTransactionId: string,
    eventType: DocvEventType,
    decision: CanonicalDecision | undefined,
    dueAt: number,
  ): void {
    const step: Step = { id: ++this.stepSeq, docvTransactionId, eventType, decision, dueAt, state: 'planned' };
    this.steps.set(step.id, step);
    this.planned.push(step);
    this.plannedCount += 1;
    const ofTx = this.plannedOfTx.get(docvTransactionId);
    if (ofTx) ofTx.push(step);
    else this.plannedOfTx.set(docvTransactionId, [step]);
  }

  dueSteps(now: number, limit: number): StepRecord[] {
    const out: Step[] = [];
    while (out.length < limit) {
      const top = this.planned.peek();
      if (!top) break;
      if (top.state !== 'planned') {
        this.planned.pop();
        continue;
      }
      if (top.dueAt > now) break;
      out.push(this.planned.pop()!);
    }
    // Still planned until marked, as in SQLite.
    for (const step of out) this.planned.push(step);
    return out.map(({ id, docvTransactionId, eventType, decision, dueAt }) => ({
      id,
      docvTransactionId,
      eventType,
      decision,
      dueAt,
    }));
  }

  nextStepDue(): number | undefined {
    for (let top = this.planned.peek(); top; top = this.planned.peek()) {
      if (top.state === 'planned') return top.dueAt;
      this.planned.pop();
    }
    return undefined;
  }

  countPlannedSteps(): number {
    return this.plannedCount;
  }

  markStep(id: number, state: 'done' | 'skipped'): void {
    const step = this.steps.get(id);
    if (step) this.unplan(step, state);
  }

  cancelPlannedSteps(docvTransactionId: string): void {
    // A copy: unplan takes each step out of this list.
    for (const step of [...(this.plannedOfTx.get(docvTransactionId) ?? [])]) this.unplan(step, 'cancelled');
  }

  private unplan(step: Step, state: Step['state']): void {
    if (step.state === 'planned') {
      this.plannedCount -= 1;
      this.steps.delete(step.id);
      const ofTx = this.plannedOfTx.get(step.docvTransactionId);
      const i = ofTx ? ofTx.indexOf(step) : -1;
      if (i >= 0) ofTx!.splice(i, 1);
      if (ofTx?.length === 0) this.plannedOfTx.delete(step.docvTransactionId);
    }
    step.state = state;
  }

  insertEvent(e: EventRecord): void {
    this.eventTotal += 1;
    this.eventTypes.set(e.eventType, (this.eventTypes.get(e.eventType) ?? 0) + 1);
  }

  /** By type name, as SQLite's GROUP BY has them: the summary's `eventsByType` keeps its key order. */
  eventTypeCounts(): Array<[string, number]> {
    return [...this.eventTypes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  eventCounts(): { total: number; delivered: number; open: number } {
    return { total: this.eventTotal, delivered: this.eventsDelivered, open: this.eventsOpen };
  }

  countOpenDeliveries(): number {
    return this.open.size;
  }

  /** Deliveries queued and not attempted yet: what `simulate` has in hand, retries left out. */
  countUnsentDeliveries(): number {
    return this.unsent;
  }

  insertDelivery(
    d: Pick<
      DeliveryRecord,
      'eventId' | 'docvTransactionId' | 'eventType' | 'url' | 'body' | 'ordered' | 'copy' | 'notBefore' | 'createdAt'
    > & { held: boolean },
  ): number {
    const delivery: DeliveryRecord = {
      id: ++this.deliverySeq,
      eventId: d.eventId,
      docvTransactionId: d.docvTransactionId,
      eventType: d.eventType,
      url: d.url,
      body: d.body,
      position: ++this.position,
      ordered: d.ordered,
      copy: d.copy,
      status: d.held ? 'held' : 'pending',
      attempts: 0,
      retryFrom: 0,
      notBefore: d.notBefore,
      createdAt: d.createdAt,
    };
    this.open.set(delivery.id, delivery);
    this.unsent += 1;
    const ev = this.eventState.get(d.eventId);
    if (!ev) {
      this.eventState.set(d.eventId, { open: 1, delivered: false });
      this.eventsOpen += 1;
    } else if (ev.open++ === 0) this.eventsOpen += 1;
    if (d.held) {
      const ofTx = this.heldOfTx.get(d.docvTransactionId);
      if (ofTx) ofTx.push(delivery);
      else this.heldOfTx.set(d.docvTransactionId, [delivery]);
      this.held.push({ d: delivery, notBefore: delivery.notBefore, position: delivery.position });
    } else this.enqueue(delivery);
    return delivery.id;
  }

  /** A pending delivery takes its place: last in its transaction's queue, due if nothing is before it. */
  private enqueue(d: DeliveryRecord): void {
    if (!d.ordered) return this.makeDue(d);
    const queue = this.queueOfTx.get(d.docvTransactionId);
    if (queue) queue.push(d);
    else this.queueOfTx.set(d.docvTransactionId, [d]);
    if (!queue) this.makeDue(d);
  }

  private makeDue(d: DeliveryRecord): void {
    const entry: Entry = { d, notBefore: d.notBefore, position: d.position };
    this.entries.set(d.id, entry);
    this.due.push(entry);
  }

  private live(e: Entry): boolean {
    return this.entries.get(e.d.id) === e && e.d.status === 'pending';
  }

  releaseHeld(docvTransactionId: string, now: number): number {
    const ofTx = this.heldOfTx.get(docvTransactionId);
    if (!ofTx) return 0;
    this.heldOfTx.delete(docvTransactionId);
    for (const d of ofTx) this.release(d, now);
    return ofTx.length;
  }

  releaseExpiredHolds(now: number): number {
    const expired: DeliveryRecord[] = [];
    for (let top = this.held.peek(); top && top.notBefore <= now; top = this.held.peek()) {
      this.held.pop();
      if (top.d.status === 'held') expired.push(top.d);
    }
    // Released in position order, a bounded batch per call, as the SQLite store does.
    expired.sort((a, b) => a.position - b.position);
    for (const d of expired.slice(RELEASE_BATCH)) this.held.push({ d, notBefore: d.notBefore, position: d.position });
    const batch = expired.slice(0, RELEASE_BATCH);
    for (const d of batch) {
      const ofTx = this.heldOfTx.get(d.docvTransactionId)?.filter((h) => h !== d) ?? [];
      if (ofTx.length > 0) this.heldOfTx.set(d.docvTransactionId, ofTx);
      else this.heldOfTx.delete(d.docvTransactionId);
      this.release(d, now);
    }
    return batch.length;
  }

  /** Behind everything queued so far: it now comes after the event that overtook it. */
  private release(d: DeliveryRecord, now: number): void {
    d.status = 'pending';
    d.position = ++this.position;
    d.notBefore = now;
    this.enqueue(d);
  }

  readyDeliveries(now: number, limit: number): DeliveryRecord[] {
    const taken: Entry[] = [];
    while (taken.length < limit) {
      const top = this.due.peek();
      if (!top) break;
      if (!this.live(top)) {
        this.due.pop();
        continue;
      }
      if (top.notBefore > now) break;
      taken.push(this.due.pop()!);
    }
    // Still pending until marked in flight: they stay due.
    for (const e of taken) this.due.push(e);
    return taken.map((e) => ({ ...e.d }));
  }

  /**
   * The earliest future moment something becomes due. Deliveries behind a queue's head are left
   * out: they cannot start before it is done, and that wakes the engine anyway. So are due ones
   * when some are ready now: the engine asks only when it has no capacity left for them, or
   * when the rate holds them back, and then it wakes for the rate.
   */
  nextDeliveryDue(now: number): number | undefined {
    let next: number | undefined;
    for (let top = this.due.peek(); top; top = this.due.peek()) {
      if (!this.live(top)) {
        this.due.pop();
        continue;
      }
      if (top.notBefore > now) next = top.notBefore;
      break;
    }
    for (let top = this.held.peek(); top; top = this.held.peek()) {
      if (top.d.status !== 'held') {
        this.held.pop();
        continue;
      }
      if (top.notBefore > now && (next === undefined || top.notBefore < next)) next = top.notBefore;
      break;
    }
    return next;
  }

  markInFlight(id: number): boolean {
    const d = this.open.get(id);
    if (!d || d.status !== 'pending') return false;
    d.status = 'in_flight';
    if (d.attempts === 0) this.unsent -= 1;
    return true;
  }

  resetInFlight(): number {
    let n = 0;
    for (const d of this.open.values()) {
      if (d.status !== 'in_flight') continue;
      d.status = 'pending';
      n += 1;
      if (d.attempts === 0) this.unsent += 1;
      if (!d.ordered || this.queueOfTx.get(d.docvTransactionId)?.[0] === d) this.makeDue(d);
    }
    return n;
  }

  recordAttempts(
    batch: ReadonlyArray<{
      attempt: AttemptRecord;
      next: { status: DeliveryStatus; notBefore: number; finishedAt?: number };
    }>,
  ): void {
    for (const { attempt, next } of batch) {
      const d = this.open.get(attempt.deliveryId);
      if (!d) continue;
      d.status = next.status;
      d.attempts = attempt.n;
      d.notBefore = next.notBefore;
      d.lastStatusCode = attempt.statusCode;
      d.lastError = attempt.error;
      d.finishedAt = next.finishedAt;
      if (next.status === 'pending') {
        if (!d.ordered || this.queueOfTx.get(d.docvTransactionId)?.[0] === d) this.makeDue(d);
      } else if (next.status !== 'in_flight' && next.status !== 'held') this.finish(d);
    }
  }

  /** Out of every queue; the next delivery of its transaction becomes due. */
  private finish(d: DeliveryRecord): void {
    this.open.delete(d.id);
    this.entries.delete(d.id);
    const ev = this.eventState.get(d.eventId);
    if (ev) {
      if (d.status === 'delivered' && !ev.delivered) {
        ev.delivered = true;
        this.eventsDelivered += 1;
      }
      // An event's copies are queued together, so one with none open is settled for good.
      if (--ev.open === 0) {
        this.eventsOpen -= 1;
        this.eventState.delete(d.eventId);
      }
    }
    if (!d.ordered) return;
    const queue = this.queueOfTx.get(d.docvTransactionId);
    if (!queue) return;
    const i = queue.indexOf(d);
    if (i < 0) return;
    queue.splice(i, 1);
    if (queue.length === 0) this.queueOfTx.delete(d.docvTransactionId);
    else if (i === 0 && queue[0]!.status === 'pending') this.makeDue(queue[0]!);
  }
}
