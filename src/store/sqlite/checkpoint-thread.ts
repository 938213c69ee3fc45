import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointThreadData, FromCheckpointer, ToCheckpointer } from './checkpoint-protocol.js';

/**
 * The SQLite checkpoint thread (see checkpointer.ts): its own connection copies what the WAL holds
 * into the database file and fsyncs it, every few tens of milliseconds, so the writer's commits
 * rarely find a checkpoint to do themselves.
 */
const port = parentPort;
if (!port) throw new Error('checkpoint-thread runs as a worker thread');
const { path, intervalMs } = workerData as CheckpointThreadData;

// Default synchronous (FULL): a checkpoint fsyncs the WAL before copying and the database after.
const db = new Database(path, { fileMustExist: true });
let timer: NodeJS.Timeout | undefined;
let lastBackfilled = -1;

function post(message: FromCheckpointer): void {
  port!.postMessage(message);
}

function checkpoint(): void {
  try {
    // PASSIVE: copies what no reader still needs, never waits for the writer, never blocks it.
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (result && result.checkpointed > 0 && result.checkpointed !== lastBackfilled) {
      post({ kind: 'checkpointed', walFrames: result.log, backfilled: result.checkpointed });
    }
    lastBackfilled = result?.checkpointed ?? -1;
  } catch (err) {
    // SQLITE_BUSY when another connection is checkpointing: that one does the work.
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') post({ kind: 'error', message: (err as Error).message });
  }
  timer = setTimeout(checkpoint, intervalMs);
}

timer = setTimeout(checkpoint, intervalMs);

port.on('message', (m: ToCheckpointer) => {
  if (m.kind !== 'stop') return;
  clearTimeout(timer);
  db.close();
  post({ kind: 'stopped' });
  port.close();
});
