import { DOCV_EVENT_TYPES, TEST_EVENT_TYPE, type Dialect } from '../../contract/index.js';
import { asAsyncapiEventType, asyncapiEvent } from './asyncapi.js';
import { RISKOS_EVENT_TYPES, riskosNotification } from './riskos.js';
import { V5_EVENT_TYPES, v5Notification } from './socure-v5.js';
import type { DocvSubject, Notification, NotificationOptions } from './types.js';

export type { DocvSubject, Notification, NotificationOptions } from './types.js';
export { docvSteps, CREATED, type Happening } from './stream.js';
export { riskosDecision, evaluationIdOf } from './riskos.js';
export { tokenField, OTHER_TOKEN_SPELLING_EVENT, V5_EVENT_TYPES } from './socure-v5.js';

/** One DocV step (or any type the dialect can name) as the dialect delivers it. */
export function buildNotification(
  dialect: Dialect,
  eventType: string,
  subject: DocvSubject,
  opts: NotificationOptions,
): Notification {
  switch (dialect) {
    case 'asyncapi':
      return asyncapiEvent(subject, asAsyncapiEventType(eventType), opts);
    case 'socure-v5':
      return v5Notification(subject, eventType, opts);
    case 'riskos':
      return riskosNotification(subject, eventType, opts);
  }
}

/**
 * The dialect an event type belongs to when nobody said: the flat contract's four first (so
 * `trigger APP_OPENED` stays what it was), then v5's own types and Socure's test event, then
 * RiskOS's. Undefined for a type nobody knows.
 */
export function dialectOfEventType(eventType: string): Dialect | undefined {
  if ((DOCV_EVENT_TYPES as readonly string[]).includes(eventType)) return 'asyncapi';
  if ((V5_EVENT_TYPES as readonly string[]).includes(eventType) || eventType === TEST_EVENT_TYPE) return 'socure-v5';
  if ((RISKOS_EVENT_TYPES as readonly string[]).includes(eventType)) return 'riskos';
  return undefined;
}
