import { isRetryable, isUnavailable } from './connection.js';

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

export interface GroupCallsOptions<I> {
  /** Most items in one call. */
  maxBatch: number;
  /** Two items with the same key never share a call (the later one waits for the next). */
  keyOf?: (item: I) => string;
}

/**
 * Turns calls made close together into one call of `run` with all their items: on PostgreSQL a
 * statement outside a transaction is a commit, and every commit waits for a flush of the WAL, so
 * statements that can share one should. Items that arrive while a call is running wait for it to
 * finish and then go together (one call at a time: that is what makes them gather).
 *
 * A failure of the whole call is retried when PostgreSQL says so (deadlock, serialization) and
 * otherwise, unless the database is unavailable, each item runs alone so that one bad item fails
 * only its own caller.
 */
export class GroupCalls<I, O> {
  private queue: Array<Waiting<I, O>> = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: GroupCallsOptions<I>,
  ) {}

  call(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (for a clean close). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.queue.length === 0) return;
    this.scheduled = true;
    // After this turn's I/O callbacks: whatever else finished in the same turn joins the call.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private take(): Array<Waiting<I, O>> {
    const keyOf = this.options.keyOf;
    if (!keyOf) return this.queue.splice(0, this.options.maxBatch);
    const batch: Array<Waiting<I, O>> = [];
    const later: Array<Waiting<I, O>> = [];
    const keys = new Set<string>();
    for (const w of this.queue) {
      const key = keyOf(w.item);
      if (batch.length >= this.options.maxBatch || keys.has(key)) later.push(w);
      else {
        keys.add(key);
        batch.push(w);
      }
    }
    this.queue = later;
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.take();
    try {
      const results = await this.runRetrying(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1 || isUnavailable(err)) {
        for (const w of batch) w.reject(err);
      } else {
        for (const w of batch) {
          try {
            w.resolve((await this.runRetrying([w.item]))[0]!);
          } catch (alone) {
            w.reject(alone);
          }
        }
      }
    } finally {
      this.running = false;
      this.schedule();
      if (this.queue.length === 0) for (const done of this.idleWaiters.splice(0)) done();
    }
  }

  private async runRetrying(items: I[]): Promise<O[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.run(items);
      } catch (err) {
        if (attempt >= 3 || !isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
  }
}
