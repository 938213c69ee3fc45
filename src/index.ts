// `docv-webhooks`: the root entry. What an integrator needs to take DocV webhooks in: the
// receiver, the one-call check, the canonical event and the lifecycle fold. Importing it loads no
// database driver and no HTTP server (test/package/ holds it to that): the store's driver is
// imported when a receiver opens its store. The rest has subpaths of its own: /server (`serve`
// and `worker` in-process), /store (the store and the pipeline without the receiver), /sandbox,
// /testing.
export { createDocvReceiver, type DocvReceiver, type DocvReceiverOptions } from './receiver/index.js';
export type {
  HandlerContext,
  HandlerOptions,
  EventHandler,
  AnyEventHandler,
  ErrorHandler,
  EventTypeName,
  CanonicalEventOf,
} from './dispatch/index.js';
export type { IngestRequest, IngestResponse, IngestOutcome, ReprocessRequest } from './ingest/index.js';
export type { Store } from './store/types.js';
export {
  verifyDocvWebhook,
  DocvWebhookError,
  type DocvWebhookErrorCode,
  type DocvWebhookErrorDetails,
  type VerifyDocvWebhookOptions,
  type WebhookHeaders,
} from './verify/index.js';
export type { HeaderMap } from './auth/headers.js';
export type { AuthCheck } from './auth/types.js';
export { signStandardWebhook } from './auth/index.js';
export { parseDelivery, type DeliveryParseResult, type ParseDeliveryOptions } from './contract/dialects/index.js';
export {
  DIALECTS,
  CANONICAL_DECISIONS,
  KNOWN_EVENT_TYPES,
  type CanonicalEvent,
  type CanonicalDecision,
  type Dialect,
  type KnownEventType,
  type SocureEnvironment,
} from './contract/canonical-event.js';
export { DEFAULT_WEBHOOK_PATH } from './contract/generated/schema.js';
export type { ContractViolation, DocvEvent } from './contract/types.js';
export type { SocureV5Notification, RiskosEvent } from './contract/generated/dialect-types.js';
export {
  foldLifecycle,
  type TransactionLifecycle,
  type Anomaly,
  type AnomalyCode,
  type DecisionSource,
  type LifecycleEvent,
} from './lifecycle/index.js';
