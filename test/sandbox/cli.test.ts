import { afterAll, describe, expect, it } from 'vitest';
import { computeSignature, decodeSigningSecret } from '../../src/auth/standard-webhooks.js';
import { runCli, spawnCli, waitForOutput } from './helpers/cli.js';
import { eventually, startSink, type Sink } from './helpers/sink.js';
import { freePort } from '../helpers/cli.js';

// Each test has its own receivers so the tests can run concurrently: every one spawns a process.
const sinks: Sink[] = [];
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
});

async function okSink(): Promise<Sink> {
  const s = await startSink((r) => ({
    status: 200,
    body: JSON.stringify({ status: 'accepted', eventId: r.headers['webhook-id'] }),
  }));
  sinks.push(s);
  return s;
}

async function failingSink(): Promise<Sink> {
  const s = await startSink(() => ({ status: 500, body: '{"title":"boom"}' }));
  sinks.push(s);
  return s;
}

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe.concurrent('trigger', () => {
  it('sends one signed event and prints the response', async () => {
    const ok = await okSink();
    const r = await runCli(
      [
        'trigger',
        'VERIFICATION_COMPLETED',
        '--target',
        ok.url,
        '--transaction',
        'tx-cli-1',
        '--decision',
        'reject',
        '--set',
        'extra.n=3',
        '--unset',
        'eventTime',
      ],
      { DOCV_WEBHOOK_SIGNING_SECRETS: SECRET, DOCV_WEBHOOK_SECRETS: 'shh,older-secret' },
    );
    expect(r.code).toBe(0);
    // The sink echoes the webhook-id: `msg_`, never to be confused with a receiver's `evt_` ids.
    expect(r.stdout).toMatch(/^attempt 1: HTTP 200 in \d+ ms\n\{"status":"accepted","eventId":"msg_/);
    expect(r.stdout).toMatch(/^sent webhook-id msg_\S+: /m);
    const got = ok.received.find((x) => x.json.docvTransactionId === 'tx-cli-1')!;
    expect(got.json).toEqual({
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: 'tx-cli-1',
      decision: 'reject',
      extra: { n: 3 },
    });
    expect(got.headers.authorization).toBe('shh');
    const sig = computeSignature(
      decodeSigningSecret(SECRET),
      got.headers['webhook-id'] as string,
      got.headers['webhook-timestamp'] as string,
      got.body,
    );
    expect(got.headers['webhook-signature']).toBe(`v1,${sig}`);
    expect(r.stdout + r.stderr).not.toContain('shh');
  });

  it('retries on the given schedule and exits 1 when undelivered', async () => {
    const failing = await failingSink();
    const r = await runCli(['trigger', 'APP_OPENED', '--target', failing.url, '--retry-schedule', '10ms,10ms']);
    expect(r.code).toBe(1);
    expect(r.stdout.match(/HTTP 500/g)).toHaveLength(3);
    const ids = new Set(failing.received.map((x) => x.headers['webhook-id']));
    expect(ids.size).toBe(1);
  });

  it('takes a 422 (the receiver refuses the event itself) as final: one attempt, exit 1', async () => {
    const refusing = await startSink(() => ({ status: 422, body: '{"title":"Unprocessable Content"}' }));
    const r = await runCli(['trigger', 'APP_OPENED', '--target', refusing.url, '--retry-schedule', '10ms,10ms']);
    expect(r.code).toBe(1);
    expect(r.stdout.match(/HTTP 422/g)).toHaveLength(1);
    expect(refusing.received).toHaveLength(1);
  });

  it('says why there was no answer in words: a closed port is "connection refused"', async () => {
    const closed = await freePort();
    const r = await runCli(['trigger', 'APP_OPENED', '--target', `http://127.0.0.1:${closed}/socure/docv/webhook`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^attempt 1: no response \(connection refused\): ECONNREFUSED/m);
  });

  it('refuses bad flags with a one-line reason', async () => {
    const ok = await okSink();
    const r = await runCli(['trigger', 'APP_OPENED', '--target', ok.url, '--retry-schedule', '5']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('write it with a unit');
    // SESSION_COMPLETE is Socure's, not the flat contract's: asked for in asyncapi, it is refused.
    const t = await runCli(['trigger', 'SESSION_COMPLETE', '--target', ok.url, '--dialect', 'asyncapi']);
    expect(t.code).not.toBe(0);
    expect(t.stderr).toMatch(
      /^docv-webhooks: SESSION_COMPLETE is not an event type of the asyncapi dialect \(it has APP_OPENED/,
    );
    const u = await runCli(['trigger', 'SOMETHING_NEW', '--target', ok.url]);
    expect(u.code).not.toBe(0);
    expect(u.stderr).toContain('--dialect socure-v5 or riskos');
    const d = await runCli(['trigger', 'APP_OPENED', '--target', ok.url, '--dialect', 'v5']);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/Allowed choices are asyncapi, socure-v5, riskos/);
    expect(ok.received).toHaveLength(0);
  });

  it("sends Socure's TEST_WEBHOOK: the v5 body without a token, with sample document data", async () => {
    const ok = await okSink();
    const r = await runCli(['trigger', 'TEST_WEBHOOK', '--target', ok.url], { DOCV_WEBHOOK_SECRETS: 'shh' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^attempt 1: HTTP 200 in \d+ ms\n/);
    expect(ok.received).toHaveLength(1);
    const got = ok.received[0]!;
    expect(got.headers.authorization).toBe('shh');
    expect(got.json).toMatchObject({
      eventGroup: 'DocvNotification',
      reason: 'TEST_WEBHOOK',
      event: {
        eventType: 'TEST_WEBHOOK',
        customerUserId: expect.any(String),
        referenceId: expect.any(String),
        data: { documentData: { fullName: expect.any(String) } },
      },
    });
    expect(got.json.event).not.toHaveProperty('docvTransactionToken');
    expect(got.json).not.toHaveProperty('origId');
  });

  it('sends v5 and RiskOS types, the dialect from the flag, the env, or the type', async () => {
    const ok = await okSink();
    const v5 = await runCli(
      ['trigger', 'APP_OPENED', '--target', ok.url, '--transaction', 'tok-cli', '--customer-user-id', 'c-1'],
      { DOCV_DIALECT: 'socure-v5' },
    );
    expect(v5.code).toBe(0);
    const riskos = await runCli([
      'trigger',
      'evaluation_completed',
      '--target',
      ok.url,
      '--transaction',
      'tok-cli',
      '--decision',
      'reject',
    ]);
    expect(riskos.code).toBe(0);
    expect(ok.received.map((r) => r.json)).toEqual([
      expect.objectContaining({
        origId: 'tok-cli',
        event: expect.objectContaining({
          eventType: 'APP_OPENED',
          docvTransactionToken: 'tok-cli',
          customerUserId: 'c-1',
        }),
      }),
      expect.objectContaining({
        event_type: 'evaluation_completed',
        data: expect.objectContaining({ decision: 'REJECT' }),
      }),
    ]);
  });
});

describe.concurrent('simulate', () => {
  it('drives whole flows and summarises them', async () => {
    const ok = await okSink();
    const r = await runCli([
      'simulate',
      '--target',
      ok.url,
      '--scenario',
      'mixed',
      '--transactions',
      '20',
      '--concurrency',
      '4',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown> & { latencyMs: { p50: number; p99: number } };
    expect(s).toMatchObject({ transactions: 20, failed: 0, retries: 0, duplicates: 0, timedOut: false });
    expect(s.events).toBe(ok.received.length);
    // The sender's own CPU over the run: more than nothing, less than two cores for its whole duration.
    expect(s.cpuMs).toBeGreaterThan(0);
    expect(s.cpuMs).toBeLessThanOrEqual(2 * (s.durationMs as number) + 20);
    expect(s.accepted).toBe(s.events);
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
    expect(r.stderr).toBe(''); // no progress bar off a terminal
  });

  it('prints a readable summary and exits 1 when events end undelivered', async () => {
    const failing = await failingSink();
    const r = await runCli([
      'simulate',
      '--target',
      failing.url,
      '--scenario',
      'accept',
      '--transactions',
      '2',
      '--retry-schedule',
      '10ms',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^transactions {2}2 \(accept 2\)$/m);
    expect(r.stdout).toMatch(/^sent +12 requests \(500×12\)$/m);
    expect(r.stdout).toMatch(/^retries +6$/m);
    expect(r.stdout).toMatch(/^failed +6 event\(s\) never delivered$/m);
    expect(r.stdout).toMatch(/^latency ms +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+/m);
  });

  it('speaks the dialect it is given, and refuses a scenario the dialect cannot carry', async () => {
    const ok = await okSink();
    const r = await runCli([
      'simulate',
      '--target',
      ok.url,
      '--scenario',
      'review',
      '--dialect',
      'riskos',
      '--transactions',
      '2',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { events: number; eventsByType: Record<string, number>; failed: number };
    expect(s).toMatchObject({ events: 16, failed: 0, eventsByType: { case_notes_added: 14, evaluation_completed: 2 } });
    expect(
      ok.received
        .filter((x) => x.json.event_type === 'evaluation_completed')
        .map((x) => (x.json.data as { decision: string }).decision),
    ).toEqual(['REVIEW', 'REVIEW']);
    const refused = await runCli(['simulate', '--target', ok.url, '--scenario', 'review']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('scenario review needs dialect socure-v5 or riskos');
  });

  it('counts duplicates the receiver reports', async () => {
    const dupSink = await startSink((_r, i) => ({
      status: 200,
      body: JSON.stringify({ status: i % 2 === 0 ? 'accepted' : 'duplicate' }),
    }));
    sinks.push(dupSink);
    {
      const r = await runCli([
        'simulate',
        '--target',
        dupSink.url,
        '--scenario',
        'abandon',
        '--transactions',
        '3',
        '--chaos',
        'duplicates=1',
        '--json',
      ]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ events: 3, sent: 6, accepted: 3, duplicates: 3, failed: 0 });
    }
  });
});

describe('sandbox and deliveries', () => {
  it('takes --dialect (and DOCV_DIALECT), refusing a default scenario the dialect cannot carry', async () => {
    const refused = await runCli(['sandbox', '--port', '0', '--db', 'sqlite::memory:', '--scenario', 'review']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('default scenario review needs dialect socure-v5 or riskos');
    const bad = await runCli(['sandbox', '--port', '0', '--db', 'sqlite::memory:'], { DOCV_DIALECT: 'flat' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Allowed choices are asyncapi, socure-v5, riskos/);
  });

  it('delivers in the dialect of --dialect', async () => {
    const ok = await okSink();
    const child = spawnCli([
      'sandbox',
      '--port',
      '0',
      '--db',
      'sqlite::memory:',
      '--log-level',
      'silent',
      '--time-scale',
      '0.0001',
      '--default-webhook-url',
      ok.url,
      '--dialect',
      'socure-v5',
      '--api-key',
      'k',
    ]);
    try {
      const [, url] = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      const created = await fetch(`${url}/api/3.0/EmailAuthScore`, {
        method: 'POST',
        headers: { authorization: 'SocureApiKey k', 'content-type': 'application/json' },
        body: JSON.stringify({ modules: ['docvtransaction'], customerUserId: 'sandbox-accept' }),
      });
      const { docvTransactionId } = (await created.json()) as { docvTransactionId: string };
      await eventually(
        () => ok.received.filter((r) => r.json.origId === docvTransactionId).length === 8,
        'the eight v5 notifications',
      );
      expect(ok.received.at(-1)!.json).toMatchObject({
        reason: 'SESSION_COMPLETE',
        event: { docVTransactionToken: docvTransactionId },
      });
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('serves the API, prints a generated key, lists deliveries and stops on SIGTERM', async () => {
    const ok = await okSink();
    const child = spawnCli([
      'sandbox',
      '--port',
      '0',
      '--db',
      'sqlite::memory:',
      '--log-level',
      'silent',
      '--time-scale',
      '0.0001',
      '--default-webhook-url',
      ok.url,
    ]);
    try {
      const [, url, key] = await waitForOutput(
        child,
        /listening on (http:\/\/127\.0\.0\.1:\d+)\nAPI key \(generated[^)]*\): (\S+)\n/,
      );
      const created = await fetch(`${url}/api/3.0/EmailAuthScore`, {
        method: 'POST',
        headers: { authorization: `SocureApiKey ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ modules: ['docvtransaction'], customerUserId: 'sandbox-accept' }),
      });
      const { docvTransactionId } = (await created.json()) as { docvTransactionId: string };
      await eventually(async () => {
        const res = await fetch(`${url}/sandbox/deliveries?transaction=${docvTransactionId}&status=delivered`, {
          headers: { authorization: `SocureApiKey ${key}` },
        });
        return ((await res.json()) as { deliveries: unknown[] }).deliveries.length === 3;
      }, 'three deliveries');
      const list = await runCli(['deliveries', '--sandbox', url!, '--transaction', docvTransactionId], {
        DOCV_SANDBOX_API_KEY: key!,
      });
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/^id +docvTransactionId +eventType +status +attempts +last +next\n-+( +-+){6}$/m);
      expect(list.stdout).toMatch(new RegExp(`${docvTransactionId} +VERIFICATION_COMPLETED +delivered +1 +200`));
      const v5 = await fetch(`${url}/api/3.0/EmailAuthScore`, {
        method: 'POST',
        headers: { authorization: `SocureApiKey ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ modules: ['documentverification'], docvTransactionToken: docvTransactionId }),
      });
      expect(
        ((await v5.json()) as { documentVerification: { decision: { value: string } } }).documentVerification.decision
          .value,
      ).toBe('accept');
      const denied = await runCli(['deliveries', '--sandbox', url!, '--api-key', 'wrong']);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^docv-webhooks: the sandbox answered 401: /);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
