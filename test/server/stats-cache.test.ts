import { describe, expect, it } from 'vitest';
import { StatsCache } from '../../src/server/dashboard/stats-cache.js';
import type { StoreStats } from '../../src/store/index.js';

function stats(events: number): StoreStats {
  return {
    events,
    transactions: 0,
    transactionsByStatus: {},
    transactionsByDecision: {},
    quarantine: 0,
    deliveries: { pending: 0, failed: 0, delivered: 0, dead: 0 },
  };
}

/** The overview's counts: read at most once per age, stale answered while one refresh runs. */
describe('StatsCache', () => {
  it('reads once, answers from the cache within the age, then refreshes once in the background', async () => {
    let now = 1_000;
    let loads = 0;
    let release: (() => void) | null = null;
    const cache = new StatsCache(
      async () => {
        loads++;
        if (loads > 1) await new Promise<void>((resolve) => (release = resolve));
        return stats(loads);
      },
      5_000,
      () => now,
    );
    expect(await cache.get()).toEqual({ stats: stats(1), at: 1_000 });
    now += 4_000;
    expect((await cache.get()).stats.events).toBe(1);
    expect(loads).toBe(1);
    now += 2_000;
    // Past the age: the old counts at once, one refresh started, not one per request.
    expect((await cache.get()).stats.events).toBe(1);
    expect((await cache.get()).stats.events).toBe(1);
    expect(loads).toBe(2);
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await cache.get()).toEqual({ stats: stats(2), at: 7_000 });
  });

  it('keeps the counts it had when a refresh fails, and tries again on the next request', async () => {
    let now = 0;
    let fail = false;
    let loads = 0;
    const cache = new StatsCache(
      async () => {
        loads++;
        if (fail) throw new Error('store unavailable');
        return stats(loads);
      },
      5_000,
      () => now,
    );
    await cache.get();
    fail = true;
    now = 10_000;
    expect((await cache.get()).stats.events).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await cache.get()).stats.events).toBe(1);
    expect(loads).toBe(3);
  });

  it("a first read that fails is the caller's error", async () => {
    const cache = new StatsCache(async () => {
      throw new Error('store unavailable');
    });
    await expect(cache.get()).rejects.toThrow('store unavailable');
  });
});
