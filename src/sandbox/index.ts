export { startSandbox, type SandboxOptions, type SandboxHandle } from './start.js';
export { runSimulation, type SimulationOptions, type SimulationSummary, type SimulationProgress } from './simulate.js';
export { sendEvent, type SendEventOptions, type SendEventResult } from './trigger.js';
export { parseFieldAssignment } from './set-fields.js';
export { SCENARIOS, PACE, scenarioFromCustomerUserId, type ScenarioName } from './scenarios.js';
export { NO_CHAOS, chaosFromText, chaosFromJson, type ChaosSettings, type ChaosOverrides } from './chaos.js';
export {
  DEFAULT_RETRY_SCHEDULE_MS,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  parseRetrySchedule,
  parseDuration,
  formatDuration,
  formatScheduleForHelp,
} from '../retry/schedule.js';
export type { DeliveryAuth } from './delivery/headers.js';
export type { AuthRefusal, AuthRefusalKind } from './delivery/auth-refusal.js';
export type { NetworkFailure } from './delivery/attempt.js';
export type { CreateTransactionInput, EmitOptions } from './service.js';
