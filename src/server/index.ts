export { startReceiver, resolveReceiverConfig, ConfigError, type RunningReceiver, type StartReceiverOptions } from './start.js';
export { buildApp, type AppDependencies } from './app.js';
export { defaultReceiverConfig, DEFAULT_TIMEOUTS, type ReceiverConfig, type WebhookAuthConfig, type ServerTimeouts } from './config.js';
export { createLogger } from './logger.js';
export { isLoopbackHost } from './loopback.js';
