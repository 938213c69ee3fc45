import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/group-commit.js';
import { Where } from '../../src/store/where.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('commits the items of one turn together and answers each caller with its own result', async () => {
    const batches: number[][] = [];
    const group = new GroupCommit<number, number>({
      commit: async (items) => (batches.push(items), items.map((n) => n * 10)),
      maxBatch: 100,
    });
    const results = await Promise.all([1, 2, 3].map((n) => group.submit(n)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('splits at maxBatch, and items that arrive during a commit go together in the next one', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const group = new GroupCommit<number, number>({
      commit: async (items) => {
        batches.push(items);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
        return items;
      },
      maxBatch: 2,
    });
    const first = [1, 2, 3].map((n) => group.submit(n));
    await tick();
    expect(batches).toEqual([[1, 2]]);
    const later = [4, 5].map((n) => group.submit(n));
    release();
    await Promise.all([...first, ...later]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('an item submitted with durable: false is answered at commit, is not held, and alone asks for no durability', async () => {
    let durableCalls = 0;
    let makeDurable: () => void = () => undefined;
    const group = new GroupCommit<number, number>({
      commit: (items) => items,
      maxBatch: 100,
      // Held as long as anything waits: only a volatile item may start a batch.
      hold: () => true,
      durable: () => {
        durableCalls++;
        return new Promise<void>((resolve) => (makeDurable = resolve));
      },
    });
    const answered: number[] = [];
    const durable = group.submit(1).then((v) => answered.push(v));
    const volatile = group.submit(2, { durable: false }).then((v) => answered.push(v));
    await volatile;
    // Committed in one batch: the volatile item is answered, the durable one waits for the disk.
    expect(answered).toEqual([2]);
    expect(durableCalls).toBe(1);
    makeDurable();
    await durable;
    expect(answered).toEqual([2, 1]);
    // A batch of volatile items only makes nothing durable on its own.
    expect(await group.submit(3, { durable: false })).toBe(3);
    expect(durableCalls).toBe(1);
  });

  it('after a failed batch, commits each item alone: one bad item fails only its caller', async () => {
    const calls: number[][] = [];
    const group = new GroupCommit<number, number>({
      commit: async (items) => {
        calls.push(items);
        if (items.includes(2)) throw new Error('bad row');
        return items;
      },
      maxBatch: 10,
      commitError: (err) => new Error(`could not commit: ${(err as Error).message}`),
    });
    const settled = await Promise.allSettled([1, 2, 3].map((n) => group.submit(n)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      1,
      'could not commit: bad row',
      3,
    ]);
    expect(calls).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('does not try items alone when the failure says the database is down', async () => {
    let calls = 0;
    const group = new GroupCommit<number, number>({
      commit: async () => {
        calls++;
        throw new Error('down');
      },
      maxBatch: 10,
      failsAll: (err) => (err as Error).message === 'down',
    });
    const settled = await Promise.allSettled([1, 2, 3].map((n) => group.submit(n)));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
  });

  it('never puts two items of the same key in one batch', async () => {
    const batches: string[][] = [];
    const group = new GroupCommit<string, string>({
      commit: async (items) => (batches.push(items), items),
      maxBatch: 10,
      keyOf: (s) => s[0]!,
    });
    await Promise.all(['a1', 'b1', 'a2', 'c1', 'a3'].map((s) => group.submit(s)));
    expect(batches).toEqual([['a1', 'b1', 'c1'], ['a2'], ['a3']]);
  });

  it('runs at most maxInFlight batches at once and says when items had to wait', async () => {
    let running = 0;
    let most = 0;
    let backedUp = 0;
    const group = new GroupCommit<number, number>({
      commit: async (items) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return items;
      },
      maxBatch: 1,
      maxInFlight: 2,
      onBackedUp: () => backedUp++,
    });
    const first = [1, 2].map((n) => group.submit(n));
    await tick();
    const later = [3, 4, 5].map((n) => group.submit(n));
    await Promise.all([...first, ...later]);
    expect(most).toBe(2);
    expect(backedUp).toBeGreaterThan(0);
  });

  it('a synchronous commit and its retries alone run in one go; a durability failure fails the committed items without committing them again', async () => {
    const calls: number[][] = [];
    const group = new GroupCommit<number, number>({
      commit: (items) => {
        calls.push(items);
        if (items.includes(2)) throw new Error('bad row');
        return items;
      },
      maxBatch: 10,
      durable: () => Promise.reject(new Error('fsync failed')),
      durableError: (err) => new Error(`not durable: ${(err as Error).message}`),
    });
    const settled = Promise.allSettled([1, 2, 3].map((n) => group.submit(n)));
    await tick();
    expect(calls).toEqual([[1, 2, 3], [1], [2], [3]]);
    const reasons = (await settled).map((s) => (s.status === 'rejected' ? (s.reason as Error).message : 'ok'));
    expect(reasons).toEqual(['not durable: fsync failed', 'bad row', 'not durable: fsync failed']);
    expect(calls).toHaveLength(4);
  });

  it('holds batches while told to, until flushNow; idle waits for every commit', async () => {
    let held = true;
    const batches: number[][] = [];
    const group = new GroupCommit<number, number>({
      commit: (items) => (batches.push(items), items),
      maxBatch: 10,
      hold: () => held,
    });
    const done = [1, 2].map((n) => group.submit(n));
    await tick();
    await tick();
    expect(batches).toEqual([]);
    expect(group.queued).toBe(2);
    group.flushNow();
    expect(batches).toEqual([[1, 2]]);
    held = false;
    await group.idle();
    expect(await Promise.all(done)).toEqual([1, 2]);
  });
});

describe('Where', () => {
  it('numbers placeholders for PostgreSQL and keeps ? for SQLite, values in text order', () => {
    for (const [style, expected] of [
      ['$n', 'WHERE seq < $1 AND state = $2 AND x IS NULL LIMIT $3'],
      ['?', 'WHERE seq < ? AND state = ? AND x IS NULL LIMIT ?'],
    ] as const) {
      const where = new Where(style);
      where.add('seq < ?', 5).add('state = ?', 'failed').raw('x IS NULL');
      expect(`${where} LIMIT ${where.param(11)}`).toBe(expected);
      expect(where.values).toEqual([5, 'failed', 11]);
    }
    expect(String(new Where('?'))).toBe('');
  });
});
