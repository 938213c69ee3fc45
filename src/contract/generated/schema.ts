// GENERATED from spec/asyncapi.yaml by scripts/generate-contract.ts. Do not edit.
export const SPEC_TITLE = "Socure DocV Webhooks";
export const SPEC_VERSION = "1.0";
/** Path of the spec's default server URL: where the receiver listens unless told otherwise. */
export const DEFAULT_WEBHOOK_PATH = "/socure/docv/webhook";
export const DOCV_EVENT_TYPES = ["APP_OPENED","DOCUMENTS_UPLOADED","VERIFICATION_COMPLETED","SESSION_EXPIRED"] as const;
export const DECISIONS = ["accept","reject","resubmit"] as const;
export const MESSAGE_SUMMARIES = {
  "APP_OPENED": "End user has opened the DocV capture flow.",
  "DOCUMENTS_UPLOADED": "End user has uploaded all required documents.",
  "VERIFICATION_COMPLETED": "DocV verification has completed; decision is available via Get A DocV Transaction.",
  "SESSION_EXPIRED": "DocV session expired without completion."
} as const;
export const docvEventSchema = {
  "type": "object",
  "required": [
    "eventType",
    "docvTransactionId",
    "eventTime"
  ],
  "properties": {
    "eventType": {
      "type": "string",
      "enum": [
        "APP_OPENED",
        "DOCUMENTS_UPLOADED",
        "VERIFICATION_COMPLETED",
        "SESSION_EXPIRED"
      ]
    },
    "docvTransactionId": {
      "type": "string"
    },
    "customerUserId": {
      "type": "string"
    },
    "eventTime": {
      "type": "string",
      "format": "date-time"
    },
    "decision": {
      "type": "string",
      "description": "Present only on VERIFICATION_COMPLETED.",
      "enum": [
        "accept",
        "reject",
        "resubmit"
      ]
    }
  }
} as const;
