import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../threads/spawn.js';
import type { CheckpointThreadData, FromCheckpointer, ToCheckpointer } from './checkpoint-protocol.js';

/** Between two background checkpoints: each then copies a few hundred pages at ingest rates. */
export const CHECKPOINT_INTERVAL_MS = 50;

/** How long stop() waits for a checkpoint in progress before it terminates the thread. */
const STOP_TIMEOUT_MS = 5_000;

export interface CheckpointerStats {
  /** Checkpoints that copied frames. */
  checkpoints: number;
  /** Checkpoints that failed (the writer's own checkpoints still run). */
  failures: number;
  lastError: string | null;
}

/**
 * Background checkpoints, on a thread with its own connection.
 *
 * A checkpoint copies the pages the WAL holds into the database file and fsyncs that file. SQLite
 * runs it inside the commit that crosses wal_autocheckpoint, so on the thread that commits: for
 * the receiver, the event loop that answers deliveries, blocked for as long as the copy and the
 * fsync of the database take (tens of milliseconds, up to the disk's worst fsync), every few
 * thousand events. Here a thread does it every CHECKPOINT_INTERVAL_MS instead, PASSIVE (it never
 * waits for or blocks the writer). The writer keeps its wal_autocheckpoint as the backstop: when
 * it comes due it finds the pages already copied, so it copies little, and it lets the next
 * commit start the WAL again from its beginning (a WAL written without pause may never be wholly
 * copied at the moment a commit starts, which is when SQLite rewinds it).
 */
export class SqliteCheckpointer {
  private readonly stats: CheckpointerStats = { checkpoints: 0, failures: 0, lastError: null };
  private stopping: Promise<void> | null = null;
  private exited = false;

  private constructor(private readonly worker: Worker) {
    worker.once('exit', () => (this.exited = true));
    worker.on('message', (m: FromCheckpointer) => {
      if (m.kind === 'checkpointed') this.stats.checkpoints++;
      else if (m.kind === 'error') {
        this.stats.failures++;
        this.stats.lastError = m.message;
      }
    });
    // A dead thread only means the writer's own checkpoints do all the work again.
    worker.on('error', (err) => {
      this.stats.failures++;
      this.stats.lastError = err.message;
    });
    worker.unref();
  }

  /** Null when no thread can be started here: the writer's own checkpoints then do the work. */
  static start(path: string, intervalMs = CHECKPOINT_INTERVAL_MS): SqliteCheckpointer | null {
    try {
      const workerData: CheckpointThreadData = { path, intervalMs };
      return new SqliteCheckpointer(spawnModuleWorker(import.meta.url, 'checkpoint-thread', { workerData }));
    } catch {
      return null;
    }
  }

  get current(): Readonly<CheckpointerStats> {
    return this.stats;
  }

  /** Waits for a checkpoint in progress, then closes the thread's connection and ends it. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      const done = () => {
        clearTimeout(deadline);
        resolve();
      };
      const deadline = setTimeout(() => void this.worker.terminate().then(done, done), STOP_TIMEOUT_MS);
      this.worker.once('exit', done);
      this.worker.postMessage({ kind: 'stop' } satisfies ToCheckpointer);
    });
    return this.stopping;
  }
}
