import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { Dialect } from '../contract/index.js';
import { chaosFromText, type ChaosOverrides } from './chaos.js';
import { DeliveryEngine } from './delivery/engine.js';
import { systemResolver, webhookUrlProblem, type HostResolver, type TargetGuard } from './delivery/target-guard.js';
import {
  createTargetPolicy,
  DEFAULT_ALLOWED_TARGETS,
  isLoopbackAddress,
  judgeTargetUrl,
  refusalMessage,
} from './delivery/target-policy.js';
import { badRequest } from './errors.js';
import { DEFAULT_ATTEMPT_TIMEOUT_MS, DEFAULT_RETRY_SCHEDULE_MS, parseRetrySchedule } from '../retry/schedule.js';
import { newApiKey } from './ids.js';
import { scenarioDialectConflict, type ScenarioName } from './scenarios.js';
import { buildSandboxApp } from './server.js';
import { DocvService, type CreateTransactionInput } from './service.js';
import { sqliteFileFromUrl } from '../store/database-url.js';
import type { TransactionRecord } from './records.js';
import { SandboxStore } from './store.js';

export interface SandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback unless told otherwise. */
  host?: string;
  /** `sqlite:<file>` keeps state across restarts; the default is in memory. */
  db?: string;
  /** The key clients send as `Authorization: SocureApiKey <key>`; generated when absent. */
  apiKey?: string;
  defaultWebhookUrl?: string;
  /**
   * Where deliveries may go (they carry the receiver's secrets): `host:port`, an address or CIDR,
   * a CIDR with `:port`. Loopback only (127.0.0.0/8, ::1) when absent.
   */
  allowTargets?: readonly string[];
  /** Injected in tests: what a host name resolves to, at creation and at every connection. */
  resolveHost?: HostResolver;
  /** Base of `sessionUrl` when the sandbox is reached at another address than it listens on. */
  publicUrl?: string;
  webhookSecret?: string;
  signingSecrets?: readonly string[];
  /** Delays between attempts, as milliseconds or text such as `50ms,100ms`. */
  retrySchedule?: readonly number[] | string;
  attemptTimeoutMs?: number;
  /** Wall-clock time per unit of scenario time: 1 is life-like, 0.001 turns minutes into tens of milliseconds. */
  timeScale?: number;
  /** The scenario of transactions that name none: `manual` unless set. */
  defaultScenario?: ScenarioName;
  /** The dialect of transactions that name none: `asyncapi` (the flat contract) unless set. */
  defaultDialect?: Dialect;
  /** Global chaos, as an object or text such as `duplicates=0.2,outOfOrder=1`. */
  chaos?: ChaosOverrides | string;
  maxInFlight?: number;
  /** A pino level; `silent` (the default) logs nothing. */
  logLevel?: string;
  logger?: Logger;
  /** Injected for deterministic tests: scenario rolls, chaos and jitter. */
  random?: () => number;
}

export interface SandboxHandle {
  /** http://127.0.0.1:PORT */
  url: string;
  apiKey: string;
  /** True when no key was given and one was made up: callers print it. */
  apiKeyGenerated: boolean;
  /** Creates a transaction without HTTP (what `POST /api/3.0/EmailAuthScore` does). */
  createTransaction(input: CreateTransactionInput): TransactionRecord & { sessionUrl: string };
  /**
   * Resolves once no delivery is open and no scenario step is due within `timeoutMs` (a manual
   * transaction's expiry half an hour away does not count); rejects after `timeoutMs`.
   */
  settled(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function resolveChaos(chaos: ChaosOverrides | string | undefined): ChaosOverrides {
  if (chaos === undefined) return {};
  if (typeof chaos !== 'string') return chaos;
  const parsed = chaosFromText(chaos);
  if (!parsed.ok) throw new RangeError(parsed.reason);
  return parsed.value;
}

export function resolveRetrySchedule(schedule: readonly number[] | string | undefined): readonly number[] {
  if (schedule === undefined) return DEFAULT_RETRY_SCHEDULE_MS;
  return typeof schedule === 'string' ? parseRetrySchedule(schedule) : schedule;
}

/** Polls `done` every few milliseconds until it is true or `timeoutMs` has passed. */
export async function waitUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * One warning line for each way the receiver's secrets can leave this machine's loopback: signed
 * deliveries ordered by anyone who reaches the API, or sent to targets beyond loopback. The
 * secrets themselves are never named.
 */
function warnAboutSecrets(logger: Logger, options: SandboxOptions, targets: TargetGuard, listening: string): void {
  const signs = options.webhookSecret !== undefined || (options.signingSecrets?.length ?? 0) > 0;
  if (!signs) return;
  if (!isLoopbackAddress(listening)) {
    logger.warn(
      { listening },
      "the sandbox listens beyond loopback and signs deliveries with the receiver's secrets: anyone with its API key can order events the receiver will accept; never give the sandbox production secrets",
    );
  }
  if (targets.policy.reachesBeyondLoopback) {
    logger.warn(
      { allowTargets: options.allowTargets },
      "--allow-target allows targets beyond loopback, and deliveries carry the receiver's secrets: anyone with the API key can have them sent there; never give the sandbox production secrets",
    );
  }
}

/** Starts the DocV sandbox: its store, the simulated end users, the delivery engine and the HTTP API. */
export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  const conflict = scenarioDialectConflict(options.defaultScenario ?? 'manual', options.defaultDialect ?? 'asyncapi');
  if (conflict) throw new RangeError(`default ${conflict}`);
  // An empty key, or one with a space in it, could never be sent: the API would be shut to everyone.
  if (options.apiKey !== undefined && !/^\S+$/.test(options.apiKey))
    throw new RangeError('the API key must be one word: not empty, no spaces');
  const targets: TargetGuard = {
    policy: createTargetPolicy(options.allowTargets ?? DEFAULT_ALLOWED_TARGETS),
    resolve: options.resolveHost ?? systemResolver,
  };
  if (options.defaultWebhookUrl !== undefined) {
    const problem = await webhookUrlProblem(options.defaultWebhookUrl, '--default-webhook-url', targets);
    if (problem) throw new RangeError(problem);
  }
  // stderr: stdout belongs to the CLI's own output (the URL, the generated key).
  const logger = options.logger ?? pino({ level: options.logLevel ?? 'silent' }, pino.destination(2));
  const store = new SandboxStore(sqliteFileFromUrl(options.db ?? 'sqlite::memory:'));
  let globalChaos = resolveChaos(options.chaos);
  const apiKey = options.apiKey ?? newApiKey();
  const engine = new DeliveryEngine({
    store,
    auth: { webhookSecret: options.webhookSecret, signingSecrets: options.signingSecrets },
    targets,
    retrySchedule: resolveRetrySchedule(options.retrySchedule),
    attemptTimeoutMs: options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    maxInFlight: options.maxInFlight,
    random: options.random,
    // Retries keep time with the rest of the transaction: --time-scale or its own timeScale.
    timeScaleOf: (d) => store.getTransaction(d.docvTransactionId)?.timeScale ?? options.timeScale ?? 1,
    logger,
  });
  let publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const sessionUrl = (token: string) => `${publicUrl ?? ''}/capture/${encodeURIComponent(token)}`;
  const service = new DocvService({
    store,
    wakeDelivery: () => engine.wake(),
    random: options.random,
    timeScale: options.timeScale,
    defaultScenario: options.defaultScenario,
    defaultDialect: options.defaultDialect,
    defaultWebhookUrl: options.defaultWebhookUrl,
    // Known once the server listens; nothing is announced before that.
    sessionUrl,
    globalChaos: () => globalChaos,
    logger,
  });
  const app = buildSandboxApp({
    service,
    store,
    apiKey,
    chaos: { get: () => globalChaos, set: (c) => (globalChaos = c) },
    publicUrl: () => publicUrl ?? '',
    hasDefaultWebhookUrl: options.defaultWebhookUrl !== undefined,
    webhookUrlProblem: (url, field) => webhookUrlProblem(url, field, targets),
    wakeDelivery: () => engine.wake(),
    logger,
  });
  try {
    await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (err) {
    store.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  publicUrl ??= url;
  warnAboutSecrets(logger, options, targets, address.address);
  service.start();
  engine.start();

  let closed: Promise<void> | undefined;
  return {
    url,
    apiKey,
    apiKeyGenerated: options.apiKey === undefined,
    createTransaction(input) {
      // Without DNS (this call is synchronous): an address or the scheme is judged now, a host name at every connection.
      const verdict = input.webhookUrl === undefined ? undefined : judgeTargetUrl(input.webhookUrl, targets.policy);
      if (verdict?.kind === 'refused') throw badRequest(refusalMessage('webhookUrl', verdict));
      const tx = service.create(input);
      return { ...tx, sessionUrl: sessionUrl(tx.sessionToken) };
    },
    settled: (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      return waitUntil(
        () => {
          const nextStep = store.nextStepDue();
          return (nextStep === undefined || nextStep > deadline) && store.countOpenDeliveries() === 0;
        },
        timeoutMs,
        'the sandbox to settle',
      );
    },
    close() {
      closed ??= (async () => {
        service.stop();
        await engine.stop();
        await app.close();
        store.close();
      })();
      return closed;
    },
  };
}
