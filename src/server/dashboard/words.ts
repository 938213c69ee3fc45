import type { AnomalyCode } from '../../lifecycle/index.js';

/**
 * What the codes the store keeps mean, in sentences for the people on call. The lifecycle's own
 * message says what was seen (which decisions, which values); these say why it matters.
 */
export const ANOMALY_EXPLANATIONS: Readonly<Record<AnomalyCode, string>> = {
  conflicting_decisions:
    'Completions of this transaction carried different decisions. The more cautious decision is kept; check which one your system acted on.',
  completed_and_expired:
    'The transaction both completed and expired: Socure sent a completion and a session expiry. The completion wins the status.',
  customer_user_id_changed:
    'Events of this transaction named different customer user ids: the transaction may have been linked to the wrong user.',
  decision_mismatch:
    'The decision fetched from Socure (Get A DocV Transaction) differs from what the webhook events said. The fetched decision is kept.',
  dialect_mismatch:
    'Events of this transaction came in different formats (flat contract, Socure v5, RiskOS): two integrations may be sending the same transaction.',
  environment_mismatch:
    'Events of this transaction named different Socure environments (Sandbox and Production): a sandbox sender may be pointed at production.',
  decision_unavailable:
    'No webhook carried a decision and fetching it from Socure failed: the transaction has no decision until one arrives.',
};

/**
 * Why a delivery was quarantined, by the ingest outcome it got (ingest/types.ts). An outcome not
 * listed (added later) is shown as it is.
 */
export const QUARANTINE_REASONS: Readonly<Record<string, string>> = {
  invalid:
    'The body is JSON but fits no dialect of the contract (a required field missing or of the wrong type): the sender got 422 with the errors below.',
  conflict:
    'The same delivery id (webhook-id) arrived before with a different body: the sender got 409. Both versions are kept, the first as the event.',
  bad_request: 'The body is not JSON, or could not be read: the sender got 400.',
  too_large:
    'The body was larger than the limit (256 KiB by default): the sender got 413; what was read up to the limit is kept.',
  unsupported_media_type: 'The content type was not JSON: the sender got 415.',
  unavailable: 'The store could not take the event at that moment: the sender got 503 and should have retried.',
};

export function quarantineReasonInWords(reason: string): string {
  return Object.hasOwn(QUARANTINE_REASONS, reason) ? QUARANTINE_REASONS[reason]! : reason;
}
