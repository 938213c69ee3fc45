// `docv-webhooks/sandbox`: the stand-in DocV service, the load sender (`simulate`) and the
// one-off sender (`trigger`) from code (docs/sandbox.md#from-code).
export { startSandbox, runSimulation, sendEvent, SCENARIOS } from '../sandbox/index.js';
export type * from '../sandbox/index.js';
export type { TransactionRecord } from '../sandbox/records.js';
export type { HostResolver } from '../sandbox/delivery/target-guard.js';
export type { AttemptOutcome } from '../sandbox/delivery/attempt.js';
export type { LatencySummary } from '../sandbox/summary.js';
export type { CanonicalDecision, Dialect } from '../contract/canonical-event.js';
