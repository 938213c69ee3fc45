// GENERATED from spec/dialects/*.yaml by scripts/generate-contract.ts. Do not edit.
export interface SocureV5Notification {
  /**
   * Unique id of this notification; the receiver deduplicates on it.
   */
  id?: string;
  /**
   * Id of the originating request; equals the transaction token in observed samples.
   */
  origId?: string;
  eventGroup?: string;
  /**
   * The event type again.
   */
  reason?: string;
  /**
   * Sandbox or Production (also seen in lower case).
   */
  environmentName?: string;
  event: {
    /**
     * Open set; see KNOWN_EVENT_TYPES. Types Socure adds later are accepted.
     */
    eventType: string;
    /**
     * Event time, ISO 8601 with milliseconds and Z. Missing in some senders.
     */
    created?: string;
    message?: string;
    referenceId?: string;
    docvTransactionToken?: string;
    /**
     * The other spelling seen in real deliveries.
     */
    docVTransactionToken?: string;
    /**
     * May be a number.
     */
    customerUserId?: string | number;
    userId?: string | number;
    data?: {
      referenceId?: string;
      documentVerification?: {
        /**
         * @maxItems 200
         */
        reasonCodes?: string[];
        decision?: {
          name?: string;
          value?:
            | "accept"
            | "reject"
            | "resubmit"
            | "review"
            | "ACCEPT"
            | "REJECT"
            | "RESUBMIT"
            | "REVIEW"
            | "Accept"
            | "Reject"
            | "Resubmit"
            | "Review";
          [k: string]: unknown | undefined;
        };
        documentType?: {
          [k: string]: unknown | undefined;
        };
        [k: string]: unknown | undefined;
      };
      [k: string]: unknown | undefined;
    };
    [k: string]: unknown | undefined;
  };
  [k: string]: unknown | undefined;
}
export interface RiskosEvent {
  /**
   * Unique id of the event; Socure says to deduplicate on it.
   */
  event_id: string;
  event_at?: string;
  /**
   * evaluation_completed, case_notes_added, or a type added later.
   */
  event_type: string;
  data: {
    eval_id?: string;
    /**
     * The integrator's own id for the evaluation.
     */
    id?: string | number;
    decision?: "ACCEPT" | "REVIEW" | "REJECT" | "accept" | "review" | "reject";
    eval_status?: string;
    notes?:
      | string
      | unknown[]
      | {
          [k: string]: unknown | undefined;
        };
    reviewer_id?: string | number;
    /**
     * @maxItems 200
     */
    data_enrichments?: {
      enrichment_name?: string;
      enrichment_provider?: string;
      status_code?: number | string;
      response?: {
        [k: string]: unknown | undefined;
      };
      [k: string]: unknown | undefined;
    }[];
    [k: string]: unknown | undefined;
  };
  [k: string]: unknown | undefined;
}
