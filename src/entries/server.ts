// `docv-webhooks/server`: the programs behind `docv-webhooks serve` and `docv-webhooks worker`,
// in-process, with the options of docs/configuration.md as an object. Loads fastify and the
// store drivers, which is why it is not in the root entry.
export { startReceiver, type RunningReceiver, type StartReceiverOptions } from '../server/index.js';
export { startWorker, type RunningWorker, type StartWorkerOptions } from '../server/index.js';
export type { Store } from '../store/types.js';
export type { ReloadReport, WorkerReloadReport } from '../server/reload.js';
export type { SourceRouter, SourceSwapReport } from '../server/source-router.js';
export type { SourceConfig, ConfiguredDestination } from '../compose/config.js';
export type { SourceSummary } from '../compose/source-summary.js';
