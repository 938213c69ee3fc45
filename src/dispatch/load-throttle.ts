import { cpus } from 'node:os';
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
  /**
   * The share of the machine's CPU time that was busy since the last call (0-1); default from
   * os.cpus(). With ingest spread over threads no single loop may reach `busyAbove` while the
   * cores are all taken, and dispatch's threads then take CPU from the acknowledgements.
   */
  machineBusy?: () => number;
}

/** Busy share of all cores since the previous call, from the kernel's per-CPU time counters. */
export function machineBusySampler(): () => number {
  const totals = () => {
    let busy = 0;
    let all = 0;
    for (const cpu of cpus()) {
      const t = cpu.times;
      const sum = t.user + t.nice + t.sys + t.idle + t.irq;
      all += sum;
      busy += sum - t.idle;
    }
    return { busy, all };
  };
  let last = totals();
  return () => {
    const now = totals();
    const share = now.all > last.all ? (now.busy - last.busy) / (now.all - last.all) : 0;
    last = now;
    return share;
  };
}

/**
 * Dispatch shares the event loop, the writer thread and the cores with ingest. During a burst
 * (a loop or the machine saturated while deliveries pour in), acknowledging them matters more than forwarding them this second: the
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
  const machineBusy = options.machineBusy ?? machineBusySampler();
  return () => {
    const now = performance.now();
    if (now - markedAt >= windowMs) {
      const count = options.foreground();
      const rate = ((count - counted) * 1000) / (now - markedAt);
      const busiest = Math.max(
        performance.eventLoopUtilization(mark).utilization,
        ...(options.otherLoops ?? []).map((loop) => loop()),
      );
      const machine = machineBusy();
      bursting = rate > burstAbove && (busiest > busyAbove || machine > busyAbove);
      mark = performance.eventLoopUtilization();
      markedAt = now;
      counted = count;
    }
    return bursting ? yielding : full;
  };
}
