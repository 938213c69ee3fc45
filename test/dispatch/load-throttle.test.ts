import { describe, expect, it } from 'vitest';
import { burstThrottle } from '../../src/dispatch/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('burst throttle: dispatch yields while deliveries pour in and a loop they need is saturated', () => {
  it('runs at full concurrency while the loops have room, however many deliveries arrive', async () => {
    let received = 0;
    const allowance = burstThrottle(8, { foreground: () => received, windowMs: 20, otherLoops: [() => 0.2] });
    received += 1_000;
    await sleep(30);
    expect(allowance()).toEqual({ concurrency: 8, pauseMs: 0 });
  });

  it('yields when the writer thread is saturated during a burst, and takes the loop back after it', async () => {
    let received = 0;
    let writerBusy = 0.97;
    const allowance = burstThrottle(8, { foreground: () => received, windowMs: 20, pauseMs: 25, otherLoops: [() => writerBusy] });
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
    const allowance = burstThrottle(8, { foreground: () => received, windowMs: 20 });
    received += 1_000;
    const until = performance.now() + 40;
    while (performance.now() < until) {
      // the loop is busy: no idle time in this window
    }
    expect(allowance()).toEqual({ concurrency: 1, pauseMs: 20 });
  });
});
