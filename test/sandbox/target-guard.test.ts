import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/sandbox/index.js';
import { webhookUrlProblem, type HostResolver } from '../../src/sandbox/delivery/target-guard.js';
import {
  createTargetPolicy,
  isLoopbackAddress,
  judgeTargetUrl,
  normalizeTargetAddress,
} from '../../src/sandbox/delivery/target-policy.js';
import { runCli } from '../helpers/cli.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink, type Sink } from './helpers/sink.js';

/**
 * Issue 16, item 3: whoever holds the sandbox's API key chose any webhookUrl, and the sandbox
 * sent the receiver's secret (Authorization) and valid signatures there, internal addresses
 * included, and showed 2 KiB of the answer. Deliveries now go only to --allow-target entries
 * (loopback by default), checked when the URL is given and again at each connection, after DNS.
 */

const SECRET = 'receiver-shared-secret';
const SIGNING = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const open: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
});

async function sandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  const sb = await startSandbox({
    db: 'sqlite::memory:',
    webhookSecret: SECRET,
    signingSecrets: [SIGNING],
    retrySchedule: '10ms,10ms',
    attemptTimeoutMs: 2_000,
    ...options,
  });
  open.push(sb);
  return sb;
}

async function sink(): Promise<Sink> {
  const s = await startSink();
  open.push(s);
  return s;
}

const portOf = (url: string) => Number(new URL(url).port);

/** A listener on another loopback address (the whole of 127.0.0.0/8 is loopback on Linux). */
async function listenerOn(host: string): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const l: { url: string; hits: number; close(): Promise<void> } = { url: '', hits: 0, close: async () => undefined };
  const server = http.createServer((_req, res) => {
    l.hits += 1;
    res.end('{"status":"accepted"}');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  l.url = `http://${host}:${(server.address() as AddressInfo).port}/hook`;
  l.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  open.push(l);
  return l;
}

/** The URLs of the report: the metadata service in every spelling, loopback in odd ones, a local Redis. */
const METADATA = [
  'http://169.254.169.254/latest/meta-data/',
  'http://[fd00:ec2::254]/',
  'http://[::ffff:169.254.169.254]/',
];
const LOOPBACK_SPELLINGS = ['http://0x7f.1:3943/', 'http://2130706433:3943/', 'http://localhost:6379/'];

describe('the target policy (pure)', () => {
  it('reads an IPv4-mapped IPv6 address, dotted or hex, as the IPv4 it reaches', () => {
    expect(normalizeTargetAddress('::ffff:169.254.169.254')).toEqual({ address: '169.254.169.254', family: 'ipv4' });
    expect(normalizeTargetAddress('::ffff:a9fe:a9fe')).toEqual({ address: '169.254.169.254', family: 'ipv4' });
    expect(normalizeTargetAddress('0:0:0:0:0:FFFF:7F00:1')).toEqual({ address: '127.0.0.1', family: 'ipv4' });
    expect(normalizeTargetAddress('FD00:EC2:0::254')).toEqual({ address: 'fd00:ec2::254', family: 'ipv6' });
    expect(isLoopbackAddress('::ffff:7f00:1')).toBe(true);
    expect(isLoopbackAddress('0.0.0.0')).toBe(false);
    expect(isLoopbackAddress('::')).toBe(false);
  });

  it('refuses the metadata service in every spelling, and names the host and the flag', () => {
    const policy = createTargetPolicy();
    for (const url of METADATA) {
      const verdict = judgeTargetUrl(url, policy);
      expect(verdict.kind, url).toBe('refused');
      expect(verdict.kind === 'refused' && verdict.reason, url).toMatch(/is not an allowed delivery target/);
    }
    expect(judgeTargetUrl('http://[::ffff:169.254.169.254]/', policy)).toMatchObject({
      reason: '[::ffff:a9fe:a9fe] (169.254.169.254) port 80 is not an allowed delivery target',
    });
    // Loopback, however it is written, is allowed by default (a name is decided by what it resolves to).
    expect(judgeTargetUrl('http://0x7f.1:3943/', policy)).toEqual({ kind: 'allowed' });
    expect(judgeTargetUrl('http://2130706433:3943/', policy)).toEqual({ kind: 'allowed' });
    expect(judgeTargetUrl('http://[::1]:3943/', policy)).toEqual({ kind: 'allowed' });
    expect(judgeTargetUrl('http://localhost:6379/', policy)).toMatchObject({ kind: 'resolve' });
    // "This host" reaches local services on Linux, but it is not loopback: refused.
    expect(judgeTargetUrl('http://0.0.0.0:6379/', policy).kind).toBe('refused');
    expect(judgeTargetUrl('http://[::]:6379/', policy).kind).toBe('refused');
    expect(judgeTargetUrl('ftp://127.0.0.1/', policy)).toEqual({
      kind: 'refused',
      reason: 'the scheme ftp: is not http or https',
    });
  });

  it('matches ports, CIDRs with a port, bracketed IPv6 and host names', () => {
    const policy = createTargetPolicy([
      '127.0.0.1:3000',
      '10.0.0.0/8:8443',
      '[fd00::/8]:443',
      'Receiver.Example:443',
      '192.0.2.7',
    ]);
    const verdict = (url: string) => judgeTargetUrl(url, policy).kind;
    expect(verdict('http://127.0.0.1:3000/')).toBe('allowed');
    expect(verdict('http://127.0.0.1:3001/')).toBe('refused');
    expect(verdict('http://127.0.0.2:3000/')).toBe('refused');
    expect(verdict('https://10.1.2.3:8443/')).toBe('allowed');
    expect(verdict('https://10.1.2.3/')).toBe('refused');
    expect(verdict('https://[fd00::1]/')).toBe('allowed');
    expect(verdict('https://receiver.example/')).toBe('allowed');
    expect(verdict('http://receiver.example/')).toBe('resolve');
    expect(verdict('http://192.0.2.7:1/')).toBe('allowed');
    expect(createTargetPolicy(['127.0.0.1:3000']).reachesBeyondLoopback).toBe(false);
    expect(createTargetPolicy(['localhost:3000', '::ffff:127.0.0.0/104']).reachesBeyondLoopback).toBe(false);
    expect(createTargetPolicy(['10.0.0.0/8']).reachesBeyondLoopback).toBe(true);
    expect(createTargetPolicy(['0.0.0.0/0']).reachesBeyondLoopback).toBe(true);
    expect(createTargetPolicy(['receiver:3000']).reachesBeyondLoopback).toBe(true);
  });

  it('refuses a bad entry at once, naming it', () => {
    expect(() => createTargetPolicy(['127.0.0.1:3000', 'receiver.example'])).toThrow(
      /--allow-target entry 2 \("receiver.example"\): a host name needs its port/,
    );
    expect(() => createTargetPolicy(['10.0.0.0/33'])).toThrow(
      /entry 1 \("10.0.0.0\/33"\): "10.0.0.0\/33" is not an IP address or CIDR/,
    );
    expect(() => createTargetPolicy(['127.0.0.1:70000'])).toThrow(/port 70000 is not from 1 to 65535/);
    expect(() => createTargetPolicy(['http://127.0.0.1:3000/'])).toThrow(/entry 1 .*not understood/);
  });

  it('judges a host name by every address it resolves to, and keeps only the allowed ones', async () => {
    const guard = (addresses: string[]) => ({
      policy: createTargetPolicy(),
      resolve: (async () => addresses) as HostResolver,
    });
    expect(await webhookUrlProblem('http://evil.example/', 'webhookUrl', guard(['169.254.169.254']))).toMatch(
      /^webhookUrl refused: evil.example resolves to 169.254.169.254: not an allowed delivery target on port 80; to deliver there, start the sandbox with --allow-target evil.example:80/,
    );
    expect(
      await webhookUrlProblem('http://evil.example/', 'webhookUrl', guard(['::ffff:a9fe:a9fe', 'fd00:ec2::254'])),
    ).toMatch(/resolves to 169.254.169.254, fd00:ec2::254:/);
    expect(
      await webhookUrlProblem('http://mixed.example/', 'webhookUrl', guard(['169.254.169.254', '127.0.0.1'])),
    ).toBeUndefined();
    // Not resolvable yet (the receiver may still be starting): judged again at every connection.
    const failing = {
      policy: createTargetPolicy(),
      resolve: (async () => Promise.reject(new Error('ENOTFOUND'))) as HostResolver,
    };
    expect(await webhookUrlProblem('http://later.example/', 'webhookUrl', failing)).toBeUndefined();
  });
});

describe('a webhook URL is checked when it is given', () => {
  it('refuses the metadata service by default with a 400 that names the host and how to allow it; nothing is created', async () => {
    const sb = await sandbox();
    const api = sandboxClient(sb);
    for (const url of METADATA) {
      const res = await api.create({ webhookUrl: url, sandbox: { scenario: 'accept', timeScale: 0.001 } });
      expect(res.status, url).toBe(400);
      expect(res.contentType).toBe('application/problem+json');
      expect(res.json.detail, url).toMatch(
        /^webhookUrl refused: .*(169\.254\.169\.254|fd00:ec2::254).* is not an allowed delivery target; to deliver there, start the sandbox with --allow-target /,
      );
    }
    expect((await api.deliveries()).json.deliveries).toEqual([]);
  });

  it('with --allow-target naming the receiver, refuses every other target: metadata, loopback in any spelling, another port', async () => {
    const receiver = await sink();
    const other = await sink();
    const sb = await sandbox({ allowTargets: [`127.0.0.1:${portOf(receiver.url)}`] });
    const api = sandboxClient(sb);
    for (const url of [...METADATA, ...LOOPBACK_SPELLINGS, other.url]) {
      const res = await api.create({ webhookUrl: url });
      expect(res.status, url).toBe(400);
      expect(res.json.detail, url).toMatch(
        /^webhookUrl refused: .* not an allowed delivery target.*--allow-target \S+:\d+ /,
      );
    }
    expect((await api.create({ webhookUrl: 'http://0x7f.1:3943/' })).json.detail).toContain(
      '127.0.0.1 port 3943 is not an allowed delivery target; to deliver there, start the sandbox with --allow-target 127.0.0.1:3943',
    );
    expect((await api.create({ webhookUrl: 'http://localhost:6379/' })).json.detail).toContain(
      'localhost resolves to 127.0.0.1: not an allowed delivery target on port 6379',
    );
    expect((await api.create({ webhookUrl: other.url })).json.detail).toContain(
      `--allow-target 127.0.0.1:${portOf(other.url)}`,
    );

    // The receiver that is allowed gets its deliveries, with the secret.
    const ok = await api.create({ webhookUrl: receiver.url, sandbox: { scenario: 'accept', timeScale: 0.0001 } });
    expect(ok.status).toBe(200);
    await sb.settled(10_000);
    expect(receiver.received.length).toBeGreaterThan(0);
    expect(receiver.received[0]!.headers.authorization).toBe(SECRET);
    expect(other.received).toEqual([]);
  });

  it('refuses a --default-webhook-url outside the list at start', async () => {
    await expect(
      startSandbox({ db: 'sqlite::memory:', defaultWebhookUrl: 'http://169.254.169.254/latest/' }),
    ).rejects.toThrow(
      /^--default-webhook-url refused: 169\.254\.169\.254 port 80 is not an allowed delivery target; to deliver there, start the sandbox with --allow-target 169\.254\.169\.254:80/,
    );
  });

  it('refuses an API key that could never be sent', async () => {
    await expect(startSandbox({ db: 'sqlite::memory:', apiKey: '' })).rejects.toThrow('the API key must be one word');
    await expect(startSandbox({ db: 'sqlite::memory:', apiKey: 'two words' })).rejects.toThrow(
      'the API key must be one word',
    );
  });
});

describe('every connection is checked again, after DNS, and made to the address checked', () => {
  /** Deliveries of a transaction once they have all ended. */
  async function finalDeliveries(sb: SandboxHandle, id: string) {
    const api = sandboxClient(sb);
    let rows: Array<Record<string, unknown>> = [];
    await eventually(
      async () => {
        rows = (await api.deliveries(`?transaction=${id}`)).json.deliveries as Array<Record<string, unknown>>;
        return rows.length > 0 && rows.every((d) => !['pending', 'held', 'in_flight'].includes(d.status as string));
      },
      'every delivery to end',
      10_000,
    );
    return rows;
  }

  it('a name that resolved to loopback when the transaction was made and to the metadata service later is refused for good, not retried', async () => {
    const receiver = await sink();
    let lookups = 0;
    // DNS rebinding: the first answer passes the check, the next ones point inside.
    const rebinding: HostResolver = async () => (++lookups === 1 ? ['127.0.0.1'] : ['169.254.169.254']);
    const sb = await sandbox({ resolveHost: rebinding });
    const api = sandboxClient(sb);
    const created = await api.create({ webhookUrl: `http://rebind.test:${portOf(receiver.url)}/hook` });
    expect(created.status).toBe(200);
    await api.emit(created.json.docvTransactionId as string, {
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'accept',
    });
    const rows = await finalDeliveries(sb, created.json.docvTransactionId as string);
    for (const d of rows) {
      expect(d.status).toBe('rejected');
      expect(d.attempts).toBe(1);
      expect(d.lastError).toBe(
        `refused by --allow-target: rebind.test resolves to 169.254.169.254: not an allowed delivery target on port ${portOf(receiver.url)}`,
      );
      expect(d.reason).toMatch(/^not sent: refused by --allow-target: /);
    }
    expect(receiver.received).toEqual([]);
  });

  it('connects to the address it checked, not to what a second lookup would say', async () => {
    const receiver = await sink();
    // The system resolver knows no `pinned.test`: the delivery arrives only if the checked address is used.
    const sb = await sandbox({ resolveHost: async () => ['169.254.169.254', '127.0.0.1'] });
    const tx = sb.createTransaction({
      webhookUrl: `http://pinned.test:${portOf(receiver.url)}/hook`,
      scenario: 'accept',
      timeScale: 0.0001,
    });
    await sb.settled(10_000);
    const rows = await finalDeliveries(sb, tx.docvTransactionId);
    expect(rows.map((d) => d.status)).toEqual(rows.map(() => 'delivered'));
    expect(receiver.received.length).toBe(rows.length);
    // The Host header still names the URL's host.
    expect(receiver.received[0]!.headers.host).toBe(`pinned.test:${portOf(receiver.url)}`);
  });

  it('with --allow-target 127.0.0.2/32, localhost (127.0.0.1 by the system resolver) is refused at delivery', async () => {
    const receiver = await sink();
    const sb = await sandbox({ allowTargets: ['127.0.0.2/32'] });
    // Made without DNS (the in-process call is synchronous), so only the delivery can catch it.
    const tx = sb.createTransaction({
      webhookUrl: `http://localhost:${portOf(receiver.url)}/hook`,
      scenario: 'accept',
      timeScale: 0.0001,
    });
    await sb.settled(10_000);
    const rows = await finalDeliveries(sb, tx.docvTransactionId);
    for (const d of rows) {
      expect(d.status).toBe('rejected');
      expect(d.lastError).toMatch(
        /^refused by --allow-target: localhost resolves to 127\.0\.0\.1(, ::1)?: not an allowed delivery target/,
      );
    }
    expect(receiver.received).toEqual([]);
    // Over HTTP the same URL is refused before anything is made.
    expect(
      (await sandboxClient(sb).create({ webhookUrl: `http://localhost:${portOf(receiver.url)}/hook` })).status,
    ).toBe(400);
    // And an address literal the in-process call refuses at once.
    expect(() => sb.createTransaction({ webhookUrl: 'http://169.254.169.254/' })).toThrow(
      /webhookUrl refused: 169\.254\.169\.254 port 80/,
    );
  });

  it('a listener on 127.0.0.1 with --allow-target 127.0.0.1:<another port> gets nothing', async () => {
    const receiver = await sink();
    const sb = await sandbox({
      allowTargets: [`127.0.0.1:${portOf(receiver.url) === 65535 ? 1 : portOf(receiver.url) + 1}`],
    });
    expect((await sandboxClient(sb).create({ webhookUrl: receiver.url })).status).toBe(400);
    // A delivery stored under a wider list (a restart with a narrower one) is refused when its turn comes.
    const tx = sb.createTransaction({
      webhookUrl: `http://${new URL(receiver.url).host.replace('127.0.0.1', 'localhost')}/hook`,
      scenario: 'accept',
      timeScale: 0.0001,
    });
    await sb.settled(10_000);
    expect((await finalDeliveries(sb, tx.docvTransactionId)).every((d) => d.status === 'rejected')).toBe(true);
    expect(receiver.received).toEqual([]);
  });

  it('a host name on the list is delivered to by that name only', async () => {
    const receiver = await sink();
    const port = portOf(receiver.url);
    const sb = await sandbox({ allowTargets: [`LocalHost:${port}`] });
    const api = sandboxClient(sb);
    expect((await api.create({ webhookUrl: `http://127.0.0.1:${port}/hook` })).status).toBe(400);
    const res = await api.create({
      webhookUrl: `http://localhost:${port}/hook`,
      sandbox: { scenario: 'accept', timeScale: 0.0001 },
    });
    expect(res.status).toBe(200);
    await sb.settled(10_000);
    expect(receiver.received.length).toBeGreaterThan(0);
  });

  it('another loopback address is allowed by default: the local receiver may listen on any', async () => {
    const other = await listenerOn('127.0.0.2');
    const sb = await sandbox();
    const res = await sandboxClient(sb).create({
      webhookUrl: other.url,
      sandbox: { scenario: 'accept', timeScale: 0.0001 },
    });
    expect(res.status).toBe(200);
    await sb.settled(10_000);
    expect(other.hits).toBeGreaterThan(0);
  });
});

describe('warnings when the secrets can leave loopback', () => {
  function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(chunk.toString());
        done();
      },
    });
    return {
      logger: pino({ level: 'info' }, stream),
      lines: () =>
        out
          .join('')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
  }
  const warnings = (lines: Array<Record<string, unknown>>) =>
    lines.filter((l) => l.level === 40).map((l) => l.msg as string);

  it('warns once when it signs while listening beyond loopback, and once when targets go beyond loopback; never with the secret', async () => {
    const exposed = capture();
    await sandbox({ host: '0.0.0.0', logger: exposed.logger });
    expect(warnings(exposed.lines())).toEqual([
      expect.stringMatching(
        /^the sandbox listens beyond loopback and signs deliveries with the receiver's secrets: .*never give the sandbox production secrets$/,
      ),
    ]);

    const wide = capture();
    await sandbox({ allowTargets: ['10.0.0.0/8:8443'], logger: wide.logger });
    expect(warnings(wide.lines())).toEqual([
      expect.stringMatching(
        /^--allow-target allows targets beyond loopback, and deliveries carry the receiver's secrets: /,
      ),
    ]);

    for (const c of [exposed, wide]) {
      const text = JSON.stringify(c.lines());
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SIGNING);
    }
  });

  it('says nothing on loopback, or without secrets', async () => {
    const local = capture();
    await sandbox({ logger: local.logger });
    const noSecrets = capture();
    const sb = await startSandbox({
      db: 'sqlite::memory:',
      host: '0.0.0.0',
      allowTargets: ['10.0.0.0/8'],
      logger: noSecrets.logger,
    });
    open.push(sb);
    expect(warnings(local.lines())).toEqual([]);
    expect(warnings(noSecrets.lines())).toEqual([]);
  });
});

describe('the built CLI', () => {
  it('shows --allow-target in `sandbox --help`, with its default and its variable', async () => {
    const r = await runCli(['sandbox', '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(
      /--allow-target <targets> where deliveries may go, as they carry the receiver's secrets: .*\(default: loopback only: 127\.0\.0\.0\/8,::1, env: DOCV_SANDBOX_ALLOW_TARGETS\)/,
    );
  });

  it('stops with a clear error on a bad entry, or a default webhook URL outside the list', async () => {
    const bad = await runCli([
      'sandbox',
      '--db',
      'sqlite::memory:',
      '--port',
      '0',
      '--allow-target',
      '127.0.0.1:3000,receiver.example',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--allow-target entry 2 ("receiver.example"): a host name needs its port');
    const outside = await runCli(
      [
        'sandbox',
        '--db',
        'sqlite::memory:',
        '--port',
        '0',
        '--default-webhook-url',
        'http://[::ffff:169.254.169.254]/x',
      ],
      {
        env: { DOCV_SANDBOX_ALLOW_TARGETS: '127.0.0.1:3000' },
      },
    );
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain(
      '--default-webhook-url refused: [::ffff:a9fe:a9fe] (169.254.169.254) port 80 is not an allowed delivery target',
    );
  });
});
