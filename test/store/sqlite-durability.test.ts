import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/drivers.js';
import { docvEvent } from '../helpers/receiver.js';
import { ingestInput } from '../helpers/ingest-input.js';

const input = ingestInput;

/** An fsync the test decides: each call waits until released (or failed). */
function heldFsync() {
  const calls: Array<(err: NodeJS.ErrnoException | null) => void> = [];
  return {
    calls,
    fsync: (_fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void calls.push(callback),
    async waitForCall(n: number): Promise<void> {
      for (let i = 0; calls.length < n && i < 500; i++) await new Promise((r) => setTimeout(r, 5));
      expect(calls.length).toBeGreaterThanOrEqual(n);
    },
  };
}

function settled(promise: Promise<unknown>): { done: boolean } {
  const state = { done: false };
  promise.then(
    () => (state.done = true),
    () => (state.done = true),
  );
  return state;
}

describe('SQLite store: a write is reported done only once its WAL fsync is', () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function open(fsync: ReturnType<typeof heldFsync>['fsync']): SqliteStore {
    const dir = mkdtempSync(join(tmpdir(), 'docv-durability-'));
    dirs.push(dir);
    const store = new SqliteStore({ path: join(dir, 'd.db'), fsync });
    stores.push(store);
    return store;
  }

  it('holds the outcome (and so the 2xx) until the fsync that follows the commit completes', async () => {
    const held = heldFsync();
    const store = open(held.fsync);
    const event = docvEvent();
    const first = store.ingest(input(event));
    const state = settled(first);
    await held.waitForCall(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(state.done).toBe(false);
    // Committed and visible to a reader already, but not reported.
    expect((await store.stats()).events).toBe(1);

    // A duplicate arriving meanwhile must not be answered from the undurable row either.
    const again = store.ingest(input(event));
    const againState = settled(again);
    held.calls[0]!(null);
    expect((await first).kind).toBe('accepted');
    await held.waitForCall(2);
    expect(againState.done).toBe(false);
    held.calls[1]!(null);
    expect(await again).toEqual({ kind: 'duplicate', eventId: (await first).eventId });
  });

  it('answers store-unavailable when the fsync fails, and recovers with the next one', async () => {
    const held = heldFsync();
    const store = open(held.fsync);
    const event = docvEvent();
    const write = store.ingest(input(event));
    await held.waitForCall(1);
    held.calls[0]!(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(write).rejects.toBeInstanceOf(StoreUnavailableError);
    // The sender retries; the row is there, and now durable: a duplicate of the same event.
    const retry = store.ingest(input(event));
    await held.waitForCall(2);
    held.calls[1]!(null);
    expect((await retry).kind).toBe('duplicate');
  });

  it('close waits for the fsync of what was queued', async () => {
    const held = heldFsync();
    const store = open(held.fsync);
    const write = store.ingest(input(docvEvent()));
    const closing = store.close();
    const closed = settled(closing);
    await held.waitForCall(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(closed.done).toBe(false);
    held.calls[0]!(null);
    await closing;
    expect((await write).kind).toBe('accepted');
  });
});
