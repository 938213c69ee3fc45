import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeliveryBackpressure } from '../../src/dispatch/backpressure.js';

/** Dispatch's guaranteed share: past a bound, ingest waits for dispatch (issue 18). */
describe('delivery backpressure', () => {
  afterEach(() => vi.useRealTimers());

  function setup(backlog: { n: number }) {
    let clock = 0;
    const bp = new DeliveryBackpressure({
      backlog: () => backlog.n,
      maxBacklog: 100,
      maxWaitMs: 250,
      progressWithinMs: 200,
      now: () => clock,
    });
    return { bp, tick: (ms: number) => (clock += ms) };
  }

  it('a backlog under the bound never waits: a burst queues', () => {
    const { bp } = setup({ n: 100 });
    bp.progress();
    expect(bp.admit()).toBeNull();
  });

  it('over the bound, with dispatch making progress, a delivery waits for an attempt to finish', async () => {
    const backlog = { n: 150 };
    const { bp, tick } = setup(backlog);
    bp.progress();
    tick(10);
    const wait = bp.admit();
    expect(wait).not.toBeNull();
    let admitted = false;
    void wait!.then(() => (admitted = true));
    await Promise.resolve();
    expect(admitted).toBe(false);
    backlog.n = 149;
    bp.progress();
    await wait;
    expect(admitted).toBe(true);
    expect(bp.waited).toBe(1);
  });

  it('a destination that stopped finishing attempts (down, hanging) does not slow ingest', () => {
    const { bp, tick } = setup({ n: 10_000 });
    bp.progress();
    tick(201);
    expect(bp.admit()).toBeNull();
  });

  it('never waits longer than maxWaitMs, and releaseAll lets every waiter in', async () => {
    vi.useFakeTimers();
    const { bp } = setup({ n: 500 });
    bp.progress();
    const first = bp.admit()!;
    const second = bp.admit()!;
    vi.advanceTimersByTime(250);
    await first;
    bp.releaseAll();
    await second;
    expect(bp.waited).toBe(2);
  });

  it('each finished attempt lets the oldest waiter in, and all of them once the backlog is under the bound', async () => {
    const backlog = { n: 300 };
    const { bp } = setup(backlog);
    bp.progress();
    const order: number[] = [];
    const waits = [0, 1, 2].map((i) => bp.admit()!.then(() => order.push(i)));
    bp.progress();
    await waits[0];
    expect(order).toEqual([0]);
    backlog.n = 50;
    bp.progress();
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2]);
  });
});
