import type { CanonicalDecision } from '../../contract/index.js';
import { documentVerification } from '../document-verification.js';
import { uuidFromName } from '../ids.js';
import { v5Message } from './socure-v5.js';
import type { DocvSubject, Notification, NotificationOptions } from './types.js';

/**
 * Socure RiskOS deliveries (facts file, "Socure RiskOS deliveries" and "RiskOS events, in more
 * detail"): `{event_id, event_at, event_type, data}`. A DocV session shows up as case notes while
 * it runs and as one `evaluation_completed` with the result.
 */

export const RISKOS_EVENT_TYPES = ['case_notes_added', 'evaluation_completed'] as const;

export type RiskosDecision = 'ACCEPT' | 'REVIEW' | 'REJECT';

/** RiskOS has three outcomes: a document to take again is a case for review, as is `review` itself. */
export function riskosDecision(decision: CanonicalDecision): RiskosDecision {
  switch (decision) {
    case 'accept':
      return 'ACCEPT';
    case 'reject':
      return 'REJECT';
    case 'resubmit':
    case 'review':
      return 'REVIEW';
  }
}

/** The evaluation a transaction runs in: derived from the token, so nothing more is stored. */
export function evaluationIdOf(docvTransactionId: string): string {
  return uuidFromName(`riskos-evaluation:${docvTransactionId}`);
}

/** The integrator's id for the evaluation: its customerUserId when it gave one. */
function integratorId(subject: DocvSubject): string {
  return subject.customerUserId !== undefined ? String(subject.customerUserId) : subject.docvTransactionId;
}

/** Names of the two enrichments a DocV evaluation runs; a receiver finds them by what they hold. */
export const DOCUMENT_REQUEST_ENRICHMENT = 'Socure Document Request';
export const DOCUMENT_VERIFICATION_ENRICHMENT = 'Socure Document Verification';

function envelope(eventType: string, data: Record<string, unknown>, opts: NotificationOptions): Notification {
  return {
    eventType,
    payload: { event_id: opts.notificationId, event_at: new Date(opts.at).toISOString(), event_type: eventType, data },
  };
}

/** Progress of the session as a note on the evaluation: it names the evaluation, not the transaction. */
export function caseNotesAdded(subject: DocvSubject, notes: string, opts: NotificationOptions): Notification {
  return envelope(
    'case_notes_added',
    { eval_id: evaluationIdOf(subject.docvTransactionId), id: integratorId(subject), notes, reviewer_id: 'Webhook' },
    opts,
  );
}

/**
 * The result. The token is in the enrichment that requested the document, the document result in
 * the one that verified it; the evaluation's decision is RiskOS's upper-case word for the outcome.
 */
export function evaluationCompleted(subject: DocvSubject, opts: NotificationOptions): Notification {
  const decision = opts.decision ?? 'accept';
  const withDecision = opts.includeDecision !== false;
  const result = documentVerification({
    docvTransactionId: subject.docvTransactionId,
    documentType: subject.documentType,
    country: subject.country,
    decision: withDecision ? decision : undefined,
    completedAt: new Date(opts.at),
  });
  return envelope(
    'evaluation_completed',
    {
      eval_id: evaluationIdOf(subject.docvTransactionId),
      id: integratorId(subject),
      ...(withDecision ? { decision: riskosDecision(decision) } : {}),
      eval_status: 'closed',
      data_enrichments: [
        {
          enrichment_name: DOCUMENT_REQUEST_ENRICHMENT,
          enrichment_provider: 'Socure',
          status_code: 200,
          response: {
            referenceId: subject.referenceId,
            data: {
              docvTransactionToken: subject.docvTransactionId,
              ...(subject.sessionUrl !== undefined ? { url: subject.sessionUrl } : {}),
            },
          },
        },
        {
          enrichment_name: DOCUMENT_VERIFICATION_ENRICHMENT,
          enrichment_provider: 'Socure',
          status_code: 200,
          response: { referenceId: subject.referenceId, documentVerification: result },
        },
      ],
    },
    opts,
  );
}

/**
 * A notification named either way: by a DocV step (VERIFICATION_COMPLETED is the evaluation's
 * end, any other step a case note with its v5 message) or by a RiskOS type. A type RiskOS may add
 * later goes out in the envelope with the evaluation's ids.
 */
export function riskosNotification(subject: DocvSubject, eventType: string, opts: NotificationOptions): Notification {
  if (eventType === 'VERIFICATION_COMPLETED' || eventType === 'evaluation_completed')
    return evaluationCompleted(subject, opts);
  if (eventType === 'case_notes_added') return caseNotesAdded(subject, v5Message('APP_OPENED'), opts);
  if (/^[A-Z][A-Z0-9_]*$/.test(eventType)) return caseNotesAdded(subject, v5Message(eventType), opts);
  return envelope(eventType, { eval_id: evaluationIdOf(subject.docvTransactionId), id: integratorId(subject) }, opts);
}
