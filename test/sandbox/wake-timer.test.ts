import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WakeTimer } from '../../src/sandbox/wake-timer.js';

/**
 * The one timer behind the sandbox's steps and deliveries. Fake timers drive its setImmediate and
 * setTimeout and the clock it is given (Date.now, faked), so the schedule is checked to the
 * millisecond without waiting for it.
 */
describe('WakeTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A timer whose work records when it ran and reports `nextDue()` as the next due time. */
  function timer(nextDue: () => number | undefined, maxSleepMs = 1_000) {
    const runs: number[] = [];
    const errors: unknown[] = [];
    const wakeTimer = new WakeTimer(
      () => {
        runs.push(Date.now());
        return nextDue();
      },
      (err) => errors.push(err),
      maxSleepMs,
      () => Date.now(),
    );
    return { wakeTimer, runs, errors };
  }

  it('runs once for every wake-up of the same turn, after the I/O of that turn and not on a timer', async () => {
    const { wakeTimer, runs } = timer(() => undefined);
    wakeTimer.wake();
    wakeTimer.wake();
    wakeTimer.wake();
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([0]);
    wakeTimer.stop();
  });

  it('sleeps until the next due time the work reports', async () => {
    const due = [250, 600];
    const { wakeTimer, runs } = timer(() => due.shift());
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(249);
    expect(runs).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([0, 250]);
    await vi.advanceTimersByTimeAsync(350);
    expect(runs).toEqual([0, 250, 600]);
    wakeTimer.stop();
  });

  it('never sleeps longer than maxSleepMs, so a missed wake-up costs at most that', async () => {
    const { wakeTimer, runs } = timer(() => 60_000, 1_000);
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(runs).toEqual([0, 1_000, 2_000, 3_000]);
    wakeTimer.stop();
  });

  it('with nothing due, looks again after maxSleepMs', async () => {
    const { wakeTimer, runs } = timer(() => undefined, 500);
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toEqual([0, 500, 1_000]);
    wakeTimer.stop();
  });

  it('a wake-up during a run runs again at once rather than at the reported due time', async () => {
    let wokeInside = false;
    const runs: number[] = [];
    const wakeTimer: WakeTimer = new WakeTimer(
      () => {
        runs.push(Date.now());
        if (!wokeInside) {
          wokeInside = true;
          wakeTimer.wake(); // something changed while the work ran
        }
        return 900;
      },
      () => undefined,
      1_000,
      () => Date.now(),
    );
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([0]);
    // The run again is an immediate queued from inside one (the next turn, as in Node); the fake
    // clock runs such a nested immediate only once it moves, by a millisecond here.
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(2);
    expect(runs[1]).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(898);
    expect(runs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([0, runs[1], 900]);
    wakeTimer.stop();
  });

  it('an earlier wake-up replaces a long sleep', async () => {
    const due = [800, 1_000];
    const { wakeTimer, runs } = timer(() => due.shift());
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(100);
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([0, 100]);
    // The second run said 1,000: the timer set for 800 by the first was cleared.
    await vi.advanceTimersByTimeAsync(899);
    expect(runs).toEqual([0, 100]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([0, 100, 1_000]);
    wakeTimer.stop();
  });

  it('reports a throwing run and keeps going', async () => {
    let calls = 0;
    const { wakeTimer, runs, errors } = timer(() => {
      calls += 1;
      if (calls === 1) throw new Error('step failed');
      return undefined;
    }, 200);
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(200);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('step failed');
    expect(runs).toEqual([0, 200]);
    wakeTimer.stop();
  });

  it('after stop, neither a wake-up nor a pending sleep runs anything, and no timer is left', async () => {
    const { wakeTimer, runs } = timer(() => 300);
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(0);
    wakeTimer.stop();
    wakeTimer.wake();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toEqual([0]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
