import { TEST_EVENT_TYPE } from '../../contract/index.js';
import { documentVerification, sampleDocumentData } from '../document-verification.js';
import { uuidFromName } from '../ids.js';
import type { DocvSubject, Notification, NotificationOptions } from './types.js';

/**
 * Socure's DocV v5 deliveries: the `DocvNotification` envelope around an `event`, as the facts
 * file (reference/socure-delivery-facts.md, "Socure DocV v5 deliveries" and "More shapes") has
 * them.
 */

/** The event types of a v5 session, in the order a session goes through them. */
export const V5_EVENT_TYPES = [
  'WAITING_FOR_USER_TO_REDIRECT',
  'APP_OPENED',
  'DOCUMENT_FRONT_UPLOADED',
  'DOCUMENT_BACK_UPLOADED',
  'DOCUMENT_SELFIE_UPLOADED',
  'DOCUMENTS_UPLOADED',
  'VERIFICATION_COMPLETED',
  'SESSION_COMPLETE',
  'SESSION_EXPIRED',
] as const;

/**
 * `event.message`. Only "Capture App Opened" is attested; the others are written in its style.
 * RiskOS case notes reuse them as their `notes`.
 */
export const V5_MESSAGES: Readonly<Record<string, string>> = {
  WAITING_FOR_USER_TO_REDIRECT: 'Waiting For User To Redirect',
  APP_OPENED: 'Capture App Opened',
  DOCUMENT_FRONT_UPLOADED: 'Document Front Uploaded',
  DOCUMENT_BACK_UPLOADED: 'Document Back Uploaded',
  DOCUMENT_SELFIE_UPLOADED: 'Document Selfie Uploaded',
  DOCUMENTS_UPLOADED: 'Documents Uploaded',
  VERIFICATION_COMPLETED: 'Verification Completed',
  SESSION_COMPLETE: 'Session Complete',
  SESSION_EXPIRED: 'Session Expired',
  TEST_WEBHOOK: 'Test Webhook',
};

export function v5Message(eventType: string): string {
  return V5_MESSAGES[eventType] ?? eventType;
}

/**
 * Both spellings of the token field occur in real deliveries. The sandbox is deterministic about
 * it: every event says `docvTransactionToken` except SESSION_COMPLETE, which says
 * `docVTransactionToken`, so every completed v5 session exercises a receiver's handling of the
 * other spelling on an event that must still join its transaction.
 */
export const OTHER_TOKEN_SPELLING_EVENT = 'SESSION_COMPLETE';

export function tokenField(eventType: string): 'docvTransactionToken' | 'docVTransactionToken' {
  return eventType === OTHER_TOKEN_SPELLING_EVENT ? 'docVTransactionToken' : 'docvTransactionToken';
}

/** Observed environment names: the sandbox is Socure's Sandbox. */
export const SANDBOX_ENVIRONMENT = 'Sandbox';

/** `event.data` by type; types without data have none. */
function eventData(
  subject: DocvSubject,
  eventType: string,
  opts: NotificationOptions,
): Record<string, unknown> | undefined {
  switch (eventType) {
    case 'DOCUMENTS_UPLOADED':
      // `uuid` is the upload set's id: derived, so a retried or re-emitted notification names the same one.
      return { uuid: uuidFromName(`documents:${subject.docvTransactionId}`), referenceId: subject.referenceId };
    case 'VERIFICATION_COMPLETED': {
      const result = documentVerification({
        docvTransactionId: subject.docvTransactionId,
        documentType: subject.documentType,
        country: subject.country,
        decision: opts.includeDecision === false ? undefined : opts.decision,
        completedAt: new Date(opts.at),
      });
      // Without its decision the result has no reason codes either: nothing was decided yet.
      return { documentVerification: result, referenceId: subject.referenceId };
    }
    case TEST_EVENT_TYPE:
      return { documentData: sampleDocumentData() };
    default:
      return undefined;
  }
}

/**
 * One v5 notification of any type, known or not (an unknown type gets its own name as message
 * and no data). WAITING_FOR_USER_TO_REDIRECT carries no token, only `origId`; TEST_WEBHOOK
 * neither: it belongs to no transaction.
 */
export function v5Notification(subject: DocvSubject, eventType: string, opts: NotificationOptions): Notification {
  const test = eventType === TEST_EVENT_TYPE;
  const withToken = !test && eventType !== 'WAITING_FOR_USER_TO_REDIRECT';
  const data = eventData(subject, eventType, opts);
  const event: Record<string, unknown> = {
    eventType,
    created: new Date(opts.at).toISOString(),
    message: v5Message(eventType),
    referenceId: subject.referenceId,
    ...(withToken ? { [tokenField(eventType)]: subject.docvTransactionId } : {}),
    ...(subject.customerUserId !== undefined ? { customerUserId: subject.customerUserId } : {}),
    ...(subject.userId !== undefined ? { userId: subject.userId } : {}),
    ...(data !== undefined ? { data } : {}),
  };
  const payload: Record<string, unknown> = {
    id: opts.notificationId,
    ...(test ? {} : { origId: subject.docvTransactionId }),
    eventGroup: 'DocvNotification',
    reason: eventType,
    environmentName: SANDBOX_ENVIRONMENT,
    event,
  };
  return { eventType, payload };
}
