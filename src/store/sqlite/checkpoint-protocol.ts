/** What the checkpoint thread is started with. */
export interface CheckpointThreadData {
  /** The database file (its WAL is `<path>-wal`). */
  path: string;
  /** Pause between two checkpoints. */
  intervalMs: number;
}

export type ToCheckpointer = { kind: 'stop' };

export type FromCheckpointer =
  /** After each checkpoint that copied frames: the WAL's length and how much of it is in the database file. */
  | { kind: 'checkpointed'; walFrames: number; backfilled: number }
  /** A checkpoint failed; the next interval tries again and the writer's own checkpoints still run. */
  | { kind: 'error'; message: string }
  | { kind: 'stopped' };
