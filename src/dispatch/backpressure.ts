import { performance } from 'node:perf_hooks';

export interface DeliveryBackpressureOptions {
  /** Events accepted and not yet attempted (DeliveryBacklog.owed). */
  backlog: () => number;
  /** Above this many (default 250), a new delivery waits for dispatch before it is taken in. */
  maxBacklog?: number;
  /** The longest one delivery waits: then it goes in anyway (the sender is waiting too). */
  maxWaitMs?: number;
  /**
   * Dispatch counts as making progress while an attempt finished within this long. A destination
   * that hangs (attempts that time out) is not the CPU's fault: ingest does not wait for it.
   */
  progressWithinMs?: number;
  /** Milliseconds on a monotonic clock (default performance.now); tests drive it by hand. */
  now?: () => number;
}

interface Waiter {
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/**
 * Dispatch's guaranteed share (issue 18). On two cores under a steady load, ingest takes every
 * cycle it is given and the backlog of deliveries grows for as long as the load lasts: the
 * throttle (load-throttle.ts) stops holding dispatch back, but nothing makes ingest leave it room.
 * This does: while the backlog is over `maxBacklog` and dispatch is making progress, a delivery
 * waits (at most `maxWaitMs`) for an attempt to finish before it is taken in. A closed-loop sender
 * then slows to what the receiver can both acknowledge and deliver; an open-loop one sees the
 * wait in its ack latency. A burst under `maxBacklog` never waits; a destination that is down or
 * hangs never slows ingest (its attempts fail or stop finishing, and the waiting stops).
 */
export class DeliveryBackpressure {
  private readonly maxBacklog: number;
  private readonly maxWaitMs: number;
  private readonly progressWithinMs: number;
  private readonly now: () => number;
  private lastProgress = Number.NEGATIVE_INFINITY;
  private readonly waiters: Waiter[] = [];
  /** Deliveries that waited, and how long in all (ms): for the metrics and the bench. */
  waited = 0;
  waitedMs = 0;

  constructor(private readonly options: DeliveryBackpressureOptions) {
    // 250, not 1,000: at 1,000/s the delivery lag's p99 is about this bound over the delivery rate
    // (380 ms at 1,000 events, 275 ms at 250 in the same conditions; docs/performance.md).
    this.maxBacklog = options.maxBacklog ?? 250;
    this.maxWaitMs = options.maxWaitMs ?? 250;
    this.progressWithinMs = options.progressWithinMs ?? 200;
    this.now = options.now ?? (() => performance.now());
  }

  /** Null when the delivery may go in now (the usual case: no promise made); else when it may. */
  admit(): Promise<void> | null {
    if (this.options.backlog() <= this.maxBacklog) return null;
    if (this.now() - this.lastProgress > this.progressWithinMs) return null;
    const started = this.now();
    this.waited++;
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(waiter.timer);
          this.waitedMs += this.now() - started;
          resolve();
        },
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          waiter.resolve();
        }, this.maxWaitMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** An attempt finished: the oldest waiters go in while the backlog allows. */
  progress(): void {
    this.lastProgress = this.now();
    // One delivery in per attempt finished, so ingest runs at the pace of dispatch while over the bound.
    if (this.waiters.length > 0) this.waiters.shift()!.resolve();
    while (this.waiters.length > 0 && this.options.backlog() <= this.maxBacklog) this.waiters.shift()!.resolve();
  }

  /** Lets every waiter in (shutdown). */
  releaseAll(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}
