import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './cli.js';

export { freePort };

/** The Redis every machine here runs (CI too). */
export const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * A throwaway redis-server on a free loopback port, its data in a temp dir with an fsync on every
 * write, so an entry Redis acknowledged survives a SIGKILL and is there after `start()`, as after
 * a crash of a real one. `stop()` and `start()` keep port and dir, as a restarted server would.
 */
export interface ThrowawayRedis {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

export async function startThrowawayRedis(options: { port?: number; args?: string[] } = {}): Promise<ThrowawayRedis> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'docv-redis-'));
  let child: ChildProcess | undefined;
  let output = '';

  const server: ThrowawayRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      if (child) throw new Error('the throwaway redis-server is already running');
      output = '';
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
        ...(options.args ?? []),
      ];
      const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      started.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      started.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      const deadline = Date.now() + 10_000;
      while (!(await answersPing(port))) {
        if (started.exitCode !== null || Date.now() > deadline) {
          started.kill('SIGKILL');
          child = undefined;
          throw new Error(`redis-server on port ${port} did not start: ${output}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop(signal = 'SIGTERM') {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill(signal);
      const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
    async destroy() {
      await server.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** PING over a raw socket: true once the server answers PONG (or NOAUTH: it is up, and wants a password). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let seen = '';
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (c: Buffer) => {
      seen += c.toString();
      if (seen.includes('\r\n')) done(seen.startsWith('+PONG') || seen.startsWith('-NOAUTH'));
    });
  });
}

/** A stream entry as a consumer reads it: the body field and every other field as a header. */
export interface StreamEntry {
  id: string;
  body: string;
  headers: Record<string, string>;
  /** The field names in the order XADD gave them. */
  fields: string[];
}

/** Every entry of `stream`, oldest first (XRANGE - +). */
export async function readStream(client: Redis, stream: string): Promise<StreamEntry[]> {
  const entries = await client.xrange(stream, '-', '+');
  return entries.map(([id, flat]) => {
    const headers: Record<string, string> = {};
    const fields: string[] = [];
    let body = '';
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i]!;
      fields.push(name);
      if (name === 'body') body = flat[i + 1]!;
      else headers[name] = flat[i + 1]!;
    }
    return { id, body, headers, fields };
  });
}

/** A client for the test itself (the consumer), failing fast rather than reconnecting forever. */
export function testRedisClient(url = REDIS_URL): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 5_000 });
  client.on('error', () => undefined);
  return client;
}
