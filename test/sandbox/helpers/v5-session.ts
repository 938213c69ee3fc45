/** The v5 notifications of a completed session with a two-sided document and a selfie, in the order they are sent. */
export const V5_COMPLETED_SESSION = [
  'WAITING_FOR_USER_TO_REDIRECT',
  'APP_OPENED',
  'DOCUMENT_FRONT_UPLOADED',
  'DOCUMENT_BACK_UPLOADED',
  'DOCUMENT_SELFIE_UPLOADED',
  'DOCUMENTS_UPLOADED',
  'VERIFICATION_COMPLETED',
  'SESSION_COMPLETE',
] as const;
