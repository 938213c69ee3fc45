import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killLiveCliProcesses, spawnCli, type CliProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { startWorker } from '../../src/server/index.js';

/**
 * `worker --metrics-port`: a worker takes no deliveries, so its attempts are counted nowhere but
 * in its own process. Here `serve --no-dispatch` takes the events and a `worker` on the same
 * SQLite file forwards them to a real sink; the operator scrapes the worker.
 */
const ADMIN_TOKEN = 'worker-metrics-admin-token-0123456789';
const EVENTS = 12;

let sink: Server;
let sinkUrl: string;
let received = 0;
const processes: CliProcess[] = [];

beforeAll(async () => {
  sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/docv`;
});

afterAll(async () => {
  for (const p of processes) p.child.kill('SIGTERM');
  await Promise.all(processes.map((p) => p.exited(10_000).catch(() => undefined)));
  killLiveCliProcesses();
  await new Promise((resolve) => sink.close(resolve));
});

describe('worker: health and metrics', () => {
  it('serves /healthz, /readyz and, with the admin token, /metrics counting the attempts it made', async () => {
    const db = join(tempDir('docv-worker-metrics-'), 'receiver.db');
    const port = await freePort();
    const serve = spawnCli([
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--db',
      db,
      '--log-level',
      'warn',
      '--no-dispatch',
      '--forward-url',
      sinkUrl,
    ]);
    processes.push(serve);
    const [, webhookUrl] = (await serve.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/))!;
    for (let i = 0; i < EVENTS; i++) {
      const res = await fetch(webhookUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          eventType: 'APP_OPENED',
          docvTransactionId: `worker-metrics-${i}`,
          eventTime: new Date(Date.UTC(2026, 2, 1, 10, 0, i)).toISOString(),
        }),
      });
      expect(res.status).toBe(200);
    }

    const worker = spawnCli([
      'worker',
      '--db',
      db,
      '--log-level',
      'warn',
      '--forward-url',
      sinkUrl,
      '--metrics-port',
      '0',
      '--admin-token',
      ADMIN_TOKEN,
    ]);
    processes.push(worker);
    const [, base] = (await worker.waitForStdout(/health and metrics\s+(http:\/\/[^/\s]+)\/healthz/))!;
    await waitFor(() => received >= EVENTS, `${EVENTS} forwards at the sink`, 15_000);

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', role: 'worker' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', role: 'worker', store: 'sqlite' });

    const anonymous = await fetch(`${base}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);

    // The attempt is recorded a few milliseconds after the sink answers (records share a commit).
    let text = '';
    await waitFor(
      async () => {
        const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        text = await res.text();
        return /^docv_outbox_deliveries\{state="delivered"\} 12$/m.test(text);
      },
      'the outbox to show every delivery delivered',
      10_000,
    );
    expect(text).toMatch(
      /^docv_delivery_attempts_total\{destination="forward:127\.0\.0\.1:\d+\/docv",outcome="delivered",source="default"\} 12$/m,
    );
    expect(text).toMatch(/^docv_commit_batch_size_count [1-9]\d*$/m);
    expect(text).toMatch(/^docv_process_resident_memory_bytes \d+/m);
    // A worker receives nothing: no ingest series that could only read zero.
    expect(text).not.toContain('docv_deliveries_received_total');
    expect(text).not.toContain('docv_ack_latency_seconds');

    const unknown = await fetch(`${base}/v1/events`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ status: 404, detail: expect.stringContaining('/metrics') });

    worker.child.kill('SIGTERM');
    expect((await worker.exited(15_000)).code).toBe(0);
  });

  it('refuses to serve its metrics beyond loopback without an admin token, and says how to fix it', async () => {
    const db = join(tempDir('docv-worker-exposed-'), 'receiver.db');
    const worker = spawnCli([
      'worker',
      '--db',
      db,
      '--forward-url',
      sinkUrl,
      '--metrics-port',
      '0',
      '--metrics-host',
      '0.0.0.0',
    ]);
    const result = await worker.exited(15_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("refusing to serve the worker's metrics on 0.0.0.0 without a token");
    expect(result.stderr).toContain('--admin-token');
  });

  it('rejects a --metrics-port that is not a port', async () => {
    const result = await spawnCli(['worker', '--forward-url', sinkUrl, '--metrics-port', 'eighty']).exited(15_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('"eighty" is not a port number');
  });

  it('names the flag to change when its port is taken, as serve does for its own', async () => {
    const taken = (sink.address() as AddressInfo).port;
    const dir = tempDir('docv-worker-port-taken-');
    const worker = await spawnCli([
      'worker',
      '--db',
      join(dir, 'w.db'),
      '--forward-url',
      sinkUrl,
      '--metrics-port',
      String(taken),
    ]).exited(15_000);
    expect(worker.code).not.toBe(0);
    expect(worker.stderr).toContain(`port ${taken} on 127.0.0.1 is already in use; pick another with --metrics-port`);
    const serve = await spawnCli(['serve', '--db', join(dir, 's.db'), '--port', String(taken)]).exited(15_000);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toContain(`port ${taken} on 127.0.0.1 is already in use; pick another with --port`);
  });

  it('closes a connection that trickles its headers, as the receiver does', async () => {
    const db = join(tempDir('docv-worker-slow-'), 'receiver.db');
    const worker = await startWorker({
      db,
      logLevel: 'silent',
      dispatch: { forwardUrls: [sinkUrl] },
      metricsPort: 0,
      timeouts: { headersMs: 300, requestMs: 300 },
    });
    try {
      const { port } = new URL(worker.url!);
      const socket = connect(Number(port), '127.0.0.1');
      const started = Date.now();
      const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
      socket.on('error', () => undefined);
      // Read what comes back (an unread socket never reports its end).
      let answer = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // Without the connection sweep Node checks every 30 s: the trickler would outlast this.
      const heldMs = await Promise.race([
        closed,
        new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 3_000)),
      ]);
      socket.destroy();
      expect(heldMs).toBeLessThan(3_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await worker.close();
    }
  });
});
