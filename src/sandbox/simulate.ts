import type { Logger } from 'pino';
import type { Dialect } from '../contract/index.js';
import { AuthRefusalWatch, type AuthRefusal } from './delivery/auth-refusal.js';
import { DeliveryEngine } from './delivery/engine.js';
import { DEFAULT_ATTEMPT_TIMEOUT_MS } from '../retry/schedule.js';
import { scenarioDialectConflict, type ScenarioName } from './scenarios.js';
import { DocvService } from './service.js';
import { resolveChaos, resolveRetrySchedule } from './start.js';
import { MemoryStore } from './memory-store.js';
import type { ChaosOverrides } from './chaos.js';
import { receiverVerdict, summarizeLatencies, type LatencySummary } from './summary.js';

export interface SimulationOptions {
  /** The webhook URL every event is POSTed to. */
  target: string;
  scenario?: ScenarioName;
  /** How every flow's notifications are shaped: asyncapi (the flat contract) unless set. */
  dialect?: Dialect;
  transactions?: number;
  /** Delivery attempts in flight at once. */
  concurrency?: number;
  /** Delivery attempts started per second at most. */
  rate?: number;
  webhookSecret?: string;
  signingSecrets?: readonly string[];
  /** `simulate` defaults to a short schedule (200ms,1s,5s): a load run should end in minutes. */
  retrySchedule?: readonly number[] | string;
  attemptTimeoutMs?: number;
  /** 0 (the default) runs each flow's steps back to back. */
  timeScale?: number;
  chaos?: ChaosOverrides | string;
  /** The whole run stops after this long; what is not delivered by then counts as failed. */
  maxDurationMs?: number;
  random?: () => number;
  logger?: Logger;
  onProgress?: (progress: SimulationProgress) => void;
  progressIntervalMs?: number;
}

export interface SimulationProgress {
  events: number;
  /** Events that reached the target at least once. */
  delivered: number;
  /** Events still on their way. */
  open: number;
  attempts: number;
}

export interface SimulationSummary {
  transactions: number;
  scenarios: Partial<Record<ScenarioName, number>>;
  /** Notifications: v5 and RiskOS say more per step than the flat contract. */
  events: number;
  /** By type as the dialect names it. */
  eventsByType: Record<string, number>;
  /** HTTP requests made, retries and chaos duplicates included. */
  sent: number;
  /** 2xx answers the receiver called new (or any 2xx from a receiver that does not say). */
  accepted: number;
  /** 2xx answers with `"status":"duplicate"`. */
  duplicates: number;
  /** Attempts after a delivery's first. */
  retries: number;
  /** Events that never reached the target (retries exhausted, 410, or the run timed out). */
  failed: number;
  /** Attempts by outcome: the HTTP status, or why there was none (`connection refused`, `timed out`…). */
  responses: Record<string, number>;
  latencyMs: LatencySummary;
  durationMs: number;
  /**
   * CPU time this process spent over the same span as durationMs (user + system, all threads):
   * with the target on the same machine, what the sender took from it.
   */
  cpuMs: number;
  timedOut: boolean;
  /**
   * Set when the run stopped early because the receiver kept refusing our credentials or address
   * (401, 403, or its failure limiter's 429): what it said and which flags to check.
   */
  refused?: AuthRefusal;
}

export const SIMULATE_DEFAULT_RETRY_SCHEDULE = '200ms,1s,5s';
export const SIMULATE_DEFAULT_MAX_DURATION_MS = 10 * 60_000;
const MAX_TRANSACTIONS = 1_000_000;
const CREATE_BATCH = 1_000;
/**
 * Deliveries queued and not attempted yet, per attempt in flight, beyond which the simulated
 * users wait (steps go on once half of them are sent): every flow's events queued at once made
 * a run's live heap, and so each garbage collection, grow with its size. Deliveries waiting
 * for a retry do not count, so a failing receiver does not slow the new flows down.
 */
const BACKLOG_PER_SLOT = 8;
const MIN_BACKLOG = 512;
/** How often the end of the run is checked when the engine did not say it went idle. */
const IDLE_CHECK_MS = 100;

/**
 * Plays `transactions` whole DocV flows straight at a target with the sandbox's delivery engine
 * (same signing, retries, ordering and chaos), then reports what the target made of them.
 * State lives in memory (`MemoryStore`): a load run is not resumed.
 */
export async function runSimulation(opts: SimulationOptions): Promise<SimulationSummary> {
  const n = opts.transactions ?? 100;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TRANSACTIONS)
    throw new RangeError(`transactions must be an integer from 1 to ${MAX_TRANSACTIONS}`);
  const conflict = scenarioDialectConflict(opts.scenario ?? 'mixed', opts.dialect ?? 'asyncapi');
  if (conflict) throw new RangeError(conflict);
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  // Nothing of a load run is resumed, so nothing of it goes to SQLite (see MemoryStore).
  const store = new MemoryStore();
  const latencies: number[] = [];
  const responses: Record<string, number> = {};
  let sent = 0;
  let accepted = 0;
  let duplicates = 0;
  let retries = 0;
  const backlog = Math.max(MIN_BACKLOG, BACKLOG_PER_SLOT * (opts.concurrency ?? 8));
  let stepsHeld = false;
  /** Resolves the main loop's wait: set while it waits. */
  let idle: (() => void) | undefined;
  const auth = { webhookSecret: opts.webhookSecret, signingSecrets: opts.signingSecrets };
  const refusals = new AuthRefusalWatch(auth);
  const engine = new DeliveryEngine({
    store,
    auth,
    retrySchedule: resolveRetrySchedule(opts.retrySchedule ?? SIMULATE_DEFAULT_RETRY_SCHEDULE),
    attemptTimeoutMs: opts.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    maxInFlight: opts.concurrency ?? 8,
    ratePerSecond: opts.rate,
    random: opts.random,
    logger: opts.logger,
    onIdle: () => idle?.(),
    admission: refusals,
    onAttempt: (delivery, outcome) => {
      if (stepsHeld && store.countUnsentDeliveries() < backlog / 2) {
        stepsHeld = false;
        service.wake();
      }
      sent += 1;
      if (delivery.attempts > 0) retries += 1;
      latencies.push(outcome.latencyMs);
      const key = outcome.statusCode === undefined ? (outcome.failure ?? 'network error') : String(outcome.statusCode);
      responses[key] = (responses[key] ?? 0) + 1;
      if (outcome.statusCode !== undefined && outcome.statusCode >= 200 && outcome.statusCode < 300) {
        if (receiverVerdict(outcome.response) === 'duplicate') duplicates += 1;
        else accepted += 1;
      }
      if (refusals.stopped) idle?.();
    },
  });
  // Resolved once: the service asks for it on every event.
  const chaos = resolveChaos(opts.chaos);
  const service = new DocvService({
    store,
    wakeDelivery: () => engine.wake(),
    random: opts.random,
    timeScale: opts.timeScale ?? 0,
    defaultDialect: opts.dialect,
    defaultWebhookUrl: opts.target,
    globalChaos: () => chaos,
    logger: opts.logger,
    holdSteps: () => (stepsHeld = store.countUnsentDeliveries() >= backlog),
  });
  const scenarios: Partial<Record<ScenarioName, number>> = {};
  // Every flow is created before the first delivery, in batches (one commit each were the store SQLite).
  for (let first = 0; first < n; first += CREATE_BATCH) {
    store.atomically(() => {
      for (let i = first; i < Math.min(n, first + CREATE_BATCH); i++) {
        const tx = service.create({ scenario: opts.scenario ?? 'mixed', customerUserId: `sim-${i + 1}` });
        scenarios[tx.scenario] = (scenarios[tx.scenario] ?? 0) + 1;
      }
    });
  }
  engine.start();
  service.start();

  const maxDuration = opts.maxDurationMs ?? SIMULATE_DEFAULT_MAX_DURATION_MS;
  const deadline = started + maxDuration;
  const interval = opts.progressIntervalMs ?? 200;
  let timedOut = false;
  let lastProgress = 0;
  const progress = (): SimulationProgress => {
    const c = store.eventCounts();
    return { events: c.total, delivered: c.delivered, open: c.open, attempts: sent };
  };
  try {
    for (;;) {
      if (store.countPlannedSteps() === 0 && store.countOpenDeliveries() === 0) break;
      // Retrying would only feed the receiver's failure limiter: stop now and say why.
      if (refusals.stopped) break;
      const now = Date.now();
      if (now > deadline) {
        timedOut = true;
        break;
      }
      if (opts.onProgress && now - lastProgress >= interval) {
        lastProgress = now;
        opts.onProgress(progress());
      }
      // The run can only be over once the engine has nothing in flight: wait for that, with a
      // timer for the deadline, the progress reports and steps still to come.
      const sleepMs = Math.min(deadline + 1 - now, IDLE_CHECK_MS, opts.onProgress ? interval : Infinity);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, sleepMs));
        function done(): void {
          clearTimeout(timer);
          idle = undefined;
          resolve();
        }
        idle = done;
      });
    }
    opts.onProgress?.(progress());
  } finally {
    service.stop();
    await engine.stop(Math.min(2_000, opts.attemptTimeoutMs ?? 2_000));
  }
  const counts = store.eventCounts();
  const eventsByType: Record<string, number> = {};
  for (const [type, count] of store.eventTypeCounts()) eventsByType[type] = count;
  store.close();
  return {
    transactions: n,
    scenarios,
    events: counts.total,
    eventsByType,
    sent,
    accepted,
    duplicates,
    retries,
    failed: counts.total - counts.delivered,
    responses,
    latencyMs: summarizeLatencies(latencies),
    durationMs: Date.now() - started,
    cpuMs: cpuMsSince(cpuAtStart),
    timedOut,
    ...(refusals.stopped ? { refused: refusals.stopped } : {}),
  };
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return Math.round((used.user + used.system) / 100) / 10;
}
