import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { freePort } from './cli.js';

export { freePort };

/** The NATS server with JetStream every machine here runs (CI too). */
export const NATS_ADDRESS = '127.0.0.1:4222';

const NATS_SERVER = process.env.DOCV_TEST_NATS_SERVER ?? 'nats-server';

/**
 * A throwaway nats-server with JetStream on a free loopback port, its streams in a temp dir.
 * `stop()` and `start()` keep port and dir, as a restarted server would: a stream and what it
 * acknowledged are there again after a restart (JetStream writes before it acks; a killed
 * process leaves its writes to the OS).
 */
export interface ThrowawayNats {
  port: number;
  address: string;
  dir: string;
  start(): Promise<void>;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

export async function startThrowawayNats(): Promise<ThrowawayNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'docv-nats-'));
  let child: ChildProcess | undefined;

  const server: ThrowawayNats = {
    port,
    address: `127.0.0.1:${port}`,
    dir,
    async start() {
      if (child) throw new Error('the throwaway nats-server is already running');
      let output = '';
      const started = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      // It logs to stderr; "Server is ready" comes once it accepts clients, JetStream included.
      const ready = new Promise<void>((resolve, reject) => {
        const onData = (c: Buffer) => {
          output = (output + c.toString()).slice(-4000);
          if (output.includes('Server is ready')) resolve();
        };
        started.stdout?.on('data', onData);
        started.stderr?.on('data', onData);
        started.once('error', reject);
        started.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${output}`)));
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`nats-server on port ${port} did not start: ${output}`)), 10_000);
      });
      try {
        await Promise.race([ready, timeout]);
      } catch (err) {
        started.kill('SIGKILL');
        child = undefined;
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(signal = 'SIGTERM') {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill(signal);
      // SIGTERM lets it flush and close; one that hangs is killed.
      const killer = setTimeout(() => running.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
    async destroy() {
      await server.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** A test's own client of a server: a JetStream client and manager, for its streams and to consume. */
export interface NatsTestClient {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export async function natsTestClient(address = NATS_ADDRESS): Promise<NatsTestClient> {
  const nc = await connect({ servers: address, reconnect: false, timeout: 5_000 });
  return { nc, js: nc.jetstream(), jsm: await nc.jetstreamManager() };
}

/** A name no parallel test (or earlier run) uses: for a stream and its subjects. */
export function uniqueNatsName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
