import type { Dialect } from '../canonical-event.js';
import { isObject } from './fields.js';

/**
 * The dialect a body announces by its shape, or null when it announces none. Cheap on purpose (a
 * few property tests): it runs on every delivery, the flat one first.
 * - flat: `eventType`, `docvTransactionId` or `eventTime` at the top level;
 * - v5: an `event` object (the envelope, or the bare `{"event":{…}}` form);
 * - RiskOS: `event_type` or `event_id` at the top level.
 */
export function dialectByShape(value: unknown): Dialect | null {
  if (!isObject(value)) return null;
  if (value.eventType !== undefined || value.docvTransactionId !== undefined || value.eventTime !== undefined)
    return 'asyncapi';
  if (isObject(value.event)) return 'socure-v5';
  if (value.event_type !== undefined || value.event_id !== undefined) return 'riskos';
  return null;
}
