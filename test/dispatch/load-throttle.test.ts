import { describe, expect, it } from 'vitest';
import {
  burstThrottle,
  DeliveryBacklog,
  machineBusySampler,
  type BurstThrottleOptions,
  type DispatchAllowance,
} from '../../src/dispatch/index.js';

const FULL: DispatchAllowance = { concurrency: 8, pauseMs: 0 };
const YIELDING: DispatchAllowance = { concurrency: 1, pauseMs: 20 };

/** A throttle on a hand-driven clock: nothing here waits for real time. */
function throttled(options: Partial<BurstThrottleOptions> & { loop?: () => number } = {}) {
  const world = { now: 0, received: 0 };
  const { loop, ...rest } = options;
  const allowance = burstThrottle(8, {
    foreground: () => world.received,
    now: () => world.now,
    loopUtilization: loop ?? (() => 0.2),
    machineBusy: () => 0.5,
    windowMs: 250,
    ...rest,
  });
  return { world, allowance };
}

/**
 * A steady load against a dispatcher that does what the allowance says: `rate` events a second
 * accepted, attempts at `1000 / pauseMs` a second while yielding, `capacity` a second at full
 * share. The loops stay saturated all along (ingest alone fills them). Steps of 10 ms.
 */
function steadyLoad(opts: { rate: number; capacity: number; seconds: number; backlog: boolean }) {
  const events = new DeliveryBacklog();
  let owed = 0; // what the dispatcher really has left, to check the throttle's reading against
  let arrivals = 0;
  let attempts = 0;
  const { world, allowance } = throttled({
    loop: () => 0.97,
    ...(opts.backlog ? { backlog: () => events.owed(['forward:sink']) } : {}),
  });
  const seen: Array<{ at: number; allowance: DispatchAllowance; owed: number }> = [];
  for (let step = 0; step < opts.seconds * 100; step++) {
    world.now += 10;
    arrivals += opts.rate / 100;
    for (; arrivals >= 1; arrivals--) {
      world.received++;
      events.accepted();
      owed++;
    }
    const a = allowance();
    attempts += Math.min(owed, a.pauseMs > 0 ? 10 / a.pauseMs : opts.capacity / 100);
    for (; attempts >= 1 && owed > 0; attempts--) {
      events.attempted('forward:sink');
      owed--;
    }
    seen.push({ at: world.now, allowance: a, owed });
  }
  return { seen, owed, last: seen.at(-1)!.allowance };
}

describe('burst throttle: dispatch yields while deliveries pour in and a loop they need is saturated', () => {
  it('runs at full concurrency while the loops have room, however many deliveries arrive', () => {
    const { world, allowance } = throttled({ otherLoops: [() => 0.2] });
    world.received += 1_000;
    world.now += 300;
    expect(allowance()).toEqual(FULL);
  });

  it('yields when the writer thread is saturated during a burst, and takes the loop back after it', () => {
    let writerBusy = 0.97;
    const { world, allowance } = throttled({ pauseMs: 25, otherLoops: [() => writerBusy] });
    world.received += 1_000; // 1,000 in 300 ms: far above 200/s
    world.now += 300;
    expect(allowance()).toEqual({ concurrency: 1, pauseMs: 25 });
    // Within a window the allowance stands, whatever changes.
    writerBusy = 0.1;
    world.now += 100;
    expect(allowance()).toEqual({ concurrency: 1, pauseMs: 25 });

    // Saturated by dispatch alone (a backlog draining, no new deliveries): not a burst.
    writerBusy = 0.97;
    world.now += 300;
    expect(allowance()).toEqual(FULL);

    // Deliveries still arriving, but the writer has room again.
    world.received += 1_000;
    writerBusy = 0.3;
    world.now += 300;
    expect(allowance()).toEqual(FULL);
  });

  it('yields when the main event loop itself is saturated during a burst', () => {
    const { world, allowance } = throttled({ loop: () => 1 });
    world.received += 1_000;
    world.now += 300;
    expect(allowance()).toEqual(YIELDING);
  });

  it('yields when every core is taken during a burst, though no single loop is saturated', () => {
    let machine = 0.97;
    const { world, allowance } = throttled({ otherLoops: [() => 0.6], machineBusy: () => machine });
    world.received += 1_000;
    world.now += 300;
    expect(allowance()).toEqual(YIELDING);
    world.received += 1_000;
    machine = 0.5;
    world.now += 300;
    expect(allowance()).toEqual(FULL);
  });

  it('reads the machine from the kernel by default: a share between 0 and 1', () => {
    const sample = machineBusySampler();
    let spin = 0;
    for (let i = 0; i < 1e6; i++) spin += i; // some CPU time between the two readings
    const share = sample();
    expect(spin).toBeGreaterThan(0);
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  });
});

describe('burst throttle: a steady load gets dispatch its share, so the backlog stays bounded', () => {
  it('ends a steady load at full allowance, having held the backlog near a second of acceptance', () => {
    const rate = 2_000;
    const run = steadyLoad({ rate, capacity: 3_000, seconds: 10, backlog: true });
    // Yielding only until the backlog passes a second's worth (plus a window to notice it) ...
    const firstFull = run.seen.find((s) => s.at > 250 && s.allowance.pauseMs === 0)!;
    expect(firstFull.at).toBeLessThanOrEqual(1_500);
    expect(Math.max(...run.seen.map((s) => s.owed))).toBeLessThanOrEqual(rate * 1.25);
    // ... and never again once the burst has lasted 2 s: a steady load, not a burst.
    expect(run.seen.filter((s) => s.at > 2_250).every((s) => s.allowance.pauseMs === 0)).toBe(true);
    expect(run.last).toEqual(FULL);
    // The backlog drained while the load went on: what is left is the last 10 ms's arrivals.
    expect(run.owed).toBeLessThanOrEqual(rate / 100);
  });

  it('without a backlog to read, a steady load still ends the yielding after 2 s', () => {
    const run = steadyLoad({ rate: 2_000, capacity: 3_000, seconds: 10, backlog: false });
    expect(run.seen.filter((s) => s.at > 2_250).every((s) => s.allowance.pauseMs === 0)).toBe(true);
    expect(run.owed).toBeLessThanOrEqual(20);
  });

  it('lets a short burst queue: it yields all along, and its backlog drains at full speed after it', () => {
    let owed = 0;
    const { world, allowance } = throttled({ loop: () => 0.97, backlog: () => owed });
    for (let i = 0; i < 4; i++) {
      // 2,000 a second for a second, 50 a second attempted: under a second of acceptance owed
      world.received += 500;
      owed += 500 - 12;
      world.now += 250;
      expect(allowance()).toEqual(YIELDING);
    }
    world.now += 250; // the burst is over: the loop is saturated by the drain alone
    expect(allowance()).toEqual(FULL);
  });

  it('returns to yielding after a drain only while the burst goes on and the backlog is small', () => {
    let owed = 0;
    let perWindow = 500; // 2,000 a second
    const { world, allowance } = throttled({ loop: () => 0.97, backlog: () => owed });
    const window = (backlog: number) => {
      world.received += perWindow;
      owed = backlog;
      world.now += 250;
      return allowance();
    };
    expect(window(400)).toEqual(YIELDING);
    expect(window(2_100)).toEqual(FULL); // past a second of acceptance
    expect(window(1_500)).toEqual(FULL); // under the bound, not drained: still catching up
    expect(window(600)).toEqual(FULL);
    expect(window(150)).toEqual(YIELDING); // drained (≤ 100 ms of acceptance), the burst goes on
    expect(window(2_500)).toEqual(FULL);
    perWindow = 0; // the burst ends while catching up: full, and it stays so once drained
    expect(window(900)).toEqual(FULL);
    expect(window(0)).toEqual(FULL);
    perWindow = 500; // a new burst, nothing owed: it yields again
    expect(window(0)).toEqual(YIELDING);
  });

  it('treats a burst that goes on past 2 s as a steady load, though its backlog stays small', () => {
    let owed = 0;
    const { world, allowance } = throttled({ loop: () => 0.97, backlog: () => owed });
    const seen: DispatchAllowance[] = [];
    for (let t = 250; t <= 3_000; t += 250) {
      world.received += 500; // 2,000 a second since 0
      owed = 150; // drained: only the burst's length can end the yielding
      world.now = t;
      seen.push(allowance());
    }
    expect(seen.slice(0, 7).every((a) => a.pauseMs > 0)).toBe(true); // up to 1,750 ms
    expect(seen.slice(7).every((a) => a.pauseMs === 0)).toBe(true); // from 2,000 ms, while it lasts
    // A window without the burst ends it; the next burst may take the loop back.
    world.now += 250;
    expect(allowance()).toEqual(FULL);
    world.received += 500;
    world.now += 250;
    expect(allowance()).toEqual(YIELDING);
  });
});

describe('delivery backlog: events accepted here and not yet attempted, by the most behind destination', () => {
  it('counts per destination, so an event delivered to two destinations is owed once', () => {
    const backlog = new DeliveryBacklog();
    backlog.accepted();
    backlog.attempted('a');
    backlog.attempted('b');
    expect(backlog.owed()).toBe(0);
    for (let i = 0; i < 10; i++) backlog.accepted();
    for (let i = 0; i < 10; i++) backlog.attempted('a');
    for (let i = 0; i < 4; i++) backlog.attempted('b');
    expect(backlog.owed()).toBe(6);
    for (let i = 0; i < 6; i++) backlog.attempted('b');
    expect(backlog.owed()).toBe(0);
  });

  it('never goes below zero: draining an older backlog does not hide what is accepted after it', () => {
    const backlog = new DeliveryBacklog();
    for (let i = 0; i < 1_000; i++) backlog.attempted('a'); // left from before a restart
    expect(backlog.owed()).toBe(0);
    for (let i = 0; i < 300; i++) backlog.accepted();
    expect(backlog.owed()).toBe(300);
  });

  it('forgets a destination dropped since, which would otherwise stand behind forever', () => {
    const backlog = new DeliveryBacklog();
    backlog.attempted('a');
    backlog.attempted('b');
    for (let i = 0; i < 50; i++) backlog.accepted();
    for (let i = 0; i < 50; i++) backlog.attempted('a');
    expect(backlog.owed(['a', 'b'])).toBe(50);
    expect(backlog.owed(['a'])).toBe(0);
  });
});
