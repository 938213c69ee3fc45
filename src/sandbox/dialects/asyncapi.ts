import { DOCV_EVENT_TYPES, isDocvEventType, type DocvEventType } from '../../contract/index.js';
import type { DocvSubject, Notification, NotificationOptions } from './types.js';

/**
 * The flat contract of spec/asyncapi.yaml: `{eventType, docvTransactionId, customerUserId?,
 * eventTime, decision?}`, the sandbox's behaviour before it spoke other dialects, byte for byte.
 */
export function asyncapiEvent(subject: DocvSubject, eventType: DocvEventType, opts: NotificationOptions): Notification {
  const payload: Record<string, unknown> = {
    eventType,
    docvTransactionId: subject.docvTransactionId,
    // The contract's customerUserId is a string: a number the integrator gave is sent as its text.
    ...(subject.customerUserId !== undefined ? { customerUserId: String(subject.customerUserId) } : {}),
    eventTime: new Date(opts.at).toISOString(),
    ...(opts.decision !== undefined && opts.includeDecision !== false ? { decision: opts.decision } : {}),
  };
  return { eventType, payload };
}

/** Only the contract's own types exist in this dialect. */
export function asAsyncapiEventType(eventType: string): DocvEventType {
  if (!isDocvEventType(eventType)) {
    throw new RangeError(
      `${eventType} is not an event type of the asyncapi dialect (it has ${DOCV_EVENT_TYPES.join(', ')}); Socure's own types need dialect socure-v5 or riskos`,
    );
  }
  return eventType;
}
