export {
  startReceiver,
  resolveReceiverConfig,
  ConfigError,
  type RunningReceiver,
  type StartReceiverOptions,
} from './start.js';
export { buildApp, type AppDependencies } from './app.js';
export {
  validateDestinationConfig,
  wireDispatch,
  leaseFor,
  type WiredDispatch,
  type ReceiverConfigInput,
} from '../compose/index.js';
export {
  defaultReceiverConfig,
  DEFAULT_TIMEOUTS,
  DEFAULT_DISPATCH,
  DEFAULT_SOCURE_API,
  type ReceiverConfig,
  type WebhookAuthConfig,
  type ServerTimeouts,
  type DispatchConfig,
  type SocureApiConfig,
} from '../compose/index.js';
export { createLogger } from './logger.js';
export { isLoopbackHost } from './loopback.js';
export { startWorker, type RunningWorker, type StartWorkerOptions } from './start-worker.js';
