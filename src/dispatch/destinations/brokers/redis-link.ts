import { isIP } from 'node:net';
import { Redis, ReplyError } from 'ioredis';
import type { RedisTarget } from './redis-url.js';

/** How long close() waits for QUIT's reply before cutting the socket. */
const QUIT_WAIT_MS = 1_000;

/**
 * One connection to Redis, opened once and never reopened by the client library: ioredis would
 * otherwise reconnect on its own and hold commands in its offline queue while Redis is down,
 * so an attempt would wait unseen instead of failing and going back to the retry schedule. Here a
 * lost connection ends the link; the destination opens a new one at the next attempt.
 */
export class RedisLink {
  private readonly client: Redis;
  /** The last error the client reported: a failed connect rejects only with "Connection is closed". */
  private lastError: Error | undefined;
  /** Settles once the connection is usable (authenticated, on its database). */
  readonly ready: Promise<void>;

  constructor(target: RedisTarget, connectTimeoutMs: number) {
    this.client = new Redis({
      host: target.host,
      port: target.port,
      username: target.username,
      password: target.password,
      // rediss://: TLS, the certificate checked against the host name (SNI takes no IP address).
      ...(target.tls ? { tls: isIP(target.host) ? {} : { servername: target.host } } : {}),
      connectionName: 'docv-webhooks',
      lazyConnect: true,
      // Fail at once when not connected, never queue: the dispatcher retries with its schedule.
      enableOfflineQueue: false,
      retryStrategy: null,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: connectTimeoutMs,
      // disconnect() ends the socket, then destroys it if the server has not closed it by then.
      disconnectTimeout: 200,
      // RESP2 works with every Redis that has streams (5.0+), and no server-pushed maintenance
      // handoff may pause writes or move the connection behind the destination's back.
      protocol: 2,
      maintNotifications: 'disabled',
    });
    this.client.on('error', (err: Error) => {
      this.lastError = err;
    });
    this.ready = this.open(target.db);
    // Awaited by the attempts; one that gave up early must not leave it unhandled.
    this.ready.catch(() => undefined);
  }

  /** Closed by the server, the network or close(): the next attempt needs a new link. */
  get ended(): boolean {
    return this.client.status === 'end' || this.client.status === 'close';
  }

  /** `XADD`: resolves with the entry id Redis gave, once Redis has appended the entry. */
  async xadd(args: readonly (string | number)[]): Promise<string> {
    try {
      const id = await this.client.call('XADD', ...args);
      return String(id);
    } catch (err) {
      throw this.reason(err);
    }
  }

  /** Ends the connection: QUIT when it is up (its reply means earlier replies are in), else at once. */
  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.client.quit().catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, QUIT_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  /** Cuts the connection now, replies pending or not: after a failure nothing more is awaited on it. */
  abandon(): void {
    this.client.disconnect();
  }

  private async open(db: number): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw this.reason(err);
    }
    // SELECT here rather than ioredis's `db` option: ioredis only reports a failed SELECT of its
    // handshake as an event and carries on, so entries would land in database 0.
    if (db !== 0) {
      try {
        await this.client.select(db);
      } catch (err) {
        throw new Error(`cannot use database ${db}: ${messageOf(err)}`);
      }
    }
  }

  /** The error worth showing: a closed connection says why it closed when the client saw why. */
  private reason(err: unknown): Error {
    const error = err instanceof Error ? err : new Error(String(err));
    if (error.message === 'Connection is closed.' && this.lastError) return this.lastError;
    return error;
  }
}

/** Redis answered with an error (WRONGTYPE, OOM, NOPERM…): the connection itself is fine. */
export function isReplyError(err: unknown): boolean {
  return err instanceof (ReplyError as new (...args: never[]) => Error);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
