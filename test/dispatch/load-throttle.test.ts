import { describe, expect, it } from 'vitest';
import { burstThrottle, machineBusySampler } from '../../src/dispatch/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('burst throttle: dispatch yields while deliveries pour in and a loop they need is saturated', () => {
  it('runs at full concurrency while the loops have room, however many deliveries arrive', async () => {
    let received = 0;
    const allowance = burstThrottle(8, {
      foreground: () => received,
      windowMs: 20,
      otherLoops: [() => 0.2],
      machineBusy: () => 0.5,
    });
    received += 1_000;
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 8, pauseMs: 0 });
  });

  it('yields when the writer thread is saturated during a burst, and takes the loop back after it', async () => {
    let received = 0;
    let writerBusy = 0.97;
    const allowance = burstThrottle(8, {
      foreground: () => received,
      windowMs: 20,
      pauseMs: 25,
      otherLoops: [() => writerBusy],
      machineBusy: () => 0.5,
    });
    received += 1_000; // 1,000 in 30 ms: far above 200/s
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 1, pauseMs: 25 });

    // Saturated by dispatch alone (a backlog draining, no new deliveries): not a burst.
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 8, pauseMs: 0 });

    // Deliveries still arriving, but the writer has room again.
    received += 1_000;
    writerBusy = 0.3;
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 8, pauseMs: 0 });
  });

  it('yields when the main event loop itself is saturated during a burst', async () => {
    let received = 0;
    const allowance = burstThrottle(8, { foreground: () => received, windowMs: 20, machineBusy: () => 0.5 });
    received += 1_000;
    const until = performance.now() + 40;
    while (performance.now() < until) {
      // the loop is busy: no idle time in this window
    }
    expect(allowance()).toEqual({ concurrency: 1, pauseMs: 20 });
  });

  it('yields when every core is taken during a burst, though no single loop is saturated', async () => {
    let received = 0;
    let machine = 0.97;
    const allowance = burstThrottle(8, {
      foreground: () => received,
      windowMs: 20,
      otherLoops: [() => 0.6],
      machineBusy: () => machine,
    });
    received += 1_000;
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 1, pauseMs: 20 });
    received += 1_000;
    machine = 0.5;
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 8, pauseMs: 0 });
  });

  it('reads the machine from the kernel by default: a share between 0 and 1', async () => {
    const sample = machineBusySampler();
    await sleep(50);
    const share = sample();
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  });
});
