/**
 * Group commit: writes that arrive close together share one commit. Every commit waits for the
 * disk (SQLite's fsync of the WAL, PostgreSQL's flush of its WAL before COMMIT returns), and a
 * busy receiver makes many small writes at once (each delivery received, claimed, attempted), so
 * one commit for all of them is what lets it ingest at the disk's pace instead of one fsync per
 * request. Each caller is still answered only once its own write is committed (and durable).
 *
 * The queue gathers: a batch starts after this loop turn's I/O callbacks (setImmediate), so every
 * request read by now joins it, and while the allowed batches are committing, newcomers wait and
 * go together in the next one. One bad item must not fail its neighbours: when a batch fails as a
 * whole, each item is committed alone, unless the failure says the database itself is down.
 *
 * Used for the SQLite write queue (sqlite/write-queue.ts: every write, its fsync run off the loop
 * through `durable`), PostgreSQL's ingest and PostgreSQL's attempt records (postgres-store.ts).
 */
export interface GroupCommitOptions<I, O> {
  /**
   * Commits the items together and answers one result per item, in order; throws (or rejects)
   * when the batch failed as a whole and nothing of it was kept. May be synchronous (SQLite):
   * then the batch and its retries alone are committed before any other code runs.
   */
  commit: (items: I[]) => O[] | Promise<O[]>;
  /** Most items in one batch. */
  maxBatch: number;
  /** Batches committing at once (default 1). */
  maxInFlight?: number;
  /** Two items with the same key never share a batch (the later one waits for the next). */
  keyOf?: (item: I) => string;
  /** While true (given how many items wait), batches wait to be started by flushNow(). */
  hold?: (queued: number) => boolean;
  /**
   * After a commit: resolves once what it wrote is durable. Its failure fails every item of the
   * commit (they are written, but nobody may be told so).
   */
  durable?: () => Promise<void>;
  /** A failure after which trying each item alone is pointless (the database is unreachable). */
  failsAll?: (err: unknown) => boolean;
  /** What a caller whose commit failed is given (default: the error itself). */
  commitError?: (err: unknown) => unknown;
  /** What a caller whose commit was not made durable is given (default: the error itself). */
  durableError?: (err: unknown) => unknown;
  /** An item had to wait because every allowed batch was committing (a sign of backlog). */
  onBackedUp?: () => void;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
  /** Answered once durable (the default), or as soon as committed. */
  durable: boolean;
}

interface Committed<I, O> {
  waiting: Waiting<I, O>;
  value: O;
}

export class GroupCommit<I, O> {
  private queue: Array<Waiting<I, O>> = [];
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];
  private readonly maxInFlight: number;
  /** Queued items answered at commit: nothing holds their batch back. */
  private queuedVolatile = 0;

  constructor(private readonly options: GroupCommitOptions<I, O>) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  /** Items waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Resolves with the item's result once its batch is committed and durable; with `durable:
   * false`, once it is committed (a write whose loss in a crash only means work done again: a
   * dispatcher's claim or attempt record, never an acknowledgement). Such an item is not held
   * back to gather a bigger batch either.
   */
  submit(item: I, options: { durable?: boolean } = {}): Promise<O> {
    const durable = options.durable ?? true;
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject, durable });
      if (!durable) this.queuedVolatile++;
      this.schedule();
    });
  }

  /** Starts the next batch now, whatever holds it (SQLite: as an fsync ends, so the batch joins the next one). */
  flushNow(): void {
    this.start();
  }

  /** Resolves once nothing is queued or committing (for a clean close). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.queue.length > 0 && this.inFlight >= this.maxInFlight) this.options.onBackedUp?.();
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    // After this turn's I/O callbacks: whatever else arrived in the same turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (
      this.queue.length > 0 &&
      this.inFlight < this.maxInFlight &&
      (this.queuedVolatile > 0 || !(this.options.hold?.(this.queue.length) ?? false))
    )
      this.start();
  }

  private take(): Array<Waiting<I, O>> {
    const { keyOf, maxBatch } = this.options;
    if (!keyOf) return this.queue.splice(0, maxBatch);
    const batch: Array<Waiting<I, O>> = [];
    const later: Array<Waiting<I, O>> = [];
    const keys = new Set<string>();
    for (const w of this.queue) {
      const key = keyOf(w.item);
      if (batch.length >= maxBatch || keys.has(key)) later.push(w);
      else {
        keys.add(key);
        batch.push(w);
      }
    }
    this.queue = later;
    return batch;
  }

  private start(): void {
    const batch = this.take();
    if (batch.length === 0) return;
    for (const w of batch) if (!w.durable) this.queuedVolatile--;
    this.inFlight++;
    settle(
      () => this.options.commit(batch.map((w) => w.item)),
      (values) => this.makeDurable(batch.map((waiting, i) => ({ waiting, value: values[i]! }))),
      (err) => {
        if (batch.length === 1 || this.options.failsAll?.(err)) {
          for (const w of batch) w.reject(this.commitError(err));
          this.finished();
        } else {
          this.commitAlone(batch, 0, []);
        }
      },
    );
  }

  /** Each item in its own commit, in order; the synchronous ones without leaving this call. */
  private commitAlone(batch: Array<Waiting<I, O>>, from: number, done: Array<Committed<I, O>>): void {
    for (let i = from; i < batch.length; i++) {
      const waiting = batch[i]!;
      let result: O[] | Promise<O[]>;
      try {
        result = this.options.commit([waiting.item]);
      } catch (err) {
        waiting.reject(this.commitError(err));
        continue;
      }
      if (result instanceof Promise) {
        result
          .then(
            (values) => void done.push({ waiting, value: values[0]! }),
            (err: unknown) => waiting.reject(this.commitError(err)),
          )
          .then(() => this.commitAlone(batch, i + 1, done));
        return;
      }
      done.push({ waiting, value: result[0]! });
    }
    this.makeDurable(done);
  }

  private makeDurable(committed: Array<Committed<I, O>>): void {
    const durable = this.options.durable;
    if (committed.length === 0 || !durable) {
      for (const { waiting, value } of committed) waiting.resolve(value);
      this.finished();
      return;
    }
    // Answered at commit: they do not wait for the fsync.
    const done: Array<Committed<I, O>> = [];
    for (const c of committed) {
      if (c.waiting.durable) done.push(c);
      else c.waiting.resolve(c.value);
    }
    if (done.length === 0) {
      // Nothing waits for this commit to be durable: no fsync of its own (the next durable
      // commit's fsync covers it, since it syncs the whole log).
      this.finished();
      return;
    }
    durable().then(
      () => {
        for (const { waiting, value } of done) waiting.resolve(value);
        this.finished();
      },
      (err: unknown) => {
        const failure = this.options.durableError?.(err) ?? err;
        for (const { waiting } of done) waiting.reject(failure);
        this.finished();
      },
    );
  }

  private finished(): void {
    this.inFlight--;
    this.schedule();
    if (this.inFlight === 0 && this.queue.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private commitError(err: unknown): unknown {
    return this.options.commitError?.(err) ?? err;
  }
}

/** Runs `fn` and hands its result on, synchronously when it is not a promise. */
function settle<T>(fn: () => T | Promise<T>, ok: (value: T) => void, fail: (err: unknown) => void): void {
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (err) {
    fail(err);
    return;
  }
  if (result instanceof Promise) result.then(ok, fail);
  else ok(result);
}
