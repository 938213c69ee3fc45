import { Agent } from 'undici';
import type { Logger } from 'pino';
import type { SandboxState } from '../state.js';
import type { AttemptRecord, DeliveryRecord, DeliveryStatus } from '../records.js';
import { WakeTimer } from '../wake-timer.js';
import { attemptDelivery, refusedTargetOutcome, type AttemptOutcome } from './attempt.js';
import { deliveryHeaders, type DeliveryAuth } from './headers.js';
import { RateLimit } from './rate-limit.js';
import { guardedAgent, type TargetGuard } from './target-guard.js';
import { judgeTargetUrl } from './target-policy.js';
import {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_RETRY_SCHEDULE_MS,
  isGone,
  isRefusal,
  nextRetryDelay,
} from '../../retry/schedule.js';

export interface DeliveryEngineOptions {
  store: SandboxState;
  auth: DeliveryAuth;
  retrySchedule?: readonly number[];
  attemptTimeoutMs?: number;
  /** Attempts in flight at once, over all transactions. */
  maxInFlight?: number;
  /** Attempts started per second at most; unlimited when absent. */
  ratePerSecond?: number;
  random?: () => number;
  now?: () => number;
  /**
   * The time scale of a delivery's transaction: a retry waits the schedule's delay (or the
   * `Retry-After`) times it, see `scaleRetryDelay`. Unscaled when absent, as in `simulate`,
   * whose flows run at time scale 0 but whose `--retry-schedule` means what it says.
   */
  timeScaleOf?: (delivery: DeliveryRecord) => number;
  logger?: Logger;
  /**
   * Where deliveries may go (the sandbox's `--allow-target`): every URL is judged before an
   * attempt, and every connection made to an address just checked. Anywhere when absent, as in
   * `simulate`, whose one target the operator typed.
   */
  targets?: TargetGuard;
  /** Told after every attempt: `simulate` counts with it. */
  onAttempt?: (delivery: DeliveryRecord, outcome: AttemptOutcome, next: DeliveryStatus) => void;
  /** Told when a tick leaves nothing in flight: `simulate` looks then whether its run is over, instead of polling. */
  onIdle?: () => void;
  /**
   * Told every answer as it arrives, before the next attempts start, and asked how many may be in
   * flight: `simulate` holds back (see AuthRefusalWatch) while the receiver refuses our credentials.
   */
  admission?: Admission;
}

export interface Admission {
  observe(outcome: AttemptOutcome): void;
  /** Attempts that may be in flight now, out of `maxInFlight`. */
  capacity(maxInFlight: number): number;
}

export const DEFAULT_MAX_IN_FLIGHT = 32;
/** However small the time scale, a retry waits at least this long (or the unscaled delay if shorter): a failing receiver is not hammered. */
export const MIN_SCALED_RETRY_MS = 10;

/** A retry delay in scenario time as wall-clock time: 5 s at time scale 0.01 is 50 ms. */
export function scaleRetryDelay(ms: number, timeScale: number): number {
  if (timeScale === 1) return ms;
  return Math.max(Math.round(ms * timeScale), Math.min(ms, MIN_SCALED_RETRY_MS));
}

/** Ready deliveries fetched per query (at least the free capacity). */
const READY_BATCH = 256;

/** An attempt that has its answer, waiting for the next tick to record it with the others. */
interface Finished {
  delivery: DeliveryRecord;
  outcome: AttemptOutcome;
  attempt: AttemptRecord;
  next: { status: DeliveryStatus; notBefore: number; finishedAt?: number };
  /** For the log line: how long until the retry. */
  retryInMs?: number;
}

/**
 * Delivers the queued deliveries in the store: due ones first, each transaction's ordered
 * deliveries one at a time in position order, failures worth retrying rescheduled on the
 * (time-scaled) retry schedule, refusals final at once so they hold nothing back. Everything it knows is in the store, so a new engine on the same file resumes where the last
 * one stopped.
 *
 * Group commit: each tick records every attempt that finished since the last one, releases
 * holds, and marks the next deliveries in flight, all in one SQLite transaction. An answer that
 * arrived but is not recorded yet leaves its delivery `in_flight`, which blocks the
 * transaction's later deliveries and, after a crash, is reset and sent again: at least once.
 */
export class DeliveryEngine {
  private readonly store: SandboxState;
  private readonly schedule: readonly number[];
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly timer: WakeTimer;
  private readonly agent: Agent;
  private readonly rate: RateLimit | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Answers not yet recorded: the next tick commits them together. */
  private finished: Finished[] = [];
  /**
   * Deliveries the last query found ready and not started yet. Taken before querying again: the
   * query has to step over every delivery waiting behind one in flight, so it runs once per
   * batch rather than once per tick. An entry cannot go stale in a way that matters: deliveries
   * only ever move to a later position, so nothing new can come before one in its transaction,
   * and `markInFlight` only takes it if it is still pending.
   */
  private ready: DeliveryRecord[] = [];
  private stopped = false;
  /** Set once the connections are torn down: attempts cut short by that are not the receiver's doing. */
  private abandoned = false;

  constructor(private readonly opts: DeliveryEngineOptions) {
    this.store = opts.store;
    this.schedule = opts.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS;
    this.timeoutMs = opts.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.rate = opts.ratePerSecond === undefined ? undefined : new RateLimit(opts.ratePerSecond, this.now);
    const agentOptions = { connections: this.maxInFlight, keepAliveTimeout: 4_000, connectTimeout: this.timeoutMs };
    this.agent = opts.targets ? guardedAgent(opts.targets, agentOptions) : new Agent(agentOptions);
    this.timer = new WakeTimer(
      () => this.tick(),
      (err) => this.opts.logger?.error({ err }, 'delivery engine tick failed'),
      1_000,
      this.now,
    );
  }

  start(): void {
    const resumed = this.store.resetInFlight();
    if (resumed > 0) this.opts.logger?.info({ resumed }, 'resuming deliveries that were in flight at the last stop');
    this.timer.wake();
  }

  /** New deliveries were queued, or something finished. */
  wake(): void {
    this.timer.wake();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops starting attempts and waits (up to `graceMs`) for those in flight. Attempts still
   * running after that are abandoned; their deliveries stay `in_flight` in the store and are
   * retried by the next engine, which is what "at least once" allows.
   */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopped = true;
    this.timer.stop();
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, graceMs);
      }),
    ]);
    if (timeout) clearTimeout(timeout);
    this.abandoned = true;
    const batch = this.finished;
    this.finished = [];
    try {
      this.store.recordAttempts(batch);
      for (const f of batch) this.report(f);
    } catch (err) {
      // The store closed under us: those deliveries stay in flight and are retried later.
      this.opts.logger?.warn({ err }, 'could not record the last attempts before stopping');
    }
    await this.agent.destroy().catch(() => undefined);
  }

  private tick(): number | undefined {
    if (this.stopped) return undefined;
    const now = this.now();
    let rateLimited = false;
    const started: DeliveryRecord[] = [];
    const batch = this.finished;
    this.finished = [];
    try {
      this.store.atomically(() => {
        this.store.recordAttempts(batch);
        this.store.releaseExpiredHolds(now);
        rateLimited = this.startReady(now, started);
      });
    } catch (err) {
      // Nothing of it was committed: record those answers next time.
      this.finished = batch.concat(this.finished);
      throw err;
    }
    // Told only once committed: what observers count is what a restart would find.
    for (const f of batch) this.report(f);
    for (const delivery of started) {
      const p = this.deliver(delivery).finally(() => {
        this.inFlight.delete(p);
        this.timer.wake();
      });
      this.inFlight.add(p);
    }
    if (this.inFlight.size === 0) this.opts.onIdle?.();
    // Every slot taken: the next answer wakes the engine anyway, so the next due time can wait
    // (and must: a due delivery held back by the admission would otherwise run the tick again at once).
    if (this.inFlight.size >= this.capacity()) return undefined;
    const nextDue = this.store.nextDeliveryDue(now);
    if (rateLimited && this.rate) {
      const tokenAt = this.rate.nextAt();
      return nextDue === undefined ? tokenAt : Math.min(nextDue, tokenAt);
    }
    return nextDue;
  }

  /**
   * Marks ready deliveries in flight up to the free capacity (and the rate), taking them from
   * `ready` and querying the store only when that is empty. Returns whether the rate held any back.
   */
  private startReady(now: number, started: DeliveryRecord[]): boolean {
    let capacity = this.capacity() - this.inFlight.size;
    let queried = false;
    while (capacity > 0) {
      if (this.ready.length === 0) {
        if (queried) break;
        this.ready = this.store.readyDeliveries(now, Math.max(capacity, READY_BATCH));
        queried = true;
        if (this.ready.length === 0) break;
      }
      const want = Math.min(capacity, this.ready.length);
      const allowed = this.rate ? this.rate.take(want) : want;
      for (const delivery of this.ready.splice(0, allowed)) {
        // Guarded on `pending`: whatever changed since the query, nothing is sent twice at once.
        if (this.store.markInFlight(delivery.id)) {
          started.push(delivery);
          capacity -= 1;
        }
      }
      if (allowed < want) return true;
    }
    return false;
  }

  private capacity(): number {
    return this.opts.admission?.capacity(this.maxInFlight) ?? this.maxInFlight;
  }

  private report(f: Finished): void {
    const { delivery, outcome, attempt, next, retryInMs } = f;
    this.opts.logger?.info(
      {
        deliveryId: delivery.id,
        eventId: delivery.eventId,
        eventType: delivery.eventType,
        docvTransactionId: delivery.docvTransactionId,
        attempt: attempt.n,
        statusCode: outcome.statusCode,
        error: outcome.error,
        latencyMs: Math.round(outcome.latencyMs),
        next: next.status,
        retryInMs,
      },
      'delivery attempt',
    );
    this.opts.onAttempt?.(delivery, outcome, next.status);
  }

  private async deliver(delivery: DeliveryRecord): Promise<void> {
    const n = delivery.attempts + 1;
    const startedAt = this.now();
    // A URL stored under a wider --allow-target (or an older version) is refused before any
    // header is signed; a host name is judged again, by what it resolves to, as it is connected to.
    const verdict = this.opts.targets ? judgeTargetUrl(delivery.url, this.opts.targets.policy) : undefined;
    const outcome =
      verdict?.kind === 'refused'
        ? refusedTargetOutcome(verdict.reason)
        : await attemptDelivery({
            url: delivery.url,
            body: delivery.body,
            headers: deliveryHeaders(this.opts.auth, delivery.eventId, delivery.body, startedAt),
            timeoutMs: this.timeoutMs,
            dispatcher: this.agent,
            now: this.now,
          });
    // Left in flight in the store: the next engine on this file resets and retries it.
    if (this.abandoned) return;
    this.opts.admission?.observe(outcome);
    const finishedAt = this.now();
    const code = outcome.statusCode;
    const { status, notBefore } = this.afterAttempt(delivery, outcome, n, finishedAt);
    const final = status !== 'pending';
    this.finished.push({
      delivery,
      outcome,
      attempt: {
        deliveryId: delivery.id,
        n,
        startedAt,
        latencyMs: Math.round(outcome.latencyMs * 100) / 100,
        statusCode: code,
        error: outcome.error,
        retryAfterMs: outcome.retryAfterMs,
        response: outcome.response.slice(0, 512) || undefined,
      },
      next: { status, notBefore, finishedAt: final ? finishedAt : undefined },
      retryInMs: status === 'pending' ? notBefore - finishedAt : undefined,
    });
  }

  /** Where a delivery goes after attempt `n`: delivered, final, or pending again after the scaled retry delay. */
  private afterAttempt(
    delivery: DeliveryRecord,
    outcome: AttemptOutcome,
    n: number,
    finishedAt: number,
  ): { status: DeliveryStatus; notBefore: number } {
    const code = outcome.statusCode;
    if (code !== undefined && code >= 200 && code < 300) return { status: 'delivered', notBefore: finishedAt };
    // The receiver says this endpoint is gone for good.
    if (isGone(code)) return { status: 'gone', notBefore: finishedAt };
    // The sandbox itself will not send there: trying again would only be refused again.
    if (outcome.failure === 'target not allowed') return { status: 'rejected', notBefore: finishedAt };
    // Retried, it would be refused again and hold the transaction's later events back meanwhile.
    if (isRefusal(code)) return { status: 'rejected', notBefore: finishedAt };
    const delay = nextRetryDelay({
      schedule: this.schedule,
      // Counted from the last manual retry, which starts the schedule over.
      attemptsMade: n - delivery.retryFrom,
      retryAfterMs: outcome.retryAfterMs,
      random: this.random,
    });
    if (delay === undefined) return { status: 'failed', notBefore: finishedAt };
    return {
      status: 'pending',
      notBefore: finishedAt + scaleRetryDelay(delay, this.opts.timeScaleOf?.(delivery) ?? 1),
    };
  }
}
