// GENERATED from spec/asyncapi.yaml by scripts/generate-contract.ts. Do not edit.
export interface DocvEvent {
  eventType: "APP_OPENED" | "DOCUMENTS_UPLOADED" | "VERIFICATION_COMPLETED" | "SESSION_EXPIRED";
  docvTransactionId: string;
  customerUserId?: string;
  eventTime: string;
  /**
   * Present only on VERIFICATION_COMPLETED.
   */
  decision?: "accept" | "reject" | "resubmit";
  [k: string]: unknown | undefined;
}
