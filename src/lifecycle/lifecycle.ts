import { eventTimeMs, type Decision, type DocvEventType } from '../contract/index.js';

/**
 * Rank of each event type in a transaction's life. Status is the highest rank seen, so a late
 * APP_OPENED never moves a completed transaction back.
 */
export const STATUS_RANK: Readonly<Record<DocvEventType, number>> = {
  APP_OPENED: 1,
  DOCUMENTS_UPLOADED: 2,
  SESSION_EXPIRED: 3,
  VERIFICATION_COMPLETED: 4,
};

/** When two decisions share an eventTime, the more cautious one wins (and an anomaly is raised). */
const DECISION_CAUTION: Readonly<Record<Decision, number>> = { accept: 0, resubmit: 1, reject: 2 };

export type AnomalyCode = 'conflicting_decisions' | 'completed_and_expired' | 'customer_user_id_changed' | 'decision_mismatch';

/** Where the recorded decision came from: the webhook event, or Get A DocV Transaction. */
export type DecisionSource = 'event' | 'api';

/** The outcome read from Get A DocV Transaction. */
export interface ApiDecision {
  decision: Decision;
  reasonCodes: string[];
  fetchedAt: string;
}

export interface Anomaly {
  code: AnomalyCode;
  message: string;
  values: string[];
}

/** What the lifecycle needs of one event: the typed fields, none of the payload. */
export interface LifecycleEvent {
  eventType: DocvEventType;
  eventTime: string;
  decision?: Decision;
  customerUserId?: string;
  receivedAt: string;
}

export interface TransactionLifecycle {
  docvTransactionId: string;
  status: DocvEventType;
  decision: Decision | null;
  decisionSource: DecisionSource | null;
  /** Reason codes from Get A DocV Transaction, once fetched. */
  reasonCodes: string[];
  customerUserId: string | null;
  firstEventAt: string;
  lastEventAt: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
  eventCount: number;
  anomalies: Anomaly[];
  /**
   * Bookkeeping that lets the next event be folded in without re-reading history. Kept as sorted
   * sets so the result does not depend on arrival order.
   */
  seen: {
    eventTypes: DocvEventType[];
    decisions: Decision[];
    customerUserIds: string[];
    decisionEventTime: string | null;
    customerUserIdEventTime: string | null;
    /** The decision the events carry (latest VERIFICATION_COMPLETED wins). */
    eventDecision?: Decision | null;
    /** The decision Get A DocV Transaction returned; it outranks what events said. */
    apiDecision?: Decision | null;
  };
}

function ms(time: string): number {
  return eventTimeMs(time);
}

function addToSortedSet<T extends string>(set: readonly T[], value: T): T[] {
  if (set.includes(value)) return set as T[];
  return [...set, value].sort();
}

function earlier(a: string, b: string): boolean {
  return ms(a) < ms(b);
}

/** Picks the decision of the latest VERIFICATION_COMPLETED; ties go to the more cautious one. */
function decisionWins(candidate: Decision, candidateTime: string, current: Decision | null, currentTime: string | null): boolean {
  if (current === null || currentTime === null) return true;
  const a = ms(candidateTime);
  const b = ms(currentTime);
  if (a !== b) return a > b;
  return DECISION_CAUTION[candidate] > DECISION_CAUTION[current];
}

function deriveAnomalies(seen: TransactionLifecycle['seen']): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const api = seen.apiDecision ?? null;
  const disagreeing = api === null ? [] : seen.decisions.filter((d) => d !== api);
  if (api !== null && disagreeing.length > 0) {
    anomalies.push({
      code: 'decision_mismatch',
      message: `Get A DocV Transaction says ${api} but events said ${disagreeing.join(', ')}`,
      values: [api, ...disagreeing],
    });
  }
  if (seen.decisions.length > 1) {
    anomalies.push({
      code: 'conflicting_decisions',
      message: `VERIFICATION_COMPLETED arrived with different decisions: ${seen.decisions.join(', ')}`,
      values: seen.decisions,
    });
  }
  if (seen.eventTypes.includes('VERIFICATION_COMPLETED') && seen.eventTypes.includes('SESSION_EXPIRED')) {
    anomalies.push({
      code: 'completed_and_expired',
      message: 'the transaction both completed and expired',
      values: ['SESSION_EXPIRED', 'VERIFICATION_COMPLETED'],
    });
  }
  if (seen.customerUserIds.length > 1) {
    anomalies.push({
      code: 'customer_user_id_changed',
      message: `events carry different customerUserId values (${seen.customerUserIds.length})`,
      values: seen.customerUserIds,
    });
  }
  return anomalies;
}

/** The lifecycle of a transaction whose first event (in arrival order) is `event`. */
export function startLifecycle(docvTransactionId: string, event: LifecycleEvent): TransactionLifecycle {
  const seen: TransactionLifecycle['seen'] = {
    eventTypes: [event.eventType],
    decisions: event.decision ? [event.decision] : [],
    customerUserIds: event.customerUserId !== undefined ? [event.customerUserId] : [],
    decisionEventTime: event.decision ? event.eventTime : null,
    eventDecision: event.decision ?? null,
    customerUserIdEventTime: event.customerUserId !== undefined ? event.eventTime : null,
  };
  return {
    docvTransactionId,
    status: event.eventType,
    decision: event.decision ?? null,
    decisionSource: event.decision ? 'event' : null,
    reasonCodes: [],
    customerUserId: event.customerUserId ?? null,
    firstEventAt: event.eventTime,
    lastEventAt: event.eventTime,
    firstReceivedAt: event.receivedAt,
    lastReceivedAt: event.receivedAt,
    eventCount: 1,
    anomalies: deriveAnomalies(seen),
    seen,
  };
}

/**
 * Folds one more event into a lifecycle. Pure: the result depends only on the set of events,
 * not on the order they arrived in (receipt times aside).
 */
export function applyEvent(state: TransactionLifecycle, event: LifecycleEvent): TransactionLifecycle {
  const seen = { ...state.seen };
  seen.eventTypes = addToSortedSet(seen.eventTypes, event.eventType);

  let decision = seen.eventDecision ?? (state.decisionSource === 'api' ? null : state.decision);
  if (event.decision) {
    seen.decisions = addToSortedSet(seen.decisions, event.decision);
    if (decisionWins(event.decision, event.eventTime, decision, seen.decisionEventTime)) {
      decision = event.decision;
      seen.decisionEventTime = event.eventTime;
    }
  }

  let customerUserId = state.customerUserId;
  if (event.customerUserId !== undefined) {
    seen.customerUserIds = addToSortedSet(seen.customerUserIds, event.customerUserId);
    // The earliest value is the one the session started with; later ones are the anomaly.
    const current = seen.customerUserIdEventTime;
    if (
      current === null ||
      earlier(event.eventTime, current) ||
      (ms(event.eventTime) === ms(current) && customerUserId !== null && event.customerUserId < customerUserId)
    ) {
      customerUserId = event.customerUserId;
      seen.customerUserIdEventTime = event.eventTime;
    }
  }

  const status = STATUS_RANK[event.eventType] > STATUS_RANK[state.status] ? event.eventType : state.status;
  seen.eventDecision = decision;
  const api = seen.apiDecision ?? null;
  return {
    docvTransactionId: state.docvTransactionId,
    status,
    decision: api ?? decision,
    decisionSource: api !== null ? 'api' : decision !== null ? 'event' : null,
    reasonCodes: state.reasonCodes ?? [],
    customerUserId,
    firstEventAt: earlier(event.eventTime, state.firstEventAt) ? event.eventTime : state.firstEventAt,
    lastEventAt: earlier(state.lastEventAt, event.eventTime) ? event.eventTime : state.lastEventAt,
    firstReceivedAt: event.receivedAt < state.firstReceivedAt ? event.receivedAt : state.firstReceivedAt,
    lastReceivedAt: event.receivedAt > state.lastReceivedAt ? event.receivedAt : state.lastReceivedAt,
    eventCount: state.eventCount + 1,
    anomalies: deriveAnomalies(seen),
    seen,
  };
}

/**
 * Records the decision read from Get A DocV Transaction. It is the authoritative outcome: it
 * becomes the decision, and any event that said otherwise is kept as a `decision_mismatch`.
 */
export function applyApiDecision(state: TransactionLifecycle, api: ApiDecision): TransactionLifecycle {
  const seen = { ...state.seen, apiDecision: api.decision };
  return {
    ...state,
    decision: api.decision,
    decisionSource: 'api',
    reasonCodes: [...api.reasonCodes],
    anomalies: deriveAnomalies(seen),
    seen,
  };
}

/** Folds a whole history; handy for tests and for rebuilding a lifecycle from stored events. */
export function foldLifecycle(docvTransactionId: string, events: readonly LifecycleEvent[]): TransactionLifecycle | null {
  const [first, ...rest] = events;
  if (!first) return null;
  return rest.reduce(applyEvent, startLifecycle(docvTransactionId, first));
}
