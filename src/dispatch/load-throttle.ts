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
  /**
   * Events accepted in this process and not yet attempted by its dispatcher (a DeliveryBacklog's
   * `owed`), read once per window. Without it a burst yields until it has lasted `maxBurstMs`,
   * however far behind dispatch falls meanwhile.
   */
  backlog?: () => number;
  /**
   * A backlog worth more than this many milliseconds of the current acceptance rate ends the
   * yielding: dispatch takes its full share until the backlog is drained, so a burst queues at
   * most about this much delivery lag.
   */
  maxBacklogMs?: number;
  /**
   * A burst that has gone on this long is a steady load: yielding to it would only grow the
   * backlog for as long as it lasts, so dispatch takes its full share until it ends.
   */
  maxBurstMs?: number;
  /**
   * A backlog of at most this many milliseconds of acceptance (and at least `concurrency` events:
   * attempts in flight are still owed) counts as drained: a burst may take the loop back.
   */
  drainedBelowMs?: number;
  /** Event-loop utilization (0-1) above which the loop counts as saturated. */
  busyAbove?: number;
  /** Foreground items per second above which a saturated loop counts as a burst. */
  burstAbove?: number;
  /** Pause between attempts during a burst: at most 1000 / pauseMs attempts per second. */
  pauseMs?: number;
  /** How often the loop and the foreground are re-measured. */
  windowMs?: number;
  /** Milliseconds on a monotonic clock (default performance.now); tests drive it by hand. */
  now?: () => number;
  /** This event loop's utilization (0-1) since the previous call; default from performance.eventLoopUtilization. */
  loopUtilization?: () => number;
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

/** This thread's event-loop utilization since the previous call. */
export function loopUtilizationSampler(): () => number {
  let mark = performance.eventLoopUtilization();
  return () => {
    const share = performance.eventLoopUtilization(mark).utilization;
    mark = performance.eventLoopUtilization();
    return share;
  };
}

/**
 * What this process's dispatcher owes: events accepted here minus attempts it finished, per
 * destination, never below zero, and the most behind destination decides. Per destination, since
 * an event makes one delivery for each destination that takes every event (forwards, handlers);
 * a destination that takes only some events (the decision fetch) would always look behind, so
 * the caller leaves it out. Never below zero, since this process also delivers what it did not
 * accept (a backlog from before a restart, replays, retries, another instance's events): those
 * attempts must not hide what is accepted after them. A failed attempt counts too: its retry is
 * scheduled for later, so it is no longer work waiting for the dispatcher's share.
 */
export class DeliveryBacklog {
  private acceptedCount = 0;
  /** Per destination: attempts so far, what it owed at the last reading, and the counts then. */
  private readonly destinations = new Map<
    string,
    { attempted: number; owed: number; acceptedThen: number; attemptedThen: number }
  >();

  /** An event was accepted (committed) in this process. */
  accepted(): void {
    this.acceptedCount++;
  }

  /** The dispatcher finished an attempt for this destination, whatever its outcome. */
  attempted(destination: string): void {
    const d = this.destinations.get(destination);
    if (d) d.attempted++;
    // First seen now: what was accepted before it, this attempt's event included, may not be its (it may be new).
    else
      this.destinations.set(destination, { attempted: 1, owed: 0, acceptedThen: this.acceptedCount, attemptedThen: 1 });
  }

  /**
   * Events owed to the most behind destination; 0 before any attempt names one. `current`: the
   * destinations delivered now; one dropped since (disabled, removed) is forgotten, or the events
   * accepted after it was dropped would stand owed to it forever.
   */
  owed(current?: readonly string[]): number {
    if (current)
      for (const name of this.destinations.keys()) if (!current.includes(name)) this.destinations.delete(name);
    let most = 0;
    for (const d of this.destinations.values()) {
      d.owed = Math.max(0, d.owed + (this.acceptedCount - d.acceptedThen) - (d.attempted - d.attemptedThen));
      d.acceptedThen = this.acceptedCount;
      d.attemptedThen = d.attempted;
      most = Math.max(most, d.owed);
    }
    return most;
  }
}

/**
 * Dispatch shares the event loop, the writer thread and the cores with ingest. During a burst
 * (a loop or the machine saturated while deliveries pour in), acknowledging them matters more
 * than forwarding them this second: the sender is waiting and retries what it does not hear back
 * about, while the outbox keeps every accepted event. So while a burst lasts, dispatch slows to
 * one attempt at a time with a pause between attempts (50 a second by default), and takes the loop
 * back as soon as the burst is over. A loop saturated by dispatch alone (draining a backlog, with
 * at most a trickle of new deliveries) is not a burst: the drain runs at full speed.
 *
 * Yielding is only for a burst, not for a steady load. Dispatch takes its full share (full
 * concurrency, no pause), however busy the loops, once the burst has lasted `maxBurstMs` (until it
 * ends), or once the backlog is worth more than `maxBacklogMs` of the acceptance rate (until the
 * backlog is drained to `drainedBelowMs` of it; a burst that goes on may then take the loop back).
 * So a burst may queue about a second of deliveries, and a steady load is never held back: the
 * delivery lag stays bounded at any rate that dispatch at its full allowance keeps up with. This
 * only stops dispatch from holding itself back; it cannot make ingest give up CPU. What a steady
 * load costs is acknowledgements sharing the CPU with the deliveries they cause.
 *
 * Every input is a function the caller passes (the clock included), so the allowance is a function
 * of what it reads, re-read once a window of `windowMs` has passed.
 */
export function burstThrottle(concurrency: number, options: BurstThrottleOptions): () => DispatchAllowance {
  const busyAbove = options.busyAbove ?? 0.9;
  const burstAbove = options.burstAbove ?? 200;
  const windowMs = options.windowMs ?? 250;
  const maxBacklogMs = options.maxBacklogMs ?? 1_000;
  const maxBurstMs = options.maxBurstMs ?? 2_000;
  const drainedBelowMs = options.drainedBelowMs ?? 100;
  const full: DispatchAllowance = { concurrency, pauseMs: 0 };
  const yielding: DispatchAllowance = { concurrency: 1, pauseMs: options.pauseMs ?? 20 };
  const now = options.now ?? (() => performance.now());
  const loopUtilization = options.loopUtilization ?? loopUtilizationSampler();
  const machineBusy = options.machineBusy ?? machineBusySampler();
  let markedAt = now();
  let counted = options.foreground();
  /** When the burst going on began (the start of its first window); null: no burst. */
  let burstSince: number | null = null;
  /** Dispatch is behind: full share until the backlog is drained. */
  let catchingUp = false;
  let yields = false;
  return () => {
    const at = now();
    if (at - markedAt >= windowMs) {
      const count = options.foreground();
      const rate = ((count - counted) * 1000) / (at - markedAt);
      const busiest = Math.max(loopUtilization(), ...(options.otherLoops ?? []).map((loop) => loop()));
      const machine = machineBusy();
      const bursting = rate > burstAbove && (busiest > busyAbove || machine > busyAbove);
      burstSince = bursting ? (burstSince ?? markedAt) : null;
      if (options.backlog) {
        const owed = options.backlog();
        const drained = owed <= Math.max(concurrency, (rate * drainedBelowMs) / 1000);
        if (drained) catchingUp = false;
        else if (owed > (rate * maxBacklogMs) / 1000) catchingUp = true;
      }
      yields = burstSince !== null && at - burstSince < maxBurstMs && !catchingUp;
      markedAt = at;
      counted = count;
    }
    return yields ? yielding : full;
  };
}
