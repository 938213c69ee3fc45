export { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { burstThrottle, machineBusySampler, type BurstThrottleOptions, type DispatchAllowance } from './load-throttle.js';
export { DEFAULT_RETRY_POLICY, exponentialSchedule, nextAttemptAt, type RetryPolicy } from './retry-policy.js';
export type { AttemptOutcome, Destination } from './types.js';
export { createForwardDestination, forwardDestinationName, forwardBody, type ForwardOptions } from './destinations/forward.js';
export { createDecisionFetchDestination, type DecisionFetchOptions } from './destinations/decision-fetch.js';
export { HandlerRegistry, HANDLERS_DESTINATION, type AnyEventHandler, type ErrorHandler, type EventHandler, type HandlerContext } from './destinations/handlers.js';
export { createHttpThread } from './destinations/http-thread.js';
export { inlinePoster, type HttpPost, type HttpPoster } from './destinations/http-post.js';
