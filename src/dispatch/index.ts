export { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { DeliveryBackpressure, type DeliveryBackpressureOptions } from './backpressure.js';
export {
  burstThrottle,
  DeliveryBacklog,
  loopUtilizationSampler,
  machineBusySampler,
  type BurstThrottleOptions,
  type DispatchAllowance,
} from './load-throttle.js';
export {
  attemptBudget,
  DEFAULT_RETRY_POLICY,
  exponentialSchedule,
  nextAttemptAt,
  type RetryPolicy,
} from './retry-policy.js';
export type { AttemptOutcome, Destination } from './types.js';
export {
  createForwardDestination,
  forwardDestinationName,
  forwardBody,
  type ForwardOptions,
} from './destinations/forward.js';
export { storedForwardUrl, transportOfUrl, type StoredForwardUrl } from './destinations/destination-url.js';
export {
  BROKER_SCHEMES,
  createBrokerDestination,
  type BrokerDestinationOptions,
  type BrokerTransportName,
} from './destinations/brokers/index.js';
export {
  createDecisionFetchDestination,
  DEFAULT_DECISION_PENDING_MAX_MS,
  type DecisionFetchOptions,
  type DecisionFetchStore,
} from './destinations/decision-fetch.js';
export { DEFAULT_SOCURE_API_KIND, isSocureApi, SOCURE_APIS, type SocureApi } from './destinations/socure-result.js';
export {
  HandlerRegistry,
  HANDLERS_DESTINATION,
  HANDLER_DESTINATION_PREFIX,
  type AnyEventHandler,
  type CanonicalEventOf,
  type ErrorHandler,
  type EventHandler,
  type EventTypeName,
  type HandlerContext,
  type HandlerOptions,
} from './destinations/handlers.js';
export { createHttpThread } from './destinations/http-thread.js';
export { inlinePoster, type HttpPost, type HttpPoster } from './destinations/http-post.js';
