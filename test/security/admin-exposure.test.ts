import { existsSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildApp,
  ConfigError,
  createLogger,
  defaultReceiverConfig,
  startReceiver,
  startWorker,
  type RunningReceiver,
  type RunningWorker,
} from '../../src/server/index.js';
import { isLoopbackAuthority } from '../../src/server/loopback.js';
import { openStore, type Store } from '../../src/store/index.js';
import { killLiveCliProcesses, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';
import { memoryLogger } from './helpers.js';

/**
 * Who may use an admin API without a token (issue 16): being bound to loopback is not enough.
 * A proxy on this machine forwards from loopback, and a web page can reach a loopback server by
 * pointing a name it owns at 127.0.0.1 (DNS rebinding) or by posting a form to it. Each attack
 * below got a 200 before; now it gets a 403 problem that says why and what to set.
 *
 * Real servers on 127.0.0.1, requests sent with node:http so that Host and the forwarding headers
 * are exactly what a proxy or a browser would send. The guard does not depend on the store
 * backend, so SQLite only.
 */

const dirs: string[] = [];
function newDir(): string {
  const dir = tempDir('docv-admin-exposure-');
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  killLiveCliProcesses();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** One request with exactly these headers (Host included, when given), bounded by a timeout. */
function call(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, base),
      { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: any = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An HTTP/1.0 request with no Host header at all (node:http and undici always add one). */
function callWithoutHost(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text }));
    socket.write(`GET ${path} HTTP/1.0\r\n\r\n`);
  });
}

function expectRefused(res: Answer, slug: string, ...mentions: string[]): void {
  expect(res.status, res.text).toBe(403);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.json).toMatchObject({ type: `urn:docv-webhooks:problem:${slug}`, status: 403, title: 'Forbidden' });
  // Every refusal says what to set.
  expect(res.json.detail).toContain('DOCV_ADMIN_TOKEN');
  for (const m of mentions) expect(res.json.detail).toContain(m);
}

const ADMIN_PATHS = ['/v1/transactions', '/dashboard', '/metrics'];

describe('serve on loopback without an admin token', () => {
  let r: RunningReceiver;
  let base: string;
  let authority: string;
  const log = memoryLogger('warn');

  beforeAll(async () => {
    const dir = newDir();
    r = await startReceiver({
      port: 0,
      host: '127.0.0.1',
      db: `sqlite:${join(dir, 'receiver.db')}`,
      logger: log.logger,
      dispatch: { enabled: false },
    });
    base = r.url;
    authority = new URL(base).host;
  });
  afterAll(async () => r?.close());

  it.each(ADMIN_PATHS)(
    '%s stays open to this machine: Host 127.0.0.1:<port>, localhost, [::1], with or without the port',
    async (path) => {
      const port = new URL(base).port;
      for (const host of [
        authority,
        `localhost:${port}`,
        'localhost',
        '127.0.0.1',
        `[::1]:${port}`,
        '[::1]',
        `LocalHost:${port}`,
      ]) {
        const res = await call(base, path, { headers: { host } });
        expect(res.status, `Host: ${host}: ${res.text.slice(0, 200)}`).toBe(200);
      }
    },
  );

  it.each<[string, Record<string, string>]>([
    ['X-Forwarded-For', { 'x-forwarded-for': '203.0.113.9' }],
    ['Forwarded', { forwarded: 'for=203.0.113.9;proto=https' }],
    ['X-Real-IP', { 'x-real-ip': '203.0.113.9' }],
    ['X-Forwarded-Host', { 'x-forwarded-host': 'docv.example.com' }],
    ['X-Forwarded-Proto', { 'x-forwarded-proto': 'https' }],
    ['Via', { via: '1.1 proxy.example.com' }],
  ])(
    'a request through a proxy on this machine (%s) is refused: 403 admin-proxied naming the header',
    async (name, forwarded) => {
      for (const path of ADMIN_PATHS) {
        const res = await call(base, path, { headers: { host: authority, ...forwarded } });
        expectRefused(res, 'admin-proxied', name.toLowerCase(), 'proxy');
        // Not a byte of admin data in the refusal.
        expect(res.text).not.toContain('items');
      }
    },
  );

  it.each([
    'evil.example',
    'evil.example:3944',
    '127.0.0.1.nip.io',
    'localhost.evil.example',
    'localhost.',
    '10.0.0.1',
  ])(
    'Host %s (a DNS-rebinding page) is refused: 403 admin-host, for the API, the dashboard and /metrics',
    async (host) => {
      for (const path of ADMIN_PATHS) {
        const res = await call(base, path, { headers: { host } });
        expectRefused(res, 'admin-host', 'localhost, 127.0.0.1 or [::1]', 'DNS rebinding', JSON.stringify(host));
      }
    },
  );

  it('a request with no Host at all (HTTP/1.0) is refused', async () => {
    const res = await callWithoutHost(Number(new URL(base).port), '/v1/transactions');
    expect(res.status, res.text).toBe(403);
    expect(res.text).toContain('urn:docv-webhooks:problem:admin-host');
  });

  it("a cross-site form post cannot change the store's destinations; the same origin can", async () => {
    const added = await call(base, '/v1/destinations', {
      method: 'POST',
      headers: { host: authority, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://hooks.example.com/docv' }),
    });
    expect(added.status, added.text).toBe(201);
    const name = added.json.name as string;
    const disable = `/v1/destinations/${encodeURIComponent(name)}/disable`;
    // What a page on another site sends with <form method="post" action="http://127.0.0.1:…/disable">.
    for (const origin of ['https://evil.example', 'null', `http://localhost:${Number(new URL(base).port) + 1}`]) {
      const res = await call(base, disable, {
        method: 'POST',
        headers: { host: authority, origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expectRefused(res, 'admin-cross-origin', JSON.stringify(origin));
    }
    const listed = await call(base, '/v1/destinations', { headers: { host: authority } });
    expect(listed.json.items.find((d: { name: string }) => d.name === name).state).toBe('active');
    // The receiver's own origin may (as the dashboard would, if it posted).
    const own = await call(base, disable, {
      method: 'POST',
      headers: { host: authority, origin: `http://${authority}` },
    });
    expect(own.status, own.text).toBe(200);
    expect(own.json.state).toBe('disabled');
  });

  it('health and ingest are not admin: a proxied request still reaches them', async () => {
    expect(
      (await call(base, '/healthz', { headers: { host: 'evil.example', 'x-forwarded-for': '203.0.113.9' } })).status,
    ).toBe(200);
    const delivered = await call(base, r.config.webhookPath, {
      method: 'POST',
      headers: { host: 'docv.example.com', 'x-forwarded-for': '203.0.113.9', 'content-type': 'application/json' },
      body: JSON.stringify({
        eventType: 'APP_OPENED',
        docvTransactionId: 'admin-exposure-1',
        eventTime: '2026-03-01T10:00:00Z',
      }),
    });
    expect(delivered.status, delivered.text).toBe(200);
  });

  it('each refusal is logged at warn with its reason, the peer and the path', () => {
    const refusals = log.lines().filter((l) => l.msg === 'admin API without a token refused a request');
    expect(refusals.map((l) => l.reason)).toEqual(
      expect.arrayContaining(['admin-proxied', 'admin-host', 'admin-cross-origin']),
    );
    expect(refusals[0]).toMatchObject({
      level: 40,
      peer: expect.stringMatching(/127\.0\.0\.1$/),
      path: expect.stringMatching(/^\//),
    });
  });
});

describe('an admin API without a token that the socket alone would let in (buildApp, as a library user wires it)', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = newDir();
    store = await openStore(`sqlite:${join(dir, 'app.db')}`);
  });
  afterAll(async () => store?.close());

  const build = (trustProxy: boolean) =>
    buildApp({
      config: defaultReceiverConfig({ host: '127.0.0.1', auth: { trustProxy } }),
      store,
      logger: createLogger({ level: 'silent', pretty: false }),
    });

  it('a peer that is not loopback is refused (defence in depth: loopback bind, yet another peer)', async () => {
    const app = await build(false);
    try {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/transactions',
        headers: { host: '127.0.0.1:3000' },
        remoteAddress: '203.0.113.9',
      });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({
        type: 'urn:docv-webhooks:problem:admin-disabled',
        detail: expect.stringContaining('203.0.113.9'),
      });
      const local = await app.inject({
        method: 'GET',
        url: '/v1/transactions',
        headers: { host: '127.0.0.1:3000' },
        remoteAddress: '::ffff:127.0.0.1',
      });
      expect(local.statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('with trustProxy every request is refused, even one without forwarding headers', async () => {
    const app = await build(true);
    try {
      const res = await app.inject({ method: 'GET', url: '/dashboard', headers: { host: '127.0.0.1:3000' } });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({
        type: 'urn:docv-webhooks:problem:admin-disabled',
        detail: expect.stringContaining('--trust-proxy'),
      });
    } finally {
      await app.close();
    }
  });
});

describe('with an admin token, proxies and names do not matter: the token does', () => {
  const token = 'behind-proxy-admin-token-0123';
  let r: RunningReceiver;
  beforeAll(async () => {
    r = await startReceiver({
      port: 0,
      host: '127.0.0.1',
      db: `sqlite:${join(newDir(), 'receiver.db')}`,
      logLevel: 'silent',
      adminToken: token,
      auth: { trustProxy: true },
      dispatch: { enabled: false },
    });
  });
  afterAll(async () => r?.close());

  it('--trust-proxy with a token: a forwarded request without it is 401, with it 200', async () => {
    const proxied = { host: 'docv.example.com', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' };
    const anonymous = await call(r.url, '/v1/transactions', { headers: proxied });
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain(token);
    expect(
      (await call(r.url, '/v1/transactions', { headers: { ...proxied, authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect(
      (await call(r.url, '/dashboard', { headers: { ...proxied, authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    // A browser without a session is sent to the dashboard's sign-in form.
    const browser = await call(r.url, '/dashboard', { headers: proxied });
    expect(browser.status).toBe(303);
    expect(browser.headers.location).toBe('/dashboard/login?returnTo=%2Fdashboard');
  });
});

describe("a worker's metrics listener without a token, on loopback", () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker({
      db: `sqlite:${join(newDir(), 'worker.db')}`,
      logLevel: 'silent',
      metricsPort: 0,
      dispatch: { forwardUrls: ['https://hooks.example.com/docv'] },
    });
  });
  afterAll(async () => worker?.close());

  it('answers this machine, and refuses a proxied request or another Host', async () => {
    const base = worker.url!;
    const authority = new URL(base).host;
    expect((await call(base, '/metrics', { headers: { host: authority } })).status).toBe(200);
    expectRefused(
      await call(base, '/metrics', { headers: { host: authority, 'x-forwarded-for': '203.0.113.9' } }),
      'admin-proxied',
      'x-forwarded-for',
    );
    expectRefused(await call(base, '/metrics', { headers: { host: 'evil.example' } }), 'admin-host');
    // Health is not behind the guard.
    expect(
      (await call(base, '/healthz', { headers: { host: 'evil.example', 'x-forwarded-for': '203.0.113.9' } })).status,
    ).toBe(200);
  });
});

describe('which Host values name this machine', () => {
  it.each([
    'localhost',
    'localhost:3944',
    'LOCALHOST',
    '127.0.0.1',
    '127.0.0.1:3944',
    '127.0.0.2:80',
    '[::1]',
    '[::1]:3944',
    '[0:0:0:0:0:0:0:1]:1',
    '[::ffff:127.0.0.1]:3944',
  ])('%s does', (host) => expect(isLoopbackAuthority(host)).toBe(true));
  it.each([
    '',
    'evil.example',
    'evil.example:3944',
    '127.0.0.1.nip.io',
    'localhost.',
    'sub.localhost',
    '::1',
    '[localhost]',
    '[::2]',
    '10.0.0.1',
    '127.1',
    '127.0.0.1:3944:1',
    'localhost:abc',
    'user@localhost',
    '127.0.0.1 evil.example',
  ])('%j does not', (host) => expect(isLoopbackAuthority(host)).toBe(false));
});

/** Refused before the store is opened: no database file. */
async function refusal(start: (db: string) => Promise<{ close(): Promise<void> }>): Promise<ConfigError> {
  const dbPath = join(newDir(), 'refused.db');
  const error = await start(`sqlite:${dbPath}`).then(
    async (running) => {
      await running.close();
      throw new Error('it started; it should have refused');
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect(existsSync(dbPath)).toBe(false);
  return error as ConfigError;
}

const SHORT_TOKEN = 'short-s3cret';

describe('start-up refusals', () => {
  it('serve --trust-proxy without an admin token, even on loopback → ConfigError naming both flags', async () => {
    const error = await refusal((db) =>
      startReceiver({ port: 0, host: '127.0.0.1', db, logLevel: 'silent', auth: { trustProxy: true } }),
    );
    for (const m of ['--trust-proxy', 'DOCV_TRUST_PROXY', '--admin-token', 'DOCV_ADMIN_TOKEN'])
      expect(error.message).toContain(m);
  });

  it.each<[string, Parameters<typeof startReceiver>[0]]>([
    ['on 0.0.0.0', { host: '0.0.0.0', webhookSecrets: ['webhook-s3cret-value'] }],
    ['on 0.0.0.0 with --insecure-no-auth', { host: '0.0.0.0', insecureNoAuth: true }],
    ['behind a proxy on loopback', { host: '127.0.0.1', auth: { trustProxy: true } }],
  ])(
    'serve with an admin token shorter than 16 characters %s → ConfigError, without the token',
    async (_name, options) => {
      const error = await refusal((db) =>
        startReceiver({ port: 0, db, logLevel: 'silent', adminToken: SHORT_TOKEN, ...options }),
      );
      expect(error.message).toContain('--admin-token');
      expect(error.message).toContain('16 characters');
      expect(error.message).not.toContain(SHORT_TOKEN);
    },
  );

  it('on loopback without a proxy, a short token is allowed', async () => {
    const r = await startReceiver({
      port: 0,
      host: '127.0.0.1',
      db: `sqlite:${join(newDir(), 'short.db')}`,
      logLevel: 'silent',
      adminToken: SHORT_TOKEN,
      dispatch: { enabled: false },
    });
    try {
      expect(
        (await call(r.url, '/v1/transactions', { headers: { authorization: `Bearer ${SHORT_TOKEN}` } })).status,
      ).toBe(200);
    } finally {
      await r.close();
    }
  });

  it('worker: a short token for its metrics on 0.0.0.0 → ConfigError; on loopback it is allowed', async () => {
    const forwardUrls = ['https://hooks.example.com/docv'];
    const error = await refusal((db) =>
      startWorker({
        db,
        logLevel: 'silent',
        metricsPort: 0,
        metricsHost: '0.0.0.0',
        adminToken: SHORT_TOKEN,
        dispatch: { forwardUrls },
      }),
    );
    expect(error.message).toContain("the worker's metrics on 0.0.0.0");
    expect(error.message).toContain('16 characters');
    expect(error.message).not.toContain(SHORT_TOKEN);
    const worker = await startWorker({
      db: `sqlite:${join(newDir(), 'w.db')}`,
      logLevel: 'silent',
      metricsPort: 0,
      adminToken: SHORT_TOKEN,
      dispatch: { forwardUrls },
    });
    await worker.close();
  });
});

function oneLineFailure(result: CliResult, ...mentions: string[]): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(1);
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^docv-webhooks: /);
  for (const m of mentions) expect(result.stderr).toContain(m);
  expect(result.stderr).not.toContain(SHORT_TOKEN);
  expect(result.stdout).not.toContain('listening');
}

describe('the CLI refuses the same (as a child process)', () => {
  it('serve --trust-proxy without --admin-token exits 1 naming both flags', async () => {
    const dir = newDir();
    const result = await runCli(['serve', '--port', '0', '--trust-proxy', '--db', `sqlite:${join(dir, 'cli.db')}`], {
      timeoutMs: 20_000,
    });
    oneLineFailure(result, '--trust-proxy', '--admin-token');
    expect(existsSync(join(dir, 'cli.db'))).toBe(false);
  });

  it('serve --host 0.0.0.0 with a short DOCV_ADMIN_TOKEN exits 1', async () => {
    const result = await runCli(
      [
        'serve',
        '--host',
        '0.0.0.0',
        '--port',
        '0',
        '--webhook-secret',
        'webhook-s3cret-value',
        '--db',
        `sqlite:${join(newDir(), 'cli.db')}`,
      ],
      {
        env: { DOCV_ADMIN_TOKEN: SHORT_TOKEN },
        timeoutMs: 20_000,
      },
    );
    oneLineFailure(result, '--admin-token', '16 characters');
  });

  it('worker --metrics-host 0.0.0.0 with a short --admin-token exits 1', async () => {
    const result = await runCli(
      [
        'worker',
        '--metrics-port',
        '0',
        '--metrics-host',
        '0.0.0.0',
        '--admin-token',
        SHORT_TOKEN,
        '--forward-url',
        'https://hooks.example.com/docv',
        '--db',
        `sqlite:${join(newDir(), 'cli.db')}`,
      ],
      {
        timeoutMs: 20_000,
      },
    );
    oneLineFailure(result, '--admin-token', '16 characters');
  });
});
