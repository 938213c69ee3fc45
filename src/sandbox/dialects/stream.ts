import type { Dialect, DocvEventType } from '../../contract/index.js';
import { REQUIRED_UPLOADS, type DocumentType } from '../document-data.js';

/**
 * What one thing happening to a transaction is announced as, in DocV's v5 vocabulary (the
 * richest): the sandbox's scenarios move in the four steps of the flat contract, and the v5 and
 * RiskOS streams say more about each. The dialect's builder then renders every step.
 */

/** The transaction was just created: v5 says so before the user has done anything. */
export const CREATED = 'CREATED';
export type Happening = DocvEventType | typeof CREATED;

/** Each required upload is announced by side: a passport page counts as the front. */
const UPLOAD_EVENT: Record<string, string> = {
  license_front: 'DOCUMENT_FRONT_UPLOADED',
  passport: 'DOCUMENT_FRONT_UPLOADED',
  residence_permit: 'DOCUMENT_FRONT_UPLOADED',
  license_back: 'DOCUMENT_BACK_UPLOADED',
  selfie: 'DOCUMENT_SELFIE_UPLOADED',
};

export function docvSteps(dialect: Dialect, happening: Happening, documentType: DocumentType): string[] {
  if (dialect === 'asyncapi') return happening === CREATED ? [] : [happening];
  switch (happening) {
    case CREATED:
      return ['WAITING_FOR_USER_TO_REDIRECT'];
    case 'DOCUMENTS_UPLOADED':
      return [...REQUIRED_UPLOADS[documentType].map((upload) => UPLOAD_EVENT[upload]!), 'DOCUMENTS_UPLOADED'];
    case 'VERIFICATION_COMPLETED':
      // The session ends with the verification; the two have been seen 25 ms apart, in either order.
      return ['VERIFICATION_COMPLETED', 'SESSION_COMPLETE'];
    default:
      return [happening];
  }
}
