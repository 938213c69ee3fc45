import {
  COMPLETION_EVENT_TYPES,
  eventTimeMs,
  type CanonicalDecision,
  type CanonicalEvent,
  type Dialect,
} from '../contract/index.js';

/**
 * Rank of each event type in a transaction's life. Status is the highest rank seen, so a late
 * APP_OPENED never moves a completed transaction back. The progress types Socure's v5 stream adds
 * rank between APP_OPENED and DOCUMENTS_UPLOADED. SESSION_COMPLETE and VERIFICATION_COMPLETED have
 * been seen 25 ms apart in either order: the completion outranks the session's end, so the status
 * ends at VERIFICATION_COMPLETED whichever came last. RiskOS's evaluation_completed closes the
 * evaluation the DocV session was part of, so it ranks last. Types not listed (notes, test events,
 * types Socure adds later) rank nowhere: they are in the timeline and move nothing.
 */
export const STATUS_RANK: Readonly<Record<string, number>> = {
  WAITING_FOR_USER_TO_REDIRECT: 1,
  APP_OPENED: 2,
  DOCUMENT_FRONT_UPLOADED: 3,
  DOCUMENT_BACK_UPLOADED: 4,
  DOCUMENT_SELFIE_UPLOADED: 5,
  DOCUMENTS_UPLOADED: 6,
  SESSION_EXPIRED: 7,
  SESSION_COMPLETE: 8,
  VERIFICATION_COMPLETED: 9,
  evaluation_completed: 10,
};

/** The status of a transaction none of whose events ranks (only notes or unknown types so far). */
export const NO_STATUS = 'RECEIVED';

/** Every status a transaction can have, in the order of its life: for filters, menus and metrics. */
export const TRANSACTION_STATUSES: readonly string[] = [
  NO_STATUS,
  ...Object.keys(STATUS_RANK).sort((a, b) => STATUS_RANK[a]! - STATUS_RANK[b]!),
];

export function statusRank(eventType: string): number {
  return Object.hasOwn(STATUS_RANK, eventType) ? STATUS_RANK[eventType]! : 0;
}

/** When two decisions share an eventTime, the more cautious one wins (and an anomaly is raised). */
const DECISION_CAUTION: Readonly<Record<CanonicalDecision, number>> = { accept: 0, resubmit: 1, review: 2, reject: 3 };

export type AnomalyCode =
  | 'conflicting_decisions'
  | 'completed_and_expired'
  | 'customer_user_id_changed'
  | 'decision_mismatch'
  | 'dialect_mismatch'
  | 'environment_mismatch'
  | 'decision_unavailable';

/** Every anomaly code, for filters and validation. */
export const ANOMALY_CODES: readonly AnomalyCode[] = [
  'conflicting_decisions',
  'completed_and_expired',
  'customer_user_id_changed',
  'decision_mismatch',
  'dialect_mismatch',
  'environment_mismatch',
  'decision_unavailable',
];

/** Where the recorded decision came from: a webhook event, or the decision fetch (ID+ / Get A DocV Transaction). */
export type DecisionSource = 'event' | 'api';

/** The outcome read from the decision fetch. */
export interface ApiDecision {
  decision: CanonicalDecision;
  reasonCodes: string[];
  fetchedAt: string;
  /** The decision logic (`standard`, `lenient`…), when the answer names it. */
  decisionName?: string | undefined;
}

export interface Anomaly {
  code: AnomalyCode;
  message: string;
  values: string[];
}

/** What the lifecycle needs of one event: the canonical fields, none of the payload. */
export interface LifecycleEvent {
  eventType: string;
  eventTime: string;
  decision?: CanonicalDecision;
  customerUserId?: string;
  receivedAt: string;
  /** Absent on events stored before dialects existed: they were all flat. */
  dialect?: Dialect;
  environment?: string;
  evaluationId?: string;
}

export interface TransactionLifecycle {
  docvTransactionId: string;
  /** The highest-ranked event type seen, or RECEIVED when none ranks. */
  status: string;
  decision: CanonicalDecision | null;
  decisionSource: DecisionSource | null;
  /** Reason codes from the decision fetch, or from the event that carried the decision. */
  reasonCodes: string[];
  customerUserId: string | null;
  /** The RiskOS evaluation the transaction belongs to, once an event said so. */
  evaluationId?: string | null;
  /** `Sandbox` / `Production`, from the first event that said. */
  environment?: string | null;
  /** The decision fetch gave up without a decision; cleared once a decision is known. */
  decisionUnavailable?: { reason: string; at: string } | null;
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
    eventTypes: string[];
    decisions: CanonicalDecision[];
    customerUserIds: string[];
    decisionEventTime: string | null;
    customerUserIdEventTime: string | null;
    /** The decision the events carry (latest completion wins). */
    eventDecision?: CanonicalDecision | null;
    /** The decision the fetch returned; it outranks what events said. */
    apiDecision?: CanonicalDecision | null;
    dialects?: Dialect[];
    environments?: string[];
    evaluationIds?: string[];
    decisionUnavailable?: { reason: string; at: string } | null;
  };
}

/** The lifecycle's view of a canonical event. */
export function lifecycleEventOf(event: CanonicalEvent, receivedAt: string): LifecycleEvent {
  const out: LifecycleEvent = {
    eventType: event.eventType,
    eventTime: event.eventTime,
    receivedAt,
    dialect: event.dialect,
  };
  if (event.decision !== undefined) out.decision = event.decision;
  if (event.customerUserId !== undefined) out.customerUserId = event.customerUserId;
  if (event.environment !== undefined) out.environment = event.environment;
  if (event.evaluationId !== undefined) out.evaluationId = event.evaluationId;
  return out;
}

function ms(time: string): number {
  return eventTimeMs(time);
}

function addToSortedSet<T extends string>(set: readonly T[] | undefined, value: T): T[] {
  const current = set ?? [];
  if (current.includes(value)) return current as T[];
  return [...current, value].sort();
}

function earlier(a: string, b: string): boolean {
  return ms(a) < ms(b);
}

/** Picks the decision of the latest completion; ties go to the more cautious one. */
function decisionWins(
  candidate: CanonicalDecision,
  candidateTime: string,
  current: CanonicalDecision | null,
  currentTime: string | null,
): boolean {
  if (current === null || currentTime === null) return true;
  const a = ms(candidateTime);
  const b = ms(currentTime);
  if (a !== b) return a > b;
  return DECISION_CAUTION[candidate] > DECISION_CAUTION[current];
}

function deriveAnomalies(seen: TransactionLifecycle['seen'], decision: CanonicalDecision | null): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const api = seen.apiDecision ?? null;
  const disagreeing = api === null ? [] : seen.decisions.filter((d) => d !== api);
  if (api !== null && disagreeing.length > 0) {
    anomalies.push({
      code: 'decision_mismatch',
      message: `the decision fetch says ${api} but events said ${disagreeing.join(', ')}`,
      values: [api, ...disagreeing],
    });
  }
  if (seen.decisions.length > 1) {
    anomalies.push({
      code: 'conflicting_decisions',
      message: `completions arrived with different decisions: ${seen.decisions.join(', ')}`,
      values: seen.decisions,
    });
  }
  const completed = seen.eventTypes.filter((t) => COMPLETION_EVENT_TYPES.includes(t));
  if (completed.length > 0 && seen.eventTypes.includes('SESSION_EXPIRED')) {
    anomalies.push({
      code: 'completed_and_expired',
      message: 'the transaction both completed and expired',
      values: ['SESSION_EXPIRED', ...completed].sort(),
    });
  }
  if (seen.customerUserIds.length > 1) {
    anomalies.push({
      code: 'customer_user_id_changed',
      message: `events carry different customerUserId values (${seen.customerUserIds.length})`,
      values: seen.customerUserIds,
    });
  }
  if ((seen.dialects?.length ?? 0) > 1) {
    anomalies.push({
      code: 'dialect_mismatch',
      message: `events of this transaction came in different dialects: ${seen.dialects!.join(', ')}`,
      values: seen.dialects!,
    });
  }
  if ((seen.environments?.length ?? 0) > 1) {
    anomalies.push({
      code: 'environment_mismatch',
      message: `events of this transaction name different Socure environments: ${seen.environments!.join(', ')}`,
      values: seen.environments!,
    });
  }
  const unavailable = seen.decisionUnavailable ?? null;
  if (unavailable !== null && decision === null) {
    anomalies.push({
      code: 'decision_unavailable',
      message: `no decision could be fetched: ${unavailable.reason}`,
      values: [unavailable.at],
    });
  }
  return anomalies;
}

/** The lifecycle of a transaction whose first event (in arrival order) is `event`. */
export function startLifecycle(docvTransactionId: string, event: LifecycleEvent): TransactionLifecycle {
  const empty: TransactionLifecycle = {
    docvTransactionId,
    status: NO_STATUS,
    decision: null,
    decisionSource: null,
    reasonCodes: [],
    customerUserId: null,
    evaluationId: null,
    environment: null,
    decisionUnavailable: null,
    firstEventAt: event.eventTime,
    lastEventAt: event.eventTime,
    firstReceivedAt: event.receivedAt,
    lastReceivedAt: event.receivedAt,
    eventCount: 0,
    anomalies: [],
    seen: {
      eventTypes: [],
      decisions: [],
      customerUserIds: [],
      decisionEventTime: null,
      customerUserIdEventTime: null,
      eventDecision: null,
      dialects: [],
      environments: [],
      evaluationIds: [],
      decisionUnavailable: null,
    },
  };
  return applyEvent(empty, event);
}

/** The earliest-in-event-time value wins; ties go to the smaller value, so arrival order never matters. */
function firstByEventTime(
  current: string | null,
  currentTime: string | null,
  candidate: string,
  candidateTime: string,
): boolean {
  if (current === null || currentTime === null) return true;
  if (earlier(candidateTime, currentTime)) return true;
  return ms(candidateTime) === ms(currentTime) && candidate < current;
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
    if (firstByEventTime(customerUserId, seen.customerUserIdEventTime, event.customerUserId, event.eventTime)) {
      customerUserId = event.customerUserId;
      seen.customerUserIdEventTime = event.eventTime;
    }
  }
  // Events stored before dialects existed were all flat (and their lifecycles kept no dialect set).
  const earlierDialects = seen.dialects ?? (state.eventCount > 0 ? (['asyncapi'] as Dialect[]) : []);
  seen.dialects = addToSortedSet(earlierDialects, event.dialect ?? 'asyncapi');
  if (event.environment !== undefined) seen.environments = addToSortedSet(seen.environments, event.environment);
  if (event.evaluationId !== undefined) seen.evaluationIds = addToSortedSet(seen.evaluationIds, event.evaluationId);

  const isFirst = state.eventCount === 0;
  const rank = statusRank(event.eventType);
  const status = rank > 0 && rank > statusRank(state.status) ? event.eventType : state.status;
  seen.eventDecision = decision;
  const api = seen.apiDecision ?? null;
  const finalDecision = api ?? decision;
  return {
    docvTransactionId: state.docvTransactionId,
    status,
    decision: finalDecision,
    decisionSource: api !== null ? 'api' : decision !== null ? 'event' : null,
    reasonCodes: state.reasonCodes ?? [],
    customerUserId,
    evaluationId: seen.evaluationIds?.[0] ?? null,
    environment: seen.environments?.[0] ?? null,
    decisionUnavailable: finalDecision === null ? (seen.decisionUnavailable ?? null) : null,
    firstEventAt: isFirst || earlier(event.eventTime, state.firstEventAt) ? event.eventTime : state.firstEventAt,
    lastEventAt: isFirst || earlier(state.lastEventAt, event.eventTime) ? event.eventTime : state.lastEventAt,
    firstReceivedAt: isFirst || event.receivedAt < state.firstReceivedAt ? event.receivedAt : state.firstReceivedAt,
    lastReceivedAt: isFirst || event.receivedAt > state.lastReceivedAt ? event.receivedAt : state.lastReceivedAt,
    eventCount: state.eventCount + 1,
    anomalies: deriveAnomalies(seen, finalDecision),
    seen,
  };
}

/**
 * Records the decision read from the decision fetch. It is the authoritative outcome: it becomes
 * the decision, and any event that said otherwise is kept as a `decision_mismatch`.
 */
export function applyApiDecision(state: TransactionLifecycle, api: ApiDecision): TransactionLifecycle {
  const seen = { ...state.seen, apiDecision: api.decision };
  return {
    ...state,
    decision: api.decision,
    decisionSource: 'api',
    reasonCodes: [...api.reasonCodes],
    decisionUnavailable: null,
    anomalies: deriveAnomalies(seen, api.decision),
    seen,
  };
}

/**
 * The decision fetch gave up: no decision was available within its time. Shown (and an anomaly
 * raised) only while the transaction has no decision; a decision arriving later clears it.
 */
export function applyDecisionUnavailable(
  state: TransactionLifecycle,
  reason: string,
  at: string,
): TransactionLifecycle {
  const marker = { reason, at };
  const seen = { ...state.seen, decisionUnavailable: marker };
  return {
    ...state,
    decisionUnavailable: state.decision === null ? marker : null,
    anomalies: deriveAnomalies(seen, state.decision),
    seen,
  };
}

/** Folds a whole history; handy for tests and for rebuilding a lifecycle from stored events. */
export function foldLifecycle(
  docvTransactionId: string,
  events: readonly LifecycleEvent[],
): TransactionLifecycle | null {
  const [first, ...rest] = events;
  if (!first) return null;
  return rest.reduce(applyEvent, startLifecycle(docvTransactionId, first));
}
