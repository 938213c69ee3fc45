import { performance } from 'node:perf_hooks';

/** How much delivery work the dispatcher may do right now. */
export interface DispatchAllowance {
  /** Attempts in flight at most. */
  concurrency: number;
  /** Wait this long after each claim before the next (0: none). */
  pauseMs: number;
}

export interface BurstThrottleOptions {
  /** A count of foreground work done so far (deliveries received), read once per window. */
  foreground: () => number;
  /** Event-loop utilization (0-1) above which the loop counts as saturated. */
  busyAbove?: number;
  /** Foreground items per second above which a saturated loop counts as a burst. */
  burstAbove?: number;
  /** Pause between attempts during a burst: at most 1000 / pauseMs attempts per second. */
  pauseMs?: number;
  /** How often the loop and the foreground are re-measured. */
  windowMs?: number;
  /**
   * Other event loops that ingest depends on (the SQLite writer thread): each returns its
   * utilization since it was last asked. The busiest loop decides, since dispatch's claims and
   * completions are written on the same thread as the deliveries it should yield to.
   */
  otherLoops?: Array<() => number>;
}

/**
 * Dispatch shares the event loop with ingest. During a burst (the loop saturated while
 * deliveries pour in), acknowledging them matters more than forwarding them this second: the
 * sender is waiting and retries what it does not hear back about, while the outbox keeps every
 * accepted event. So while a burst lasts, dispatch slows to one attempt at a time with a pause
 * between attempts (50 a second by default), and takes the loop back as soon as the burst is
 * over. A loop saturated by dispatch alone (draining a backlog, with at most a trickle of new
 * deliveries) is not a burst: the drain runs at full speed.
 */
export function burstThrottle(concurrency: number, options: BurstThrottleOptions): () => DispatchAllowance {
  const busyAbove = options.busyAbove ?? 0.9;
  const burstAbove = options.burstAbove ?? 200;
  const windowMs = options.windowMs ?? 250;
  const full: DispatchAllowance = { concurrency, pauseMs: 0 };
  const yielding: DispatchAllowance = { concurrency: 1, pauseMs: options.pauseMs ?? 20 };
  let mark = performance.eventLoopUtilization();
  let markedAt = performance.now();
  let counted = options.foreground();
  let bursting = false;
  return () => {
    const now = performance.now();
    if (now - markedAt >= windowMs) {
      const count = options.foreground();
      const rate = ((count - counted) * 1000) / (now - markedAt);
      const busiest = Math.max(performance.eventLoopUtilization(mark).utilization, ...(options.otherLoops ?? []).map((loop) => loop()));
      bursting = rate > burstAbove && busiest > busyAbove;
      mark = performance.eventLoopUtilization();
      markedAt = now;
      counted = count;
    }
    return bursting ? yielding : full;
  };
}
