import { COMPLETION_EVENT_TYPES, type CanonicalEvent } from '../contract/index.js';

/**
 * Whether accepting `event` calls for a decision fetch, and whether the event's deliveries to the
 * integrator should wait for it:
 * - `none`: no transaction (a test event), or a completion that carries its decision (it is the
 *   decision of record, no call needed);
 * - `fetch`: documents were uploaded; the result may already be there (Login.gov fetches at this
 *   point). Forwards of the upload do not wait: the decision usually comes later;
 * - `fetch-and-wait`: a completion without a decision; its forwards wait a bounded time for it.
 */
export type DecisionFetchRule = 'none' | 'fetch' | 'fetch-and-wait';

export function decisionFetchFor(event: Pick<CanonicalEvent, 'eventType' | 'docvTransactionId' | 'decision' | 'test'>): DecisionFetchRule {
  if (event.test || event.docvTransactionId === null) return 'none';
  if (COMPLETION_EVENT_TYPES.includes(event.eventType)) return event.decision === undefined ? 'fetch-and-wait' : 'none';
  if (event.eventType === 'DOCUMENTS_UPLOADED') return 'fetch';
  return 'none';
}
