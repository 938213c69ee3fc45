import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { ClaimedDelivery, DeliveryQueue } from '../store/index.js';
import { DEFAULT_RETRY_POLICY, nextAttemptAt, type RetryPolicy } from './retry-policy.js';
import type { DispatchAllowance } from './load-throttle.js';
import type { AttemptOutcome, Destination } from './types.js';

export interface DispatcherOptions {
  store: DeliveryQueue;
  destinations: Destination[];
  logger: Logger;
  workerId?: string;
  /** Attempts in flight at once. */
  concurrency?: number;
  /** A claimed delivery belongs to this worker for this long; longer than any attempt may take. */
  leaseMs?: number;
  /** How often to look for due work when nothing wakes the dispatcher (other processes' events). */
  pollMs?: number;
  retry?: RetryPolicy;
  /** Hold a transaction's later events until the earlier one is delivered or dead (default on). */
  ordered?: boolean;
  random?: () => number;
  /** How much work is allowed right now (see burstThrottle), read before each claim. */
  throttle?: () => DispatchAllowance;
  onAttempt?: (delivery: ClaimedDelivery, outcome: AttemptOutcome, durationMs: number) => void;
  /** How long a finished attempt's record waits for others to share its commit (default 5 ms; 0: none). */
  recordBatchMs?: number;
}

export interface Dispatcher {
  readonly workerId: string;
  start(): void;
  /** New work may be due: look now instead of at the next poll. */
  wake(): void;
  /**
   * From the next claim on, delivers to these (the store's destinations changed). Attempts in
   * flight finish with the destination they started with; one dropped here is not closed, since
   * destinations share what they hold (the forward thread).
   */
  setDestinations(destinations: Destination[]): void;
  /**
   * Stops claiming, lets in-flight attempts finish (aborting them after `graceMs`) and records
   * them; the rest stays due for the next worker.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The outbox worker: leases due deliveries, attempts them, records each outcome, schedules
 * retries and declares the dead. Several dispatchers (threads or processes) can share a store.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, logger } = options;
  // Attempt lines are built here from fixed fields, none of them a credential: they skip the
  // logger's redaction (its wildcard paths cost a few µs a line, and there is a line per attempt).
  const lines = options.logger.child({}, { redact: [] });
  const workerId = options.workerId ?? `worker-${process.pid}-${randomBytes(3).toString('hex')}`;
  const concurrency = options.concurrency ?? 8;
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 500;
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const ordered = options.ordered ?? true;
  const random = options.random ?? Math.random;
  const recordBatchMs = options.recordBatchMs ?? 5;
  let byName = new Map(options.destinations.map((d) => [d.name, d]));
  let names = [...byName.keys()];
  const inFlight = new Set<Promise<void>>();
  /** Outcomes on their way to the store: stop() waits for them too. */
  const recording = new Set<Promise<void>>();
  const abort = new AbortController();
  // Every attempt in flight listens to it (its deadline, the forward thread): not a leak.
  setMaxListeners(Math.max(10, 2 * concurrency + 4), abort.signal);
  let running = false;
  let loop: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let wakeUp: (() => void) | null = null;
  let woken = false;

  function wake(): void {
    if (!wakeUp) {
      // Not asleep yet: the next sleep returns at once instead of missing this.
      woken = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = null;
    const w = wakeUp;
    wakeUp = null;
    w();
  }

  function sleep(ms: number): Promise<void> {
    if (woken) {
      woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      wakeUp = resolve;
      timer = setTimeout(() => {
        timer = null;
        wakeUp = null;
        resolve();
      }, ms);
    });
  }

  /**
   * Attempts finish one by one, and each record is a write (the delivery's row, its due-index
   * entry, an attempt row): alone in its commit it writes those pages for one delivery. Records
   * wait up to `recordBatchMs` for each other and are written together, in one commit. The lease
   * outlasts the wait by far; a crash inside it means the attempt is made again (at least once).
   */
  let recordWaiters: Array<() => void> = [];
  let recordTimer: NodeJS.Timeout | null = null;
  function recordTurn(): Promise<void> {
    if (recordBatchMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      recordWaiters.push(resolve);
      recordTimer ??= setTimeout(() => {
        recordTimer = null;
        const waiters = recordWaiters;
        recordWaiters = [];
        for (const w of waiters) w();
      }, recordBatchMs);
    });
  }

  /** `destinations`: the set the delivery was claimed for, even if setDestinations has changed it since. */
  async function attempt(delivery: ClaimedDelivery, destinations: ReadonlyMap<string, Destination>): Promise<void> {
    const destination = destinations.get(delivery.destination)!;
    const startedAt = new Date();
    const started = performance.now();
    let outcome: AttemptOutcome;
    try {
      outcome = await destination.deliver(delivery, abort.signal);
    } catch (err) {
      outcome = { outcome: 'failed', error: `destination crashed: ${(err as Error).message}` };
    }
    const durationMs = performance.now() - started;
    const attemptsMade = delivery.attempts + 1;
    let finalOutcome = outcome.outcome;
    let next: number | undefined;
    if (outcome.outcome === 'failed') {
      const at = nextAttemptAt(retry, attemptsMade, Date.now(), random, outcome.retryAfterMs);
      if (at === null) finalOutcome = 'dead';
      else next = at;
    }
    const error =
      outcome.outcome === 'delivered'
        ? null
        : finalOutcome === 'dead' && outcome.outcome === 'failed'
          ? `gave up after ${attemptsMade} attempts: ${outcome.error}`
          : outcome.error;
    options.onAttempt?.(delivery, { ...outcome, outcome: finalOutcome } as AttemptOutcome, durationMs);
    const line = {
      deliveryId: delivery.deliveryId,
      eventId: delivery.eventId,
      destination: delivery.destination,
      attempt: attemptsMade,
      outcome: finalOutcome,
      status: outcome.status,
      latencyMs: Math.round(durationMs * 100) / 100,
      error: error ?? undefined,
      note: outcome.outcome === 'delivered' ? outcome.note : undefined,
      nextAttemptAt: next ? new Date(next).toISOString() : undefined,
    };
    if (finalOutcome === 'dead') lines.error(line, 'delivery dead');
    else if (finalOutcome === 'failed') lines.warn(line, 'delivery attempt failed');
    else lines.info(line, 'delivered');
    // The slot is free once the attempt is over; the record follows (tracked for stop()).
    const record = recordTurn().then(() =>
      recordOutcome(delivery, finalOutcome, outcome.status ?? null, error, startedAt, durationMs, next),
    );
    recording.add(record);
    void record.finally(() => recording.delete(record));
  }

  async function recordOutcome(
    delivery: ClaimedDelivery,
    finalOutcome: AttemptOutcome['outcome'],
    status: number | null,
    error: string | null,
    startedAt: Date,
    durationMs: number,
    next: number | undefined,
  ): Promise<void> {
    try {
      const recorded = await store.completeDelivery({
        deliveryId: delivery.deliveryId,
        workerId,
        outcome: finalOutcome,
        status,
        error,
        startedAt,
        durationMs,
        ...(next !== undefined ? { nextAttemptAt: next } : {}),
      });
      // A later event of the same transaction may have been waiting for this record.
      wake();
      if (!recorded)
        logger.warn(
          { deliveryId: delivery.deliveryId },
          'lease lost before the attempt was recorded; another worker owns it',
        );
    } catch (err) {
      // The lease will run out and the delivery will be tried again: at least once, never lost.
      logger.error({ err, deliveryId: delivery.deliveryId }, 'could not record attempt');
    }
  }

  async function run(): Promise<void> {
    while (running) {
      if (names.length === 0) {
        // Nothing to deliver here yet (say, a receiver whose destinations are still to be added).
        await sleep(pollMs);
        continue;
      }
      const allowance = options.throttle?.();
      const limit = Math.min(concurrency, allowance?.concurrency ?? concurrency);
      const free = limit - inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      const claimedFor = byName;
      const claimedNames = names;
      // A claim costs about as much for one delivery as for several (it walks past the leased
      // ones in the due index), so while attempts are running, wait until a quarter of the slots
      // are free and claim them together: at full speed that is a claim per few deliveries
      // instead of one per delivery.
      const worthClaiming = inFlight.size === 0 ? 1 : Math.max(1, Math.floor(limit / 4));
      if (free >= worthClaiming) {
        try {
          claimed = await store.claimDeliveries({
            workerId,
            limit: free,
            leaseMs,
            destinations: claimedNames,
            ordered,
          });
        } catch (err) {
          logger.error({ err }, 'could not claim deliveries; retrying');
          await sleep(pollMs);
          continue;
        }
      }
      for (const delivery of claimed) {
        const p: Promise<void> = attempt(delivery, claimedFor).finally(() => {
          inFlight.delete(p);
          wake();
        });
        inFlight.add(p);
      }
      if (claimed.length > 0 && allowance && allowance.pauseMs > 0) {
        // Not sleep(): every accepted delivery wakes the dispatcher, and this pause is for them.
        await new Promise((resolve) => setTimeout(resolve, allowance.pauseMs));
        continue;
      }
      if (claimed.length > 0 && claimed.length === free) continue;
      let waitMs = pollMs;
      if (inFlight.size === 0) {
        const due = await store.nextDueAt(names, workerId).catch(() => null);
        if (due !== null) waitMs = Math.max(0, Math.min(pollMs, due - Date.now()));
      }
      await sleep(waitMs);
    }
  }

  return {
    workerId,
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    wake,
    setDestinations(destinations) {
      byName = new Map(destinations.map((d) => [d.name, d]));
      names = [...byName.keys()];
      wake();
    },
    async stop(graceMs = 30_000) {
      running = false;
      wake();
      await loop;
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, graceMs);
      });
      await Promise.race([Promise.allSettled([...inFlight]), grace]);
      // Attempts still running get their signal; a lease that is never recorded simply expires.
      abort.abort();
      await settledWithin([...inFlight], 1_000);
      clearTimeout(graceTimer);
      // Every finished attempt's record (they wait at most recordBatchMs, then one commit).
      await settledWithin([...recording], 5_000);
      // The destinations' logs this worker read go to the next worker now, not when the hold runs out.
      await store
        .releaseDeliveries?.(workerId)
        .catch((err: unknown) =>
          logger.warn(
            { err },
            'could not let go of the destinations; another worker takes them when the hold runs out',
          ),
        );
      await Promise.allSettled([...byName.values()].map((d) => d.close?.()));
    },
  };
}

/**
 * Waits for the promises to settle, or for `ms`, whichever is first. The timer is cleared either
 * way: a pending one would hold a stopping process open for its whole length.
 */
async function settledWithin(promises: Array<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
