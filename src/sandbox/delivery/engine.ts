import { Agent } from 'undici';
import type { Logger } from 'pino';
import type { DeliveryRecord, DeliveryStatus, SandboxStore } from '../store.js';
import { WakeTimer } from '../wake-timer.js';
import { attemptDelivery, type AttemptOutcome } from './attempt.js';
import { deliveryHeaders, type DeliveryAuth } from './headers.js';
import { RateLimit } from './rate-limit.js';
import { DEFAULT_ATTEMPT_TIMEOUT_MS, DEFAULT_RETRY_SCHEDULE_MS, nextRetryDelay } from '../../retry/schedule.js';

export interface DeliveryEngineOptions {
  store: SandboxStore;
  auth: DeliveryAuth;
  retrySchedule?: readonly number[];
  attemptTimeoutMs?: number;
  /** Attempts in flight at once, over all transactions. */
  maxInFlight?: number;
  /** Attempts started per second at most; unlimited when absent. */
  ratePerSecond?: number;
  random?: () => number;
  now?: () => number;
  logger?: Logger;
  /** Told after every attempt: `simulate` counts with it. */
  onAttempt?: (delivery: DeliveryRecord, outcome: AttemptOutcome, next: DeliveryStatus) => void;
}

export const DEFAULT_MAX_IN_FLIGHT = 32;

/**
 * Delivers the queued deliveries in the store: due ones first, each transaction's ordered
 * deliveries one at a time in position order, failures rescheduled on the retry schedule.
 * Everything it knows is in the store, so a new engine on the same file resumes where the last
 * one stopped.
 */
export class DeliveryEngine {
  private readonly store: SandboxStore;
  private readonly schedule: readonly number[];
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly timer: WakeTimer;
  private readonly agent: Agent;
  private readonly rate: RateLimit | undefined;
  private readonly inFlight = new Set<Promise<void>>();
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
    this.agent = new Agent({ connections: this.maxInFlight, keepAliveTimeout: 4_000, connectTimeout: this.timeoutMs });
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
    await this.agent.destroy().catch(() => undefined);
  }

  private tick(): number | undefined {
    if (this.stopped) return undefined;
    const now = this.now();
    this.store.releaseExpiredHolds(now);
    const capacity = this.maxInFlight - this.inFlight.size;
    let rateLimited = false;
    if (capacity > 0) {
      const ready = this.store.readyDeliveries(now, capacity);
      const allowed = this.rate ? this.rate.take(ready.length) : ready.length;
      rateLimited = allowed < ready.length;
      for (const delivery of ready.slice(0, allowed)) {
        if (!this.store.markInFlight(delivery.id)) continue;
        const p = this.deliver(delivery).finally(() => {
          this.inFlight.delete(p);
          this.timer.wake();
        });
        this.inFlight.add(p);
      }
    }
    const nextDue = this.store.nextDeliveryDue(now);
    if (rateLimited && this.rate) {
      const tokenAt = this.rate.nextAt();
      return nextDue === undefined ? tokenAt : Math.min(nextDue, tokenAt);
    }
    return nextDue;
  }

  private async deliver(delivery: DeliveryRecord): Promise<void> {
    const n = delivery.attempts + 1;
    const startedAt = this.now();
    const outcome = await attemptDelivery({
      url: delivery.url,
      body: delivery.body,
      headers: deliveryHeaders(this.opts.auth, delivery.eventId, delivery.body, startedAt),
      timeoutMs: this.timeoutMs,
      dispatcher: this.agent,
      now: this.now,
    });
    // Left in flight in the store: the next engine on this file resets and retries it.
    if (this.abandoned) return;
    const finishedAt = this.now();
    const code = outcome.statusCode;
    let status: DeliveryStatus;
    let notBefore = finishedAt;
    if (code !== undefined && code >= 200 && code < 300) status = 'delivered';
    else if (code === 410) status = 'gone'; // the receiver says this endpoint is gone for good
    else {
      const delay = nextRetryDelay({ schedule: this.schedule, attemptsMade: n, retryAfterMs: outcome.retryAfterMs, random: this.random });
      if (delay === undefined) status = 'failed';
      else {
        status = 'pending';
        notBefore = finishedAt + delay;
      }
    }
    const final = status !== 'pending';
    try {
      this.store.recordAttempt(
        {
          deliveryId: delivery.id,
          n,
          startedAt,
          latencyMs: Math.round(outcome.latencyMs * 100) / 100,
          statusCode: code,
          error: outcome.error,
          retryAfterMs: outcome.retryAfterMs,
          response: outcome.response.slice(0, 512) || undefined,
        },
        { status, notBefore, finishedAt: final ? finishedAt : undefined },
      );
    } catch (err) {
      // The store closed under us (shutdown): the delivery stays in flight and is retried later.
      if (this.stopped) return;
      throw err;
    }
    this.opts.logger?.info(
      {
        deliveryId: delivery.id,
        eventId: delivery.eventId,
        eventType: delivery.eventType,
        docvTransactionId: delivery.docvTransactionId,
        attempt: n,
        statusCode: code,
        error: outcome.error,
        latencyMs: Math.round(outcome.latencyMs),
        next: status,
        retryInMs: status === 'pending' ? notBefore - finishedAt : undefined,
      },
      'delivery attempt',
    );
    this.opts.onAttempt?.(delivery, outcome, status);
  }
}
