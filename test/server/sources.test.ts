import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/compose/config.js';
import { ConfigError, startReceiver, type ReceiverConfig, type RunningReceiver } from '../../src/server/index.js';
import { AmbiguousTransactionError } from '../../src/store/types.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { docvEvent, startTestReceiver, tempDir, type TestReceiver } from '../helpers/receiver.js';
import { uniqueId } from '../helpers/canonical-events.js';

/*
 * Several sources on one receiver (issue 20), over real HTTP on loopback: each at its own path
 * with its own credentials and dialect, the same ids under two sources kept apart, and the
 * sources swapped while the receiver runs (reload) without failing or losing a delivery.
 */

const TOKEN = 'sources-admin-token';
const ADMIN = { authorization: `Bearer ${TOKEN}` };
const PROD_SECRET = 'prod-s3cret-value';
const SANDBOX_USER = 'socure:sandbox-s3cret-value';
const PROD_AUTH = { authorization: `Bearer ${PROD_SECRET}` };
const SANDBOX_AUTH = { authorization: `Basic ${Buffer.from(SANDBOX_USER).toString('base64')}` };

const PROD: SourceConfig = {
  name: 'prod',
  path: '/hooks/prod',
  auth: { webhookSecrets: [PROD_SECRET] },
  dialect: 'asyncapi',
  environment: 'Production',
};
const SANDBOX: SourceConfig = {
  name: 'sandbox',
  path: '/hooks/sandbox',
  auth: { basicAuth: [SANDBOX_USER] },
  dialect: 'socure-v5',
  environment: 'Sandbox',
};

/** A Socure v5 DocvNotification, as Socure's sandbox sends it. */
function v5(tx: string, eventType = 'APP_OPENED'): Record<string, unknown> {
  return {
    id: uniqueId('notif'),
    origId: tx,
    eventGroup: 'DocvNotification',
    reason: eventType,
    environmentName: 'Sandbox',
    event: {
      eventType,
      created: '2026-03-01T10:00:00.000Z',
      message: eventType,
      referenceId: uniqueId('ref'),
      docvTransactionToken: tx,
      customerUserId: 121212,
    },
  };
}

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

/**
 * A delivery sent in two parts: the head and half the body now (so the receiver has resolved its
 * source and is reading), the rest when `finish` is called.
 */
function halfSent(url: string, body: string, headers: Record<string, string>): { finish(): Promise<Answer> } {
  const target = new URL(url);
  const bytes = Buffer.from(body);
  let resolveAnswer!: (a: Answer) => void;
  let rejectAnswer!: (e: unknown) => void;
  const answer = new Promise<Answer>((resolve, reject) => {
    resolveAnswer = resolve;
    rejectAnswer = reject;
  });
  const req = httpRequest(
    {
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers },
    },
    (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolveAnswer({
          status: res.statusCode ?? 0,
          headers: new Headers(res.headers as Record<string, string>),
          json: text ? JSON.parse(text) : null,
        }),
      );
    },
  );
  req.on('error', rejectAnswer);
  req.write(bytes.subarray(0, bytes.length >> 1));
  return {
    finish() {
      req.end(bytes.subarray(bytes.length >> 1));
      return answer;
    },
  };
}

const backends = await testBackends();

describe.each(backends)('two sources on one receiver ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let prodUrl: string;
  let sandboxUrl: string;

  beforeAll(async () => {
    r = await startTestReceiver({
      adminToken: TOKEN,
      sources: [PROD, SANDBOX],
      database: await backend.create(),
    });
    prodUrl = r.sourceUrls.prod!;
    sandboxUrl = r.sourceUrls.sandbox!;
  });
  afterAll(async () => {
    await r?.destroy();
  });

  it('serves each source at its own path; webhookUrl is the first', () => {
    expect(r.sourceUrls).toEqual({ prod: `${r.url}/hooks/prod`, sandbox: `${r.url}/hooks/sandbox` });
    expect(r.webhookUrl).toBe(prodUrl);
  });

  it("each path accepts only its own credentials: the other source's get 401", async () => {
    expect((await post(prodUrl, docvEvent(), PROD_AUTH)).status).toBe(200);
    expect((await post(sandboxUrl, v5(uniqueId('tok')), SANDBOX_AUTH)).status).toBe(200);
    const crossed = await post(prodUrl, docvEvent(), SANDBOX_AUTH);
    expect(crossed.status).toBe(401);
    expect(crossed.headers.get('content-type')).toContain('application/problem+json');
    expect((await post(sandboxUrl, v5(uniqueId('tok')), PROD_AUTH)).status).toBe(401);
    expect((await post(prodUrl, docvEvent())).status).toBe(401);
  });

  it('each pins its own dialect', async () => {
    const v5OnProd = await post(prodUrl, v5(uniqueId('tok')), PROD_AUTH);
    expect(v5OnProd.status).toBe(422);
    expect(v5OnProd.json.dialect).toBe('asyncapi');
    const flatOnSandbox = await post(sandboxUrl, docvEvent(), SANDBOX_AUTH);
    expect(flatOnSandbox.status).toBe(422);
    expect(flatOnSandbox.json.dialect).toBe('socure-v5');
  });

  it('the same transaction id under both sources is two transactions', async () => {
    const tx = uniqueId('shared-tx');
    const onProd = await post(prodUrl, docvEvent({ docvTransactionId: tx }), PROD_AUTH);
    const onSandbox = await post(sandboxUrl, v5(tx), SANDBOX_AUTH);
    expect(onProd.json.status).toBe('accepted');
    expect(onSandbox.json.status).toBe('accepted');
    expect(onProd.json.eventId).not.toBe(onSandbox.json.eventId);

    const prodTx = await r.store.getTransaction(tx, 'prod');
    const sandboxTx = await r.store.getTransaction(tx, 'sandbox');
    expect(prodTx?.events.map((e) => e.eventId)).toEqual([onProd.json.eventId]);
    expect(sandboxTx?.events.map((e) => e.eventId)).toEqual([onSandbox.json.eventId]);
    await expect(r.store.getTransaction(tx)).rejects.toThrow(AmbiguousTransactionError);
    expect((await r.store.getEvent(onProd.json.eventId))?.source).toBe('prod');
    expect((await r.store.getEvent(onSandbox.json.eventId))?.source).toBe('sandbox');
  });

  it('the same webhook-id under both sources is accepted under both', async () => {
    const webhookId = uniqueId('msg');
    const onProd = await post(prodUrl, docvEvent(), { ...PROD_AUTH, 'webhook-id': webhookId });
    const onSandbox = await post(sandboxUrl, v5(uniqueId('tok')), { ...SANDBOX_AUTH, 'webhook-id': webhookId });
    expect(onProd.json.status).toBe('accepted');
    expect(onSandbox.json.status).toBe('accepted');
    // Within one source it is still the same delivery.
    const again = await post(sandboxUrl, v5(uniqueId('tok')), { ...SANDBOX_AUTH, 'webhook-id': webhookId });
    expect(again.status).toBe(409);
  });

  it('a path no source serves is the 404 problem of any unknown route, its body not read', async () => {
    const res = await post(`${r.url}/hooks/nobody?x=1`, docvEvent(), PROD_AUTH);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json).toMatchObject({ status: 404, detail: 'no route POST /hooks/nobody' });
    // The query string is no part of a source's path.
    expect((await post(`${prodUrl}?from=socure`, docvEvent(), PROD_AUTH)).status).toBe(200);

    // A million bytes announced, none sent: the 404 comes at once, and the connection is closed.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(r.url).port), '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8').on('data', (c: string) => (text += c));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(
        'POST /hooks/nobody HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{',
      );
      setTimeout(() => reject(new Error(`no answer without the body: ${text}`)), 5_000).unref();
    });
    expect(raw).toMatch(/^HTTP\/1\.1 404/);
    expect(raw.toLowerCase()).toContain('connection: close');

    // Without a body (a crawler's GET /robots.txt) the connection stays open: two requests on one
    // socket get two answers.
    const twice = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(r.url).port), '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8').on('data', (c: string) => {
        text += c;
        if ((text.match(/HTTP\/1\.1 404/g) ?? []).length === 2 && text.endsWith('}')) socket.end();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      const get = 'GET /robots.txt HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
      socket.write(get + get);
      setTimeout(() => socket.destroy(), 5_000).unref();
    });
    expect(twice.match(/HTTP\/1\.1 404/g)).toHaveLength(2);
    expect(twice.toLowerCase()).not.toContain('connection: close');
  });

  it('the admin API, the health checks and GET /v1/sources still answer', async () => {
    expect((await r.admin('/v1/transactions', { headers: ADMIN })).status).toBe(200);
    expect((await r.admin('/v1/transactions')).status).toBe(401);
    expect((await r.admin('/healthz')).status).toBe(200);
    const unknownAdmin = await r.admin('/v1/nothing-here', { headers: ADMIN });
    expect(unknownAdmin.status).toBe(404);
    expect(unknownAdmin.json.detail).toBe('no route GET /v1/nothing-here');
    const sources = await r.admin('/v1/sources', { headers: ADMIN });
    expect(sources.status).toBe(200);
    expect(sources.json.items.map((s: { name: string; path: string }) => [s.name, s.path])).toEqual([
      ['prod', '/hooks/prod'],
      ['sandbox', '/hooks/sandbox'],
    ]);
    expect(JSON.stringify(sources.json)).not.toContain('s3cret');
  });

  it('metrics count each source apart, and nothing for a path no source serves', async () => {
    const before = await metricsText(r);
    await post(`${r.url}/hooks/nobody`, docvEvent(), PROD_AUTH);
    await post(prodUrl, docvEvent(), PROD_AUTH);
    const text = await metricsText(r);
    const prodAccepted = 'docv_deliveries_received_total{outcome="accepted",status="200",source="prod"}';
    expect(sample(text, prodAccepted)).toBe((sample(before, prodAccepted) ?? 0) + 1);
    expect(sample(text, 'docv_events_stored_total{event_type="APP_OPENED",source="sandbox"}')).toBeGreaterThan(0);
    expect(sample(text, 'docv_events_stored_total{event_type="VERIFICATION_COMPLETED",source="sandbox"}')).toBe(0);
    expect(text).not.toMatch(/status="404"/);
  });
});

async function metricsText(r: TestReceiver): Promise<string> {
  return (await fetch(`${r.url}/metrics`, { headers: ADMIN })).text();
}

function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.split(' ').at(-1));
}

/** The receiver's configuration with other sources (what a re-read config file gives). */
function withSources(r: RunningReceiver, sources: SourceConfig[]): ReceiverConfig {
  return { ...r.config, sources };
}

describe('reloading the sources of a running receiver (sqlite)', () => {
  // startReceiver's own object: its URLs and configuration follow each reload (a copy would not).
  let r: RunningReceiver & { admin: TestReceiver['admin'] };
  const dir = tempDir('docv-sources-reload-');
  beforeAll(async () => {
    const running = await startReceiver({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: `sqlite:${join(dir, 'receiver.db')}`,
      logLevel: 'silent',
      adminToken: TOKEN,
      sources: [PROD],
    });
    r = Object.assign(running, {
      async admin(path: string, init?: RequestInit) {
        const res = await fetch(`${running.url}${path}`, init);
        const text = await res.text();
        return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
      },
    });
  });
  afterAll(async () => {
    await r?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a source added is served at once; the others are left as they were', async () => {
    const route = r.sources.routes()[0];
    const report = await r.reload(withSources(r, [PROD, SANDBOX]));
    expect(report.sources).toEqual({ added: ['sandbox'], removed: [], changed: [] });
    expect(report.restartNeeded).toEqual([]);
    expect(r.sources.routes()[0]).toBe(route);
    expect((await post(`${r.url}/hooks/sandbox`, v5(uniqueId('tok')), SANDBOX_AUTH)).status).toBe(200);
    expect(r.sourceUrls.sandbox).toBe(`${r.url}/hooks/sandbox`);
    expect(r.config.sources?.map((s) => s.name)).toEqual(['prod', 'sandbox']);
  });

  it('a secret rotated: old and new both pass, then only the new one', async () => {
    const rotated = { ...PROD, auth: { webhookSecrets: ['prod-new-s3cret', PROD_SECRET] } };
    expect((await r.reload(withSources(r, [rotated, SANDBOX]))).sources.changed).toEqual(['prod']);
    expect((await post(`${r.url}/hooks/prod`, docvEvent(), PROD_AUTH)).status).toBe(200);
    expect((await post(`${r.url}/hooks/prod`, docvEvent(), { authorization: 'Bearer prod-new-s3cret' })).status).toBe(
      200,
    );
    const done = { ...PROD, auth: { webhookSecrets: ['prod-new-s3cret'] } };
    await r.reload(withSources(r, [done, SANDBOX]));
    expect((await post(`${r.url}/hooks/prod`, docvEvent(), PROD_AUTH)).status).toBe(401);
    expect((await post(`${r.url}/hooks/prod`, docvEvent(), { authorization: 'Bearer prod-new-s3cret' })).status).toBe(
      200,
    );
    await r.reload(withSources(r, [PROD, SANDBOX]));
  });

  it('a configuration that cannot work changes nothing', async () => {
    const before = r.sourceUrls;
    const badSecret = { ...SANDBOX, name: 'third', path: '/hooks/third', auth: { signingSecrets: ['whsec_!!!'] } };
    await expect(r.reload(withSources(r, [PROD, SANDBOX, badSecret]))).rejects.toThrow(ConfigError);
    await expect(r.reload(withSources(r, [PROD, { ...SANDBOX, path: PROD.path }]))).rejects.toThrow(/path/);
    await expect(r.reload(withSources(r, [PROD, { ...SANDBOX, path: '/v1/hooks' }]))).rejects.toThrow(/\/v1/);
    expect(r.sourceUrls).toEqual(before);
    expect((await post(`${r.url}/hooks/prod`, docvEvent(), PROD_AUTH)).status).toBe(200);
    expect((await post(`${r.url}/hooks/sandbox`, v5(uniqueId('tok')), SANDBOX_AUTH)).status).toBe(200);
    expect((await post(`${r.url}/hooks/third`, docvEvent())).status).toBe(404);
  });

  it('a source removed while deliveries are in flight: each finishes on it, none fails, none is lost', async () => {
    const inFlight = Array.from({ length: 12 }, () => {
      const tx = uniqueId('inflight');
      return { tx, delivery: halfSent(`${r.url}/hooks/sandbox`, JSON.stringify(v5(tx)), SANDBOX_AUTH) };
    });
    // Every one has its head read (its source resolved) before the source goes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await r.reload(withSources(r, [PROD]));
    expect(report.sources.removed).toEqual(['sandbox']);
    // New requests find nothing there now.
    expect((await post(`${r.url}/hooks/sandbox`, v5(uniqueId('tok')), SANDBOX_AUTH)).status).toBe(404);
    const answers = await Promise.all(inFlight.map((f) => f.delivery.finish()));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (const [i, answer] of answers.entries()) {
      const stored = await r.store.getEvent(answer.json.eventId);
      expect(stored?.source).toBe('sandbox');
      expect(stored?.docvTransactionId).toBe(inFlight[i]!.tx);
    }
    await r.reload(withSources(r, [PROD, SANDBOX]));
  });

  it('deliveries keep being answered while sources are swapped under load', async () => {
    let swapping = true;
    const swaps = (async () => {
      let n = 0;
      while (swapping) {
        const rotated = { ...PROD, auth: { webhookSecrets: [PROD_SECRET, `other-${n++}`] } };
        await r.reload(withSources(r, [rotated, SANDBOX]));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return n;
    })();
    const sent = await Promise.all(
      Array.from({ length: 60 }, () => post(`${r.url}/hooks/prod`, docvEvent(), PROD_AUTH)),
    );
    swapping = false;
    expect(await swaps).toBeGreaterThan(0);
    expect(sent.map((a) => a.status)).toEqual(sent.map(() => 200));
    for (const answer of sent) expect(await r.store.getEvent(answer.json.eventId)).not.toBeNull();
  });

  it('a quarantined body is reprocessed through its own source; one no longer configured is refused with 409', async () => {
    // Pinned to socure-v5, the sandbox quarantines a flat event (authenticated, so it is kept).
    const refused = await post(`${r.url}/hooks/sandbox`, docvEvent(), SANDBOX_AUTH);
    expect(refused.status).toBe(422);
    const listed = await r.admin('/v1/quarantine', { headers: ADMIN });
    const row = listed.json.items.find((q: { source: string }) => q.source === 'sandbox');
    expect(row).toBeDefined();

    // Through the prod source it would be accepted (prod takes asyncapi); through its own it is not.
    const stillPinned = await r.admin(`/v1/quarantine/${row.quarantineId}/reprocess`, {
      method: 'POST',
      headers: ADMIN,
    });
    expect(stillPinned.json.status).toBe(422);

    // The sandbox unpinned: the same body is now accepted, as the sandbox's event.
    await r.reload(withSources(r, [PROD, { ...SANDBOX, dialect: undefined }]));
    const accepted = await r.admin(`/v1/quarantine/${row.quarantineId}/reprocess`, { method: 'POST', headers: ADMIN });
    expect(accepted.json.outcome).toBe('accepted');
    expect((await r.store.getEvent(accepted.json.eventId))?.source).toBe('sandbox');

    // Another body quarantined by the sandbox, then the sandbox removed: refused with 409, nothing stored.
    await r.reload(withSources(r, [PROD, SANDBOX]));
    expect((await post(`${r.url}/hooks/sandbox`, docvEvent(), SANDBOX_AUTH)).status).toBe(422);
    const second = (await r.admin('/v1/quarantine', { headers: ADMIN })).json.items.find(
      (q: { source: string; quarantineId: string }) => q.source === 'sandbox' && q.quarantineId !== row.quarantineId,
    );
    await r.reload(withSources(r, [PROD]));
    const gone = await r.admin(`/v1/quarantine/${second.quarantineId}/reprocess`, { method: 'POST', headers: ADMIN });
    expect(gone.json.status).toBe(409);
    expect(gone.json.problem).toMatchObject({
      status: 409,
      type: 'urn:docv-webhooks:problem:source-not-configured',
      detail: expect.stringContaining('"sandbox" is no longer configured'),
    });
    expect(gone.json.eventId).toBeNull();
    // The row is left as it was (retryLater), so it can be reprocessed once the source is back.
    expect((await r.store.getQuarantine(second.quarantineId))?.reprocessed).toBeNull();
    await r.reload(withSources(r, [PROD, SANDBOX]));
  });

  it('settings only a restart changes are named, not applied', async () => {
    const report = await r.reload({ ...withSources(r, [PROD, SANDBOX]), maxBodyBytes: 1024 });
    expect(report.restartNeeded).toEqual(['maxBodyBytes']);
    expect(r.config.maxBodyBytes).not.toBe(1024);
    expect(r.config.sources?.map((s) => s.name)).toEqual(['prod', 'sandbox']);
  });
});

describe('sources beyond loopback', () => {
  it('every source needs credentials: the one without is named', async () => {
    const open: SourceConfig = { name: 'open', path: '/hooks/open', auth: {} };
    const started = startReceiver({
      host: '0.0.0.0',
      port: 0,
      adminToken: TOKEN,
      databaseUrl: 'sqlite::memory:',
      logLevel: 'silent',
      sources: [PROD, open],
    });
    await expect(started).rejects.toThrow(ConfigError);
    await expect(started).rejects.toThrow(/source "open" \(\/hooks\/open\) has no webhook credentials/);
  });

  it('a reload that would open one is refused, and changes nothing', async () => {
    const r = await startTestReceiver({ host: '0.0.0.0', adminToken: TOKEN, sources: [PROD] });
    try {
      const open: SourceConfig = { name: 'open', path: '/hooks/open', auth: {} };
      await expect(r.reload({ ...r.config, sources: [PROD, open] })).rejects.toThrow(/source "open"/);
      expect(Object.keys(r.sourceUrls)).toEqual(['prod']);
    } finally {
      await r.destroy();
    }
  });
});
