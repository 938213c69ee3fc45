import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SandboxStore } from '../../src/sandbox/store.js';
import { startReceiver } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { SqliteStore, ThreadedSqliteStore } from '../../src/store/drivers.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent, tempDir } from '../helpers/receiver.js';

/**
 * Issue 16, item 9: SQLite made its files 0644 (0777 & ~umask for folders), so every user of the
 * machine could read the events, their personal data and verification outcomes. Whoever owns the
 * process, and only they, may read what it creates now, whatever the umask.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function newDir(): string {
  const dir = tempDir('docv-file-modes-');
  dirs.push(dir);
  return dir;
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Every file and folder under `root`, with its mode, as `relative path → mode` in octal text. */
function modesUnder(root: string): Record<string, string> {
  const modes: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true }) as string[])
    modes[entry] = modeOf(join(root, entry)).toString(8);
  return modes;
}

// A umask of 0 is the worst case: what SQLite and mkdir ask for is what the files get. (The pool is
// forks, so the umask of this test's process is its own to set.)
let savedUmask: number;
beforeEach(() => {
  savedUmask = process.umask(0);
});
afterEach(() => {
  process.umask(savedUmask);
});

const describeOnUnix = process.platform === 'win32' ? describe.skip : describe;

describeOnUnix('SQLite files are private to their owner (0600, folders 0700)', () => {
  it('the store: a new database in a new folder, with its -wal and -shm once written', async () => {
    const root = newDir();
    const store = new SqliteStore({ path: join(root, 'data', 'nested', 'receiver.db') });
    try {
      expect((await store.ingest(ingestInput(docvEvent()))).kind).toBe('accepted');
      expect(modesUnder(root)).toEqual({
        data: '700',
        'data/nested': '700',
        'data/nested/receiver.db': '600',
        'data/nested/receiver.db-wal': '600',
        'data/nested/receiver.db-shm': '600',
      });
    } finally {
      await store.close();
    }
  });

  it('the store with its writer and checkpoint threads, opened as serve opens it', async () => {
    const root = newDir();
    const path = join(root, 'data', 'receiver.db');
    const store = await openStore(`sqlite:${path}`, { writerThread: true, checkpointThread: true });
    try {
      expect(store).toBeInstanceOf(ThreadedSqliteStore);
      expect((await store.ingest(ingestInput(docvEvent()))).kind).toBe('accepted');
      expect(modesUnder(root)).toEqual({
        data: '700',
        'data/receiver.db': '600',
        'data/receiver.db-wal': '600',
        'data/receiver.db-shm': '600',
      });
    } finally {
      await store.close();
    }
  });

  it('the receiver: the database, and the quarantine in it, after a delivery and a quarantined one', async () => {
    const root = newDir();
    const receiver = await startReceiver({
      port: 0,
      db: `sqlite:${join(root, 'data', 'docv.db')}`,
      logLevel: 'silent',
      webhookSecrets: ['file-modes-secret'],
    });
    try {
      const post = (body: string) =>
        fetch(receiver.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'file-modes-secret' },
          body,
        });
      expect((await post(JSON.stringify(docvEvent()))).status).toBe(200);
      // Authenticated but not a DocV event: quarantined.
      expect((await post(JSON.stringify({ eventType: 'APP_OPENED' }))).status).toBe(422);
      expect((await receiver.store.stats()).quarantine).toBe(1);
      expect(modesUnder(root)).toEqual({
        data: '700',
        'data/docv.db': '600',
        'data/docv.db-wal': '600',
        'data/docv.db-shm': '600',
      });
    } finally {
      await receiver.close();
    }
  });

  it("the sandbox's store", () => {
    const root = newDir();
    const store = new SandboxStore(join(root, 'data', 'sandbox.db'));
    try {
      expect(modesUnder(root)).toEqual({
        data: '700',
        'data/sandbox.db': '600',
        'data/sandbox.db-wal': '600',
        'data/sandbox.db-shm': '600',
      });
    } finally {
      store.close();
    }
  });

  it('an existing folder and database keep the modes their owner gave them, and its -wal and -shm follow the database', async () => {
    // Opened to a group on purpose (a backup job, say): changing that at start-up would break it.
    const root = newDir();
    const folder = join(root, 'shared');
    mkdirSync(folder);
    chmodSync(folder, 0o750);
    const path = join(folder, 'receiver.db');
    writeFileSync(path, '');
    chmodSync(path, 0o640);
    const store = new SqliteStore({ path });
    try {
      expect((await store.ingest(ingestInput(docvEvent()))).kind).toBe('accepted');
      expect(modesUnder(root)).toEqual({
        shared: '750',
        'shared/receiver.db': '640',
        'shared/receiver.db-wal': '640',
        'shared/receiver.db-shm': '640',
      });
    } finally {
      await store.close();
    }
  });

  it('a read-only open creates nothing', () => {
    const root = newDir();
    expect(() => new SqliteStore({ path: join(root, 'missing', 'receiver.db'), readonly: true })).toThrow();
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });
});
