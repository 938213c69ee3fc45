// GENERATED from spec/dialects/*.yaml by scripts/generate-contract.ts. Do not edit.
/** spec/dialects/socure-v5.yaml: the socure-v5 dialect. */
export const socureV5NotificationSchema = {
  "title": "SocureV5Notification",
  "type": "object",
  "required": [
    "event"
  ],
  "properties": {
    "id": {
      "description": "Unique id of this notification; the receiver deduplicates on it.",
      "type": "string",
      "minLength": 1,
      "maxLength": 256
    },
    "origId": {
      "description": "Id of the originating request; equals the transaction token in observed samples.",
      "type": "string",
      "minLength": 1,
      "maxLength": 256
    },
    "eventGroup": {
      "type": "string"
    },
    "reason": {
      "description": "The event type again.",
      "type": "string"
    },
    "environmentName": {
      "description": "Sandbox or Production (also seen in lower case).",
      "type": "string",
      "maxLength": 64
    },
    "event": {
      "type": "object",
      "required": [
        "eventType"
      ],
      "properties": {
        "eventType": {
          "description": "Open set; see KNOWN_EVENT_TYPES. Types Socure adds later are accepted.",
          "type": "string",
          "minLength": 1,
          "maxLength": 64,
          "pattern": "^[A-Za-z][A-Za-z0-9_.:-]*$"
        },
        "created": {
          "description": "Event time, ISO 8601 with milliseconds and Z. Missing in some senders.",
          "type": "string",
          "format": "date-time"
        },
        "message": {
          "type": "string"
        },
        "referenceId": {
          "type": "string",
          "maxLength": 256
        },
        "docvTransactionToken": {
          "type": "string",
          "minLength": 1,
          "maxLength": 256
        },
        "docVTransactionToken": {
          "description": "The other spelling seen in real deliveries.",
          "type": "string",
          "minLength": 1,
          "maxLength": 256
        },
        "customerUserId": {
          "description": "May be a number.",
          "type": [
            "string",
            "number"
          ]
        },
        "userId": {
          "type": [
            "string",
            "number"
          ]
        },
        "data": {
          "type": "object",
          "properties": {
            "referenceId": {
              "type": "string"
            },
            "documentVerification": {
              "type": "object",
              "properties": {
                "reasonCodes": {
                  "type": "array",
                  "maxItems": 200,
                  "items": {
                    "type": "string",
                    "maxLength": 64
                  }
                },
                "decision": {
                  "type": "object",
                  "properties": {
                    "name": {
                      "type": "string",
                      "maxLength": 64
                    },
                    "value": {
                      "type": "string",
                      "enum": [
                        "accept",
                        "reject",
                        "resubmit",
                        "review",
                        "ACCEPT",
                        "REJECT",
                        "RESUBMIT",
                        "REVIEW",
                        "Accept",
                        "Reject",
                        "Resubmit",
                        "Review"
                      ]
                    }
                  }
                },
                "documentType": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    }
  }
} as const;
/** spec/dialects/riskos.yaml: the riskos dialect. */
export const riskosEventSchema = {
  "title": "RiskosEvent",
  "type": "object",
  "required": [
    "event_id",
    "event_type",
    "data"
  ],
  "properties": {
    "event_id": {
      "description": "Unique id of the event; Socure says to deduplicate on it.",
      "type": "string",
      "minLength": 1,
      "maxLength": 256
    },
    "event_at": {
      "type": "string",
      "format": "date-time"
    },
    "event_type": {
      "description": "evaluation_completed, case_notes_added, or a type added later.",
      "type": "string",
      "minLength": 1,
      "maxLength": 64,
      "pattern": "^[A-Za-z][A-Za-z0-9_.:-]*$"
    },
    "data": {
      "type": "object",
      "properties": {
        "eval_id": {
          "type": "string",
          "minLength": 1,
          "maxLength": 256
        },
        "id": {
          "description": "The integrator's own id for the evaluation.",
          "type": [
            "string",
            "number"
          ]
        },
        "decision": {
          "type": "string",
          "enum": [
            "ACCEPT",
            "REVIEW",
            "REJECT",
            "accept",
            "review",
            "reject"
          ]
        },
        "eval_status": {
          "type": "string"
        },
        "notes": {
          "type": [
            "string",
            "array",
            "object"
          ]
        },
        "reviewer_id": {
          "type": [
            "string",
            "number"
          ]
        },
        "data_enrichments": {
          "type": "array",
          "maxItems": 200,
          "items": {
            "type": "object",
            "properties": {
              "enrichment_name": {
                "type": "string"
              },
              "enrichment_provider": {
                "type": "string"
              },
              "status_code": {
                "type": [
                  "integer",
                  "string"
                ]
              },
              "response": {
                "type": "object"
              }
            }
          }
        }
      }
    }
  }
} as const;
