// The public library API of docv-webhooks.
export * from './contract/index.js';
export { createDocvReceiver, type DocvReceiver, type DocvReceiverOptions } from './receiver/index.js';
export { createNodeHandler } from './adapters/node.js';
export { createFetchHandler } from './adapters/web.js';
export {
  createInboundAuth,
  createStandardWebhookVerifier,
  signStandardWebhook,
  WebhookVerificationError,
  type InboundAuth,
  type InboundAuthConfig,
} from './auth/index.js';
export { foldLifecycle, applyEvent, startLifecycle, STATUS_RANK, type TransactionLifecycle, type Anomaly, type LifecycleEvent } from './lifecycle/index.js';
export { openStore, type Store, type TransactionView, type StoredEvent, type OutboxDelivery } from './store/index.js';
export { createIngestPipeline, type IngestRequest, type IngestResponse } from './ingest/index.js';
export { startReceiver, startWorker, type RunningReceiver, type StartReceiverOptions } from './server/index.js';
export type { HandlerContext, EventHandler, AnyEventHandler, ErrorHandler } from './dispatch/index.js';
export { startSandbox, runSimulation, sendEvent, type SandboxOptions, type SandboxHandle, type SimulationOptions, type SimulationSummary } from './sandbox/index.js';
