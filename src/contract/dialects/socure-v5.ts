import { COMPLETION_EVENT_TYPES, KNOWN_EVENT_TYPES, TEST_EVENT_TYPE, type CanonicalEvent } from '../canonical-event.js';
import { socureV5NotificationSchema } from '../generated/dialect-schemas.js';
import type { SocureV5Notification } from '../generated/dialect-types.js';
import { compileSchema, schemaViolations } from '../schema-violations.js';
import type { ContractViolation } from '../types.js';
import {
  canonicalDecision,
  environmentOf,
  idText,
  keyViolations,
  objectAt,
  reasonCodesOf,
  stringAt,
  timeViolations,
} from './fields.js';

const validate = compileSchema<SocureV5Notification>(socureV5NotificationSchema);

/**
 * The transaction of a v5 delivery: `event.docvTransactionToken`, else the other spelling seen in
 * real deliveries, else the envelope's `origId` (the first event of a session carries no token,
 * and `origId` equals it there).
 */
function transactionOf(body: SocureV5Notification): { id: string | undefined; path: string } {
  const e = body.event;
  if (e.docvTransactionToken !== undefined) return { id: e.docvTransactionToken, path: '/event/docvTransactionToken' };
  if (e.docVTransactionToken !== undefined) return { id: e.docVTransactionToken, path: '/event/docVTransactionToken' };
  return { id: body.origId, path: '/origId' };
}

/** Types that belong to a DocV session: they must name their transaction. */
function needsTransaction(eventType: string): boolean {
  return eventType !== TEST_EVENT_TYPE && (KNOWN_EVENT_TYPES as readonly string[]).includes(eventType);
}

/** Every way `value` breaks the v5 dialect (spec/dialects/socure-v5.yaml plus the rules in code). */
export function socureV5Violations(value: unknown): ContractViolation[] {
  const violations = schemaViolations(validate, value);
  const badPaths = new Set(violations.map((v) => v.path));
  const body = value as SocureV5Notification;
  const event = objectAt(body, 'event');
  if (!event) return violations;
  const eventType = stringAt(body, 'event', 'eventType');
  const tx = transactionOf(body);
  if (eventType !== undefined && needsTransaction(eventType) && tx.id === undefined && !badPaths.has('/event')) {
    violations.push({
      path: '/event/docvTransactionToken',
      message: `is required on ${eventType} (or the envelope's origId)`,
    });
  }
  if (!badPaths.has(tx.path)) violations.push(...keyViolations(tx.path, tx.id));
  if (!badPaths.has('/id')) violations.push(...keyViolations('/id', body.id));
  const customer = idText(event.customerUserId);
  if (typeof event.customerUserId === 'string' && !badPaths.has('/event/customerUserId'))
    violations.push(...keyViolations('/event/customerUserId', customer));
  violations.push(...timeViolations('/event/created', stringAt(body, 'event', 'created'), badPaths));
  return violations;
}

/** A v5 delivery that has no violations, as the canonical event. */
export function normaliseSocureV5(body: SocureV5Notification, receivedAt: Date): CanonicalEvent {
  const e = body.event;
  const test = e.eventType === TEST_EVENT_TYPE;
  const canonical: CanonicalEvent = {
    dialect: 'socure-v5',
    eventType: e.eventType,
    docvTransactionId: test ? null : (transactionOf(body).id ?? null),
    eventTime: e.created ?? receivedAt.toISOString(),
    eventTimeSource: e.created !== undefined ? 'event' : 'receipt',
    test,
    payload: body as Record<string, unknown>,
  };
  const customerUserId = idText(e.customerUserId);
  if (customerUserId !== undefined) canonical.customerUserId = customerUserId;
  const verification = objectAt(e, 'data', 'documentVerification');
  // A decision counts only where one belongs: on a completion (or the test event's sample).
  if (verification && (COMPLETION_EVENT_TYPES.includes(e.eventType) || test)) {
    const sent = stringAt(verification, 'decision', 'value');
    const decision = canonicalDecision(sent);
    if (decision !== undefined) {
      canonical.decision = decision;
      if (sent !== decision) canonical.decisionOriginal = sent!;
    }
    const name = stringAt(verification, 'decision', 'name');
    if (name !== undefined) canonical.decisionName = name;
    const reasonCodes = reasonCodesOf(verification.reasonCodes);
    if (reasonCodes !== undefined) canonical.reasonCodes = reasonCodes;
  }
  const referenceId = e.referenceId ?? stringAt(e, 'data', 'referenceId');
  if (referenceId !== undefined) canonical.referenceId = referenceId;
  const environment = environmentOf(body.environmentName);
  if (environment !== undefined) canonical.environment = environment;
  if (body.id !== undefined) canonical.envelopeId = body.id;
  return canonical;
}
