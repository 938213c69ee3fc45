import pg from 'pg';
import { quoteIdent, type PostgresSettings } from './connection.js';
import { LOG_CHANNEL } from './log-order.js';

/** Waits between reconnections: 0.5 s doubling to 30 s. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * Wakes dispatchers when events are committed, in this process or any other on the same schema:
 * every ingest commit that accepted an event NOTIFYs the schema's channel (ingest.ts), and this
 * client LISTENs on it. One connection of its own (a pooled one would be handed to other
 * queries, and a LISTEN lasts only as long as its session). When the connection fails it is
 * opened again, with a growing pause, and the listeners are called once it is back: events may
 * have come while nobody listened. A wake-up is only a hint; the dispatcher's own poll still runs.
 */
export class LogListener {
  private readonly listeners = new Set<() => void>();
  private client: pg.Client | null = null;
  private retryMs = RETRY_FIRST_MS;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly settings: PostgresSettings) {}

  /** Calls `listener` after each commit of new events (several commits may share a call). */
  add(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.client === null && this.timer === null) void this.connect();
    return () => {
      this.listeners.delete(listener);
    };
  }

  private wake(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the others are still woken.
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.settings.connectionString,
      connectionTimeoutMillis: this.settings.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'docv-webhooks listener',
      ...(this.settings.schema ? { options: `-c search_path=${this.settings.schema}` } : {}),
    });
    this.client = client;
    let failed = false;
    const fail = (): void => {
      if (failed) return;
      failed = true;
      this.client = null;
      void client.end().catch(() => undefined);
      this.retry();
    };
    client.on('error', fail);
    client.on('end', fail);
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      const { rows } = await client.query<{ channel: string }>(`SELECT ${LOG_CHANNEL} AS channel`);
      await client.query(`LISTEN ${quoteIdent(rows[0]!.channel)}`);
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      this.retryMs = RETRY_FIRST_MS;
      // Whatever was committed while nobody listened.
      this.wake();
    } catch {
      fail();
    }
  }

  private retry(): void {
    if (this.closed || this.timer !== null) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, wait);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
