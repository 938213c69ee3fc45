import Database from 'better-sqlite3';
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { SqliteStore, ThreadedSqliteStore } from '../../src/store/drivers.js';
import { docvEvent } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { sqliteScratch } from '../helpers/sqlite-scratch.js';

/** Events, each of its own transaction. */
function events(n: number, from = 0): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) =>
    docvEvent({
      docvTransactionId: `tx-${from + i}`,
      eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, from + i)).toISOString(),
    }),
  );
}

/** Frames in the WAL file (32-byte header, then a 24-byte header and a 4 KiB page per frame). */
function walFrames(path: string): number {
  return Math.max(0, (statSync(`${path}-wal`).size - 32) / (4096 + 24));
}

describe('SQLite background checkpoints', () => {
  const scratch = sqliteScratch('docv-checkpoint-');
  const path = scratch.path;

  it('copies committed pages into the database file long before the WAL reaches wal_autocheckpoint', async () => {
    const file = path();
    const store = new SqliteStore({ path: file, checkpointThread: true, outbox: { destinations: ['forward:sink'] } });
    scratch.keep(store);
    const before = statSync(file).size;
    await Promise.all(events(300).map((e) => store.ingest(ingestInput(e))));
    // 300 events write a few hundred WAL frames, far below the 10,000 that trigger SQLite's own checkpoint.
    expect(walFrames(file)).toBeLessThan(2_000);
    // The file grows while the thread's checkpoint runs; its report comes by message just after.
    await waitFor(
      () => statSync(file).size > before + 100 * 1024 && (store.checkpointStats()?.checkpoints ?? 0) > 0,
      'a checkpoint that grew the database file',
      5_000,
    );
    expect(store.checkpointStats()?.failures).toBe(0);
    // Nothing is written any more: once the next checkpoint has run, the file alone, without its
    // WAL, holds every event.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const alone = join(dirname(file), 'copy.db');
    copyFileSync(file, alone);
    const copy = new Database(alone, { readonly: true });
    try {
      expect(copy.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 300 });
    } finally {
      copy.close();
    }
  });

  it('without the thread, the database file does not grow until SQLite checkpoints inside a commit', async () => {
    const file = path();
    const store = new SqliteStore({ path: file, outbox: { destinations: ['forward:sink'] } });
    scratch.keep(store);
    const before = statSync(file).size;
    await Promise.all(events(300).map((e) => store.ingest(ingestInput(e))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(statSync(file).size).toBe(before);
    expect(store.checkpointStats()).toBeNull();
  });

  it('keeps going while ingest goes on, and closes cleanly: the WAL is removed and everything is there on reopen', async () => {
    const file = path();
    const store = new SqliteStore({ path: file, checkpointThread: true, outbox: { destinations: ['forward:sink'] } });
    for (let round = 0; round < 10; round++) {
      await Promise.all(events(100, round * 100).map((e) => store.ingest(ingestInput(e))));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = await openStore(`sqlite:${file}`, { readonly: true });
    scratch.keep(reopened);
    expect((await reopened.stats()).events).toBe(1000);
  });

  it('runs from the writer thread as well, and the threaded store closes cleanly', async () => {
    const file = path();
    const store = await ThreadedSqliteStore.open({
      path: file,
      checkpointThread: true,
      outbox: { destinations: ['forward:sink'] },
    });
    const before = statSync(file).size;
    await Promise.all(events(300).map((e) => store.ingest(ingestInput(e))));
    await waitFor(() => statSync(file).size > before + 100 * 1024, 'the database file to grow', 5_000);
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
  });
});
