import { COMPLETION_EVENT_TYPES, type CanonicalEvent } from '../contract/index.js';

/**
 * Whether accepting `event` calls for a decision fetch, and whether the event's deliveries to the
 * integrator should wait for it:
 * - `none`: no transaction (a test event), or an event that settles nothing;
 * - `fetch`: documents were uploaded; the result may already be there (Login.gov fetches at this
 *   point). Forwards of the upload do not wait: the decision usually comes later;
 * - `fetch-and-wait`: a completion, with or without a decision; its forwards wait a bounded time
 *   for the API's answer. A decision carried by the event is the sender's word only: whoever holds
 *   the webhook secret could have written `accept`, so it is confirmed with the API before the
 *   integrator is told (docs/decisions/0002), at one call per completed session.
 */
export type DecisionFetchRule = 'none' | 'fetch' | 'fetch-and-wait';

export function decisionFetchFor(
  event: Pick<CanonicalEvent, 'eventType' | 'docvTransactionId' | 'test'>,
): DecisionFetchRule {
  if (event.test || event.docvTransactionId === null) return 'none';
  if (COMPLETION_EVENT_TYPES.includes(event.eventType)) return 'fetch-and-wait';
  if (event.eventType === 'DOCUMENTS_UPLOADED') return 'fetch';
  return 'none';
}
