import type { CanonicalDecision, Dialect, DocvEventType } from '../contract/index.js';

/**
 * How the simulated end user behaves. `manual` does nothing on its own (a person drives the
 * capture page or a test drives the control endpoints) until the session expires.
 */
export const SCENARIOS = ['accept', 'reject', 'resubmit', 'review', 'expire', 'abandon', 'mixed', 'manual'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** A scenario with the dice already rolled: what one transaction actually does. */
export type ConcreteScenario = Exclude<ScenarioName, 'mixed'>;

export function isScenarioName(value: unknown): value is ScenarioName {
  return typeof value === 'string' && (SCENARIOS as readonly string[]).includes(value);
}

/** One thing the end user does, `atMs` after the transaction was created, before time scaling. */
export interface PlannedStep {
  eventType: DocvEventType;
  decision?: CanonicalDecision;
  atMs: number;
}

/**
 * Realistic pacing of a person on a phone, in unscaled milliseconds since creation. Demos run
 * these at time scale 1; tests shrink them with a time scale such as 0.0001.
 */
export const PACE = {
  appOpenedMs: 20_000,
  documentsUploadedMs: 80_000,
  verificationCompletedMs: 95_000,
  sessionExpiresMs: 30 * 60_000,
} as const;
export type Pace = { [K in keyof typeof PACE]: number };

/**
 * Weights of `mixed`: mostly happy paths, with every unhappy one represented. `review` is left
 * out: the flat contract cannot carry it, and a mixed run must suit every dialect.
 */
const MIXED_WEIGHTS: ReadonlyArray<readonly [ConcreteScenario, number]> = [
  ['accept', 0.5],
  ['reject', 0.15],
  ['resubmit', 0.15],
  ['expire', 0.1],
  ['abandon', 0.1],
];

/** Rolls `mixed` into one concrete scenario; `random` is injected so tests are deterministic. */
export function resolveScenario(name: ScenarioName, random: () => number): ConcreteScenario {
  if (name !== 'mixed') return name;
  let r = random();
  for (const [scenario, weight] of MIXED_WEIGHTS) {
    if (r < weight) return scenario;
    r -= weight;
  }
  return 'accept';
}

/** The decision a completed transaction of this scenario carries; `accept` when the scenario has none. */
export function scenarioOutcome(scenario: ConcreteScenario): CanonicalDecision {
  return scenario === 'reject' || scenario === 'resubmit' || scenario === 'review' ? scenario : 'accept';
}

/**
 * Why a scenario cannot run in a dialect, or undefined when it can: the flat contract's decisions
 * are accept, reject and resubmit, so a `review` outcome needs v5 or RiskOS.
 */
export function scenarioDialectConflict(scenario: ScenarioName, dialect: Dialect): string | undefined {
  return scenario === 'review' && dialect === 'asyncapi'
    ? 'scenario review needs dialect socure-v5 or riskos: the asyncapi contract has no review decision'
    : undefined;
}

export function planScenario(scenario: ConcreteScenario, pace: Pace = PACE): PlannedStep[] {
  switch (scenario) {
    case 'accept':
    case 'reject':
    case 'resubmit':
    case 'review':
      return [
        { eventType: 'APP_OPENED', atMs: pace.appOpenedMs },
        { eventType: 'DOCUMENTS_UPLOADED', atMs: pace.documentsUploadedMs },
        { eventType: 'VERIFICATION_COMPLETED', decision: scenario, atMs: pace.verificationCompletedMs },
      ];
    case 'expire':
      return [
        { eventType: 'APP_OPENED', atMs: pace.appOpenedMs },
        { eventType: 'SESSION_EXPIRED', atMs: pace.sessionExpiresMs },
      ];
    case 'abandon':
    case 'manual':
      return [{ eventType: 'SESSION_EXPIRED', atMs: pace.sessionExpiresMs }];
  }
}

/**
 * A `customerUserId` of the form `sandbox-<scenario>` or `sandbox-<scenario>-<anything>` (e.g.
 * `sandbox-reject-42`) picks the scenario, so an integrator can steer the sandbox from code that
 * only knows the real API.
 */
const MAGIC_CUSTOMER_USER_ID = new RegExp(`^sandbox-(${SCENARIOS.join('|')})(?:[-_:.].*)?$`);

export function scenarioFromCustomerUserId(customerUserId: string | undefined): ScenarioName | undefined {
  if (customerUserId === undefined) return undefined;
  const m = MAGIC_CUSTOMER_USER_ID.exec(customerUserId);
  return m ? (m[1] as ScenarioName) : undefined;
}

/** Milliseconds of wall-clock time for `ms` of scenario time. */
export function scaleDelay(ms: number, timeScale: number): number {
  return Math.max(0, Math.round(ms * timeScale));
}
