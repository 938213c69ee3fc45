/**
 * The one event model every dialect folds into. The flat contract (spec/asyncapi.yaml) is one
 * dialect; Socure's v5 `DocvNotification` envelope (and its bare `{"event":{…}}` form) and RiskOS
 * events are the others (spec/dialects/). Field names keep the contract's spelling, so code written
 * against the flat event (`event.docvTransactionId`, `event.decision`) reads a v5 or RiskOS event
 * the same way; what a dialect carries beyond that stays in `payload`, as received.
 */

/** The shapes of delivery the receiver understands. */
export const DIALECTS = ['asyncapi', 'socure-v5', 'riskos'] as const;
export type Dialect = (typeof DIALECTS)[number];

export function isDialect(value: unknown): value is Dialect {
  return typeof value === 'string' && (DIALECTS as readonly string[]).includes(value);
}

/**
 * Every decision any sender uses, in canonical lower case. `review` comes from RiskOS (`REVIEW`)
 * and from Socure's ID+ result; the flat contract has only the first three.
 */
export const CANONICAL_DECISIONS = ['accept', 'reject', 'resubmit', 'review'] as const;
export type CanonicalDecision = (typeof CANONICAL_DECISIONS)[number];

export function isCanonicalDecision(value: unknown): value is CanonicalDecision {
  return typeof value === 'string' && (CANONICAL_DECISIONS as readonly string[]).includes(value);
}

/**
 * Event types known to real senders. The set is open: a type not listed here is still accepted
 * from an envelope, stored and shown, it just does not move a transaction's status.
 */
export const KNOWN_EVENT_TYPES = [
  'WAITING_FOR_USER_TO_REDIRECT',
  'APP_OPENED',
  'DOCUMENT_FRONT_UPLOADED',
  'DOCUMENT_BACK_UPLOADED',
  'DOCUMENT_SELFIE_UPLOADED',
  'DOCUMENTS_UPLOADED',
  'SESSION_EXPIRED',
  'SESSION_COMPLETE',
  'VERIFICATION_COMPLETED',
  'TEST_WEBHOOK',
  'evaluation_completed',
  'case_notes_added',
] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

/**
 * The event types of a DocV session: every dialect refuses one without its transaction (the flat
 * contract requires `docvTransactionId`, v5 a token or `origId`).
 */
export type SessionEventType = Exclude<KnownEventType, 'TEST_WEBHOOK' | 'evaluation_completed' | 'case_notes_added'>;

/** Event types that end a verification and may carry its decision. */
export const COMPLETION_EVENT_TYPES: readonly string[] = ['VERIFICATION_COMPLETED', 'evaluation_completed'];

/** Socure's dashboard test button: stored and listed, never part of a transaction. */
export const TEST_EVENT_TYPE = 'TEST_WEBHOOK';

/** The environment a Socure account belongs to; other spellings are kept as sent. */
export type SocureEnvironment = 'Sandbox' | 'Production';

export interface CanonicalEvent {
  dialect: Dialect;
  /** As the sender spelled it: the DocV types in upper case, RiskOS types in lower case. */
  eventType: string;
  /** Null for Socure's test event, and for a RiskOS note whose evaluation is not linked yet. */
  docvTransactionId: string | null;
  /** RFC 3339. When the sender gave none, the receipt time (see eventTimeSource). */
  eventTime: string;
  eventTimeSource: 'event' | 'receipt';
  /** Always a string: a number is kept as its decimal text. */
  customerUserId?: string;
  decision?: CanonicalDecision;
  /** The decision as sent, when that differs from the canonical value (RiskOS `ACCEPT`). */
  decisionOriginal?: string;
  /** The decision logic that produced it (`standard`, `lenient`…). */
  decisionName?: string;
  reasonCodes?: string[];
  referenceId?: string;
  /** `Sandbox` / `Production` (case normalised), or as sent when it is neither. */
  environment?: string;
  /** The envelope's own id (v5 `id`, RiskOS `event_id`): the sender's deduplication key. */
  envelopeId?: string;
  /** RiskOS evaluation id (`data.eval_id`): joins `case_notes_added` to its transaction. */
  evaluationId?: string;
  /** Socure's dashboard test event. */
  test: boolean;
  /** Document data (PII) was removed from `payload` before it was stored. */
  documentDataRemoved?: boolean;
  /** The body as received (document data removed unless kept on purpose). */
  payload: Record<string, unknown>;
}

/** The canonical fields without the payload: what is stored beside the raw body. */
export type CanonicalFields = Omit<CanonicalEvent, 'payload'>;

/** Splits an event into what is stored as columns/metadata and the payload. */
export function canonicalFields(event: CanonicalEvent): CanonicalFields {
  const { payload: _payload, ...fields } = event;
  return fields;
}
