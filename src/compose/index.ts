// Composition: one configuration in, a store, a pipeline and a dispatcher out. Shared by the
// library (createDocvReceiver), `serve` (startReceiver) and `worker` (startWorker); no HTTP here.
export {
  defaultReceiverConfig,
  DEFAULT_DISPATCH,
  DEFAULT_SOCURE_API,
  DEFAULT_TIMEOUTS,
  type DispatchConfig,
  type ReceiverConfig,
  type ReceiverConfigInput,
  type ServerTimeouts,
  type SocureApiConfig,
  type WebhookAuthConfig,
} from './config.js';
export { ConfigError } from './errors.js';
export { blockMessage, receiverFailureLimiter } from './failure-limiter.js';
export { createReceiverPipeline, type ReceiverPipelineOptions } from './pipeline.js';
export {
  refuseUnknownOptions,
  resolveReceiverConfig,
  validateSocure,
  type DeprecatedReceiverSpellings,
} from './resolve.js';
export { leaseFor, validateDestinationConfig, wireDispatch, type WiredDispatch } from './dispatch-wiring.js';
export { planDelivery, type DeliveryPlan, type PlannedDestination } from './destination-plan.js';
export { reportDisagreements } from './destination-report.js';
