import type Database from 'better-sqlite3';
import { close as closeFd, closeSync, fsync, open as openFd } from 'node:fs';
import { dirname } from 'node:path';
import { GroupCommit } from '../group-commit.js';
import { StoreUnavailableError } from '../types.js';

type Fsync = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;

export interface WriteQueueOptions {
  /** The write-ahead log we fsync ourselves; null for `:memory:` and read-only stores. */
  walPath: string | null;
  /** Most writes committed in one transaction. */
  maxBatch: number;
  /** How the WAL is fsynced (default: fs.fsync, on the thread pool); tests hold or fail it. */
  fsync?: Fsync | undefined;
  /** Before each commit (the store forgets what it read for the previous one). */
  beforeCommit?: () => void;
  /** Last in each commit's transaction, after its writes (the log cursors moved by them, once). */
  endOfCommit?: () => void;
  /** Told about every group commit: how many writes shared it and how long it took. */
  onCommit?: ((batchSize: number, durationMs: number) => void) | undefined;
}

/**
 * The SQLite store's writes: every write (ingest, claims, completions, quarantine, destinations)
 * is a function run in a group commit (store/group-commit.ts) on the one connection, and its
 * promise settles once the WAL holding it is fsynced. better-sqlite3 is synchronous, so each
 * commit blocks the event loop; the fsync that makes it durable does not (see whenDurable).
 */
export class SqliteWriteQueue {
  private readonly writes: GroupCommit<() => unknown, unknown>;
  private closed = false;
  /** Committed writes waiting for the next fsync of the WAL before they are reported done. */
  private awaitingSync: Array<(err: Error | null) => void> = [];
  private syncing: Promise<void> | null = null;
  /** Open for the life of the store: SQLite removes the WAL only when its last connection closes. */
  private walFd: number | null = null;
  private directorySynced = false;
  private readonly fsyncWal: Fsync;

  constructor(
    private readonly db: Database.Database,
    private readonly options: WriteQueueOptions,
  ) {
    this.fsyncWal = options.fsync ?? fsync;
    this.writes = new GroupCommit<() => unknown, unknown>({
      commit: (runs) => this.commit(runs),
      maxBatch: options.maxBatch,
      // Commits go on while an fsync runs: each joins the next one (awaitingSync).
      maxInFlight: Number.POSITIVE_INFINITY,
      // While an fsync is in flight a commit made now would wait for the next fsync anyway, so the
      // queue keeps gathering and syncWal commits it the moment the fsync ends, just before
      // starting the next one: same acknowledgement time, bigger commits and fewer fsyncs when
      // writes come from every side (ingest, claims, completions).
      hold: (queued) => this.syncing !== null && queued < options.maxBatch,
      durable: () => new Promise<void>((resolve, reject) => this.whenDurable((err) => (err ? reject(err) : resolve()))),
      commitError: (err) => new StoreUnavailableError(`could not commit: ${(err as Error).message}`, { cause: err }),
      durableError: (err) =>
        new StoreUnavailableError(`could not make the commit durable: ${(err as Error).message}`, { cause: err }),
    });
  }

  /**
   * Queues a write; earlier writes of the same commit are visible to it. It resolves once the WAL
   * holding it is fsynced, or (`durable: false`) once committed: see GroupCommit.submit.
   */
  enqueue<T>(run: () => T, options: { durable?: boolean } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    return this.writes.submit(run, options) as Promise<T>;
  }

  /** Commits what is queued, waits for its fsync, and lets go of the WAL (the connection closes next). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Whatever is queued still gets its commit (and its fsync) before the file closes.
    for (let i = 0; this.writes.queued > 0 && i < 1_000_000; i++) this.writes.flushNow();
    await this.writes.idle();
    for (let i = 0; this.syncing && i < 1_000; i++) await this.syncing;
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
  }

  /** One transaction for a batch; earlier work of the batch is visible to later work. */
  private commit(runs: Array<() => unknown>): unknown[] {
    const started = performance.now();
    this.options.beforeCommit?.();
    const results = this.db
      .transaction(() => {
        const out = runs.map((run) => run());
        this.options.endOfCommit?.();
        return out;
      })
      .immediate();
    this.options.onCommit?.(runs.length, performance.now() - started);
    return results;
  }

  /**
   * Durability without blocking the event loop. The connection runs at synchronous=NORMAL: a
   * commit writes its WAL frames but does not wait for the disk. Every queued write is reported
   * done (and so every 2xx sent) only after an fsync of the WAL that started after its commit,
   * which is what synchronous=FULL would have waited for inside the commit, except that here the
   * fsync runs on libuv's thread pool while the loop goes on reading requests; commits made in the
   * meantime share the next fsync. A later write that reads an earlier one's rows (a duplicate, a
   * claim) waits for a later fsync, so nothing is ever answered from data that is not yet durable.
   * A crash of the process loses nothing either way (the frames are in the OS); a power cut can
   * only take back writes nobody was told about. Checkpoints at NORMAL still fsync the WAL and
   * the database themselves.
   */
  private whenDurable(done: (err: Error | null) => void): void {
    if (!this.options.walPath) return done(null);
    this.awaitingSync.push(done);
    this.syncing ??= this.syncWal(this.options.walPath);
  }

  private async syncWal(walPath: string): Promise<void> {
    for (let round = 0; this.awaitingSync.length > 0 && round < 1_000_000; round++) {
      const waiting = this.awaitingSync;
      this.awaitingSync = [];
      let error: Error | null = null;
      try {
        const fd = (this.walFd ??= await openPath(walPath));
        await new Promise<void>((resolve, reject) => this.fsyncWal(fd, (err) => (err ? reject(err) : resolve())));
        // The WAL's directory entry must be durable too, once: SQLite would sync the directory
        // at the WAL's first sync, which at NORMAL only comes with the first checkpoint. Like
        // SQLite, a file system that cannot sync a directory is not an error.
        if (!this.directorySynced) {
          await fsyncPath(dirname(walPath)).catch(() => undefined);
          this.directorySynced = true;
        }
      } catch (err) {
        error = err as Error;
        if (this.walFd !== null) closeFd(this.walFd, () => undefined);
        this.walFd = null;
      }
      for (const w of waiting) w(error);
      // What gathered during this fsync: commit it now so it joins the next one.
      if (this.writes.queued > 0) this.writes.flushNow();
    }
    this.syncing = null;
  }
}

/** The fs calls below run on libuv's thread pool; read-only descriptors suffice for fsync on Linux. */
function openPath(path: string): Promise<number> {
  return new Promise((resolve, reject) => openFd(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

async function fsyncPath(path: string): Promise<void> {
  const fd = await openPath(path);
  try {
    await fsyncFd(fd);
  } finally {
    closeFd(fd, () => undefined);
  }
}
