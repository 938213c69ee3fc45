import { TEST_EVENT_TYPE, type CanonicalDecision, type CanonicalEvent } from '../../src/contract/index.js';

/**
 * Canonical events of the envelope dialects, built by hand the way the normalisers build them
 * (contract/dialects), so store suites can exercise what a v5 or RiskOS delivery becomes without
 * depending on the normalisers. Each carries a payload shaped like what Socure sends.
 */

let counter = 0;

/** Unique across the processes of one run (test files run in parallel against one PostgreSQL). */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface V5Options {
  eventType?: string;
  /** Null: the event names no transaction (a first event before the token, a test event). */
  docvTransactionId?: string | null;
  /** The envelope's `event.created`; null when the sender gave none (the receipt time stands in). */
  created?: string | null;
  receivedAt?: Date;
  customerUserId?: string;
  decision?: CanonicalDecision;
  environment?: string;
}

/** A Socure v5 `DocvNotification`, normalised. */
export function v5Event(options: V5Options = {}): CanonicalEvent {
  const eventType = options.eventType ?? 'APP_OPENED';
  const token = options.docvTransactionId === undefined ? uniqueId('tok') : options.docvTransactionId;
  const envelopeId = uniqueId('notif');
  const created = options.created === undefined ? '2026-03-01T10:00:00.000Z' : options.created;
  const customerUserId = options.customerUserId ?? '121212';
  const environment = options.environment ?? 'Sandbox';
  const inner: Record<string, unknown> = {
    eventType,
    message: 'Capture App Opened',
    referenceId: 'ref-1',
    customerUserId,
  };
  if (created !== null) inner.created = created;
  if (token !== null) inner.docvTransactionToken = token;
  if (options.decision !== undefined) {
    inner.data = {
      documentVerification: { decision: { name: 'standard', value: options.decision }, reasonCodes: ['I831'] },
    };
  }
  const event: CanonicalEvent = {
    dialect: 'socure-v5',
    eventType,
    docvTransactionId: token,
    eventTime: created ?? (options.receivedAt ?? new Date()).toISOString(),
    eventTimeSource: created === null ? 'receipt' : 'event',
    customerUserId,
    referenceId: 'ref-1',
    environment,
    envelopeId,
    test: false,
    payload: {
      id: envelopeId,
      origId: token,
      eventGroup: 'DocvNotification',
      reason: eventType,
      environmentName: environment,
      event: inner,
    },
  };
  if (options.decision !== undefined) {
    event.decision = options.decision;
    event.decisionName = 'standard';
    event.reasonCodes = ['I831'];
  }
  return event;
}

/** What the test button of Socure's dashboard sends: no transaction token. */
export function testWebhookEvent(): CanonicalEvent {
  const event = v5Event({ eventType: TEST_EVENT_TYPE, docvTransactionId: null, created: '2026-03-01T09:00:00.000Z' });
  return { ...event, test: true };
}

export interface RiskosOptions {
  /** The DocV transaction, when the event names it; null for a note that names only its evaluation. */
  docvTransactionId?: string | null;
  eventTime?: string;
  /** As RiskOS sends it (upper case); the canonical event has it in lower case. */
  decision?: 'ACCEPT' | 'REVIEW' | 'REJECT';
}

/** A RiskOS event of `evaluationId`, normalised. */
export function riskosEvent(
  eventType: 'case_notes_added' | 'evaluation_completed',
  evaluationId: string,
  options: RiskosOptions = {},
): CanonicalEvent {
  const eventId = uniqueId('rk');
  const eventTime = options.eventTime ?? '2026-03-01T10:00:00.000Z';
  const token = options.docvTransactionId ?? null;
  const data: Record<string, unknown> = { eval_id: evaluationId, id: 'app-1' };
  if (eventType === 'case_notes_added') Object.assign(data, { notes: 'Capture App Opened', reviewer_id: 'Webhook' });
  if (options.decision !== undefined) data.decision = options.decision;
  if (token !== null)
    data.data_enrichments = [{ enrichment_name: 'DocV', response: { data: { docvTransactionToken: token } } }];
  const event: CanonicalEvent = {
    dialect: 'riskos',
    eventType,
    docvTransactionId: token,
    eventTime,
    eventTimeSource: 'event',
    envelopeId: eventId,
    evaluationId,
    test: false,
    payload: { event_id: eventId, event_at: eventTime, event_type: eventType, data },
  };
  if (options.decision !== undefined) {
    event.decision = options.decision.toLowerCase() as CanonicalDecision;
    event.decisionOriginal = options.decision;
  }
  return event;
}
