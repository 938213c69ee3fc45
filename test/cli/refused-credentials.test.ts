import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDocvReceiver } from '../../src/receiver/index.js';
import { freePort, killLiveCliProcesses, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { memoryLogger } from '../security/helpers.js';

// Issue 15: a wrong or missing secret made `simulate` retry into the receiver's failure limiter
// for ten minutes, and the block then locked every sender on the address out for five more.

const SECRET = 'the-right-webhook-secret';
const WRONG = 'a-wrong-webhook-secret';
/** Well under the ten minutes a refused run used to take, well over what a stopped one needs. */
const STOPS_WITHIN_MS = 15_000;

const receivers: TestReceiver[] = [];
const dirs: string[] = [];
afterAll(async () => {
  killLiveCliProcesses();
  await Promise.all(receivers.map((r) => r.destroy()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function receiver(options: Parameters<typeof startTestReceiver>[0] = {}): Promise<TestReceiver> {
  const r = await startTestReceiver({ webhookSecrets: [SECRET], ...options });
  receivers.push(r);
  return r;
}

/** Runs the command and measures how long it took, killing it (and failing) if it runs far past the bound. */
async function timed(args: string[], env: Record<string, string> = {}) {
  const started = Date.now();
  const result = await runCli(args, { env, timeoutMs: STOPS_WITHIN_MS + 10_000 });
  return { ...result, ms: Date.now() - started };
}

const lineCount = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l)).length;

describe.concurrent('simulate and trigger against a receiver that refuses their credentials', () => {
  it('simulate with a wrong secret stops within seconds, names the flags to check, exits 1, and does not get the address blocked', async () => {
    const r = await receiver();
    const run = await timed([
      'simulate',
      '--target',
      r.webhookUrl,
      '--transactions',
      '300',
      '--concurrency',
      '16',
      '--webhook-secret',
      WRONG,
    ]);
    expect(run.ms).toBeLessThan(STOPS_WITHIN_MS);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^sent +3 requests \(401×3\)$/m);
    expect(run.stdout).toMatch(
      /^failed +\d+ event\(s\) never delivered \(the run stopped: the receiver refused us\)$/m,
    );
    expect(lineCount(run.stderr, /./)).toBe(1);
    expect(run.stderr).toMatch(
      /^docv-webhooks: the receiver refuses our credentials \(401 ×3; we sent a webhook secret, no signature\): check that --webhook-secret \(DOCV_WEBHOOK_SECRETS\) and --signing-secret/,
    );
    expect(run.stdout + run.stderr).not.toContain(WRONG);
    // Three failures, under the limiter's ten: the same address still gets in with the right secret.
    expect((await r.deliver(docvEvent(), { authorization: SECRET })).status).toBe(200);
  });

  it('simulate with no secret says none was sent', async () => {
    const r = await receiver();
    const run = await timed(['simulate', '--target', r.webhookUrl, '--transactions', '50', '--json']);
    expect(run.ms).toBeLessThan(STOPS_WITHIN_MS);
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout) as {
      sent: number;
      responses: Record<string, number>;
      refused: { kind: string; message: string };
    };
    expect(summary).toMatchObject({ sent: 3, responses: { '401': 3 }, refused: { kind: 'credentials' } });
    expect(run.stderr).toBe(`docv-webhooks: ${summary.refused.message}\n`);
    expect(summary.refused.message).toContain(
      "we sent no credentials): give the receiver's with --webhook-secret (DOCV_WEBHOOK_SECRETS) and/or --signing-secret",
    );
  });

  it('trigger takes a 401 as final: one attempt, the flags to check, exit 1', async () => {
    const r = await receiver();
    const run = await timed([
      'trigger',
      'APP_OPENED',
      '--target',
      r.webhookUrl,
      '--retry-schedule',
      '10ms,10ms',
      '--webhook-secret',
      WRONG,
    ]);
    expect(run.code).toBe(1);
    expect(lineCount(run.stdout, /^attempt \d+:/)).toBe(1);
    expect(run.stdout).toMatch(/^attempt 1: HTTP 401 in \d+ ms$/m);
    expect(run.stderr).toMatch(
      /^docv-webhooks: the receiver refuses our credentials \(401 ×1; we sent a webhook secret, no signature\): check that --webhook-secret/,
    );
  });

  it('trigger refused by the allow-list (403) names --allow-ip', async () => {
    const r = await receiver({ auth: { allowIps: ['203.0.113.0/24'] } });
    const run = await timed([
      'trigger',
      'APP_OPENED',
      '--target',
      r.webhookUrl,
      '--retry-schedule',
      '10ms',
      '--webhook-secret',
      SECRET,
    ]);
    expect(run.code).toBe(1);
    expect(lineCount(run.stdout, /^attempt \d+:/)).toBe(1);
    expect(run.stderr).toMatch(
      /^docv-webhooks: the receiver forbids deliveries from this address \(403 ×1\): add it to the receiver's allow-list \(--allow-ip, DOCV_ALLOWED_IPS\)/,
    );
  });

  it("against a blocked address, simulate stops at the limiter's 429 and says why; the receiver logged the block once, with how long and the flag", async () => {
    const log = memoryLogger('warn');
    const r = await receiver({ logger: log.logger });
    for (let i = 0; i < 11; i++) expect((await r.deliver(docvEvent(), { authorization: WRONG })).status).toBe(401);
    const blocked = log.lines().filter((l) => typeof l.msg === 'string' && l.msg.includes('blocked for'));
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toMatchObject({ level: 40, address: '127.0.0.1', failures: 11, blockSeconds: 300 });
    expect(blocked[0].msg).toMatch(
      /^address 127\.0\.0\.1 blocked for 300 s after 11 failed authentications within 60 s \(last: shared-secret: [^)]+\); until \d{4}-\d\d-\d\dT[\d:.]+Z every delivery from it gets 429, even with the right credentials; --auth-failure-limit \(DOCV_AUTH_FAILURE_LIMIT, now 10\) sets how many failures are allowed, 0 turns the limiter off$/,
    );
    expect(log.text()).not.toContain(WRONG);

    const run = await timed(['simulate', '--target', r.webhookUrl, '--transactions', '20', '--webhook-secret', SECRET]);
    expect(run.ms).toBeLessThan(STOPS_WITHIN_MS);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^sent +3 requests \(429×3\)$/m);
    expect(run.stderr).toMatch(
      /^docv-webhooks: the receiver has blocked this address after too many failed authentications \(429 ×3, retry after \d+ s\): .*--auth-failure-limit/,
    );
    // Each refused request says why in its own log line too; the block itself is told only once.
    expect(
      log
        .lines()
        .filter((l) => l.status === 429)
        .map((l) => l.reason),
    ).toEqual(
      Array(3).fill(expect.stringMatching(/^address blocked after too many failed authentications, for another \d+ s/)),
    );
    expect(log.lines().filter((l) => typeof l.msg === 'string' && l.msg.includes('blocked for'))).toHaveLength(1);
  });

  it('simulate against a closed port says connection refused', async () => {
    const port = await freePort();
    const run = await timed([
      'simulate',
      '--target',
      `http://127.0.0.1:${port}/socure/docv/webhook`,
      '--scenario',
      'abandon',
      '--transactions',
      '2',
      '--retry-schedule',
      '10ms',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^sent +4 requests \(connection refused×4\)$/m);
    expect(run.stdout).not.toContain('error');
  });
});

describe.concurrent('serve --auth-failure-limit', () => {
  function serve(extra: string[], env: Record<string, string> = {}): CliProcess {
    const dir = mkdtempSync(join(tmpdir(), 'docv-limit-'));
    dirs.push(dir);
    return spawnCli(
      ['serve', '--port', '0', '--db', `sqlite:${join(dir, 'r.db')}`, '--webhook-secret', SECRET, ...extra],
      { env },
    );
  }

  /** Fifteen wrong deliveries, then one right one from the same address: what does the right one get? */
  async function afterFailures(proc: CliProcess): Promise<number> {
    const [, url] = await proc.waitForStdout(/POST DocV events to\s+(\S+)/);
    const post = (authorization: string) =>
      fetch(url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify(docvEvent()),
      });
    for (let i = 0; i < 15; i++) await (await post(WRONG)).arrayBuffer();
    return (await post(SECRET)).status;
  }

  it('by default blocks the address after 10 failures and logs why, once', async () => {
    const proc = serve([]);
    expect(await afterFailures(proc)).toBe(429);
    // Logs are buffered: the last request's line comes after every earlier one.
    await proc.waitForStdout(/"outcome":"rate_limited","status":429/);
    expect(
      lineCount(proc.stdout, /"msg":"address 127\.0\.0\.1 blocked for 300 s after 11 failed authentications/),
    ).toBe(1);
    expect(proc.stdout).not.toContain(WRONG);
  });

  it('0 turns the limiter off: the right secret gets in right after many failures', async () => {
    const proc = serve(['--auth-failure-limit', '0']);
    expect(await afterFailures(proc)).toBe(200);
    await proc.waitForStdout(/"outcome":"accepted"/);
    expect(proc.stdout).not.toContain('blocked for');
  });

  it('DOCV_AUTH_FAILURE_LIMIT sets the threshold', async () => {
    const proc = serve([], { DOCV_AUTH_FAILURE_LIMIT: '20' });
    expect(await afterFailures(proc)).toBe(200);
  });

  it('refuses a limit that is not a whole number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'docv-limit-'));
    dirs.push(dir);
    const run = await runCli([
      'serve',
      '--port',
      '0',
      '--db',
      `sqlite:${join(dir, 'r.db')}`,
      '--auth-failure-limit',
      '-1',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('is not a whole number (0 turns the limiter off)');
  });
});

describe('createDocvReceiver authFailureLimit', () => {
  it('0 turns the limiter off in library use too', async () => {
    const handle = async (limit: number | undefined) => {
      const r = createDocvReceiver({
        store: 'sqlite::memory:',
        auth: { webhookSecrets: [SECRET] },
        ...(limit !== undefined ? { authFailureLimit: limit } : {}),
      });
      try {
        const request = (authorization: string) => ({
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          remoteAddress: '198.51.100.9',
          body: Buffer.from(JSON.stringify(docvEvent())),
        });
        for (let i = 0; i < 15; i++) await r.handle(request(WRONG));
        return (await r.handle(request(SECRET))).status;
      } finally {
        await r.close();
      }
    };
    expect(await handle(undefined)).toBe(429);
    expect(await handle(0)).toBe(200);
  });
});
