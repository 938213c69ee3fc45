import type { CanonicalDecision } from '../contract/index.js';
import type { DocvSubject } from './dialects/index.js';
import { documentVerification, type DocumentVerification } from './document-verification.js';

/**
 * The answer of Socure's ID+ call for the document result (`POST /api/3.0/EmailAuthScore` with
 * module `documentverification`), as the facts file's "The document-verification result"
 * describes it. Before the verification has a decision the answer is still 200, without
 * `documentVerification.decision`: that is how a receiver learns to ask again later.
 */
export interface IdPlusResult {
  /** This call's id. */
  referenceId: string;
  /** The id of the call that created the transaction. */
  previousReferenceId: string;
  documentVerification: DocumentVerification | { reasonCodes: string[] };
  customerProfile: { customerUserId?: string | number; userId?: string };
}

export function idPlusResult(input: {
  subject: DocvSubject;
  /** Undefined while the verification is not done. */
  decision: CanonicalDecision | undefined;
  completedAt: Date;
  referenceId: string;
}): IdPlusResult {
  const { subject } = input;
  return {
    referenceId: input.referenceId,
    previousReferenceId: subject.referenceId,
    documentVerification:
      input.decision === undefined
        ? { reasonCodes: [] }
        : documentVerification({
            docvTransactionId: subject.docvTransactionId,
            documentType: subject.documentType,
            country: subject.country,
            decision: input.decision,
            completedAt: input.completedAt,
          }),
    customerProfile: {
      ...(subject.customerUserId !== undefined ? { customerUserId: subject.customerUserId } : {}),
      ...(subject.userId !== undefined ? { userId: subject.userId } : {}),
    },
  };
}
