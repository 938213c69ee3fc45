import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { startSink, type HttpSink, type SinkRequest } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

const SECRET_KEY = Buffer.from('forward-test-key-0123456789abcdef');
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;

/** Verifies a Standard Webhooks signature independently of the code under test. */
function signatureValid(req: SinkRequest): boolean {
  const id = String(req.headers['webhook-id']);
  const ts = String(req.headers['webhook-timestamp']);
  const expected = createHmac('sha256', SECRET_KEY).update(`${id}.${ts}.${req.body}`).digest();
  return String(req.headers['webhook-signature'] ?? '')
    .split(' ')
    .some((s) => {
      const sig = Buffer.from(s.replace(/^v1,/, ''), 'base64');
      return sig.length === expected.length && timingSafeEqual(sig, expected);
    });
}

const backends = await testBackends();

describe.each(backends)('HTTP forward ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let sink: HttpSink;
  afterEach(async () => {
    await r?.destroy();
    await sink?.close();
  });

  it('POSTs every event, signed, retries failures with the same webhook-id, honours Retry-After', async () => {
    let n = 0;
    sink = await startSink((req, res) => {
      n++;
      if (!signatureValid(req)) return res.writeHead(401).end('bad signature');
      if (n === 1) return res.writeHead(503, { 'retry-after': '1' }).end('busy');
      res.writeHead(204).end();
    });
    r = await startTestReceiver({
      database: await backend.create(),
      dispatch: {
        forwardUrls: [`${sink.url}/hooks/docv`],
        forwardSigningSecrets: [SECRET],
        retry: { schedule: [10], maxAttempts: 5, jitter: 0 },
      },
    });
    const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED', vendorExtra: 42 });
    const accepted = await r.deliver(event);
    await waitFor(() => sink.requests.length >= 2, 'two forward attempts', 5000);
    const [first, second] = sink.requests;
    expect(first!.url).toBe('/hooks/docv');
    expect(signatureValid(first!)).toBe(true);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    // Retry-After: 1 outranks the 10 ms schedule.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    const body = JSON.parse(second!.body);
    expect(body).toMatchObject({
      eventId: accepted.json.eventId,
      eventType: 'DOCUMENTS_UPLOADED',
      event: { ...event },
      decision: null,
    });
    const deliveries = await waitFor(async () => {
      const d = await r.admin('/v1/deliveries?state=delivered');
      return d.json.items.length > 0 ? d : null;
    }, 'the delivered state recorded');
    expect(deliveries.json.items).toEqual([
      expect.objectContaining({
        destination: expect.stringMatching(/^forward:127\.0\.0\.1:\d+\/hooks\/docv$/),
        attempts: 2,
      }),
    ]);
  });

  it('a forward URL with user:password arrives with HTTP Basic (undici would drop it), the URL without it', async () => {
    sink = await startSink((_req, res) => res.writeHead(204).end());
    const base = new URL(sink.url);
    r = await startTestReceiver({
      database: await backend.create(),
      dispatch: {
        forwardUrls: [`http://hook%40user:p%3Ass%20w@${base.host}/hooks/docv`],
        retry: { schedule: [10], maxAttempts: 2, jitter: 0 },
      },
    });
    await r.deliver(docvEvent());
    await waitFor(() => sink.requests.length >= 1, 'the forward', 5000);
    const req = sink.requests[0]!;
    expect(req.url).toBe('/hooks/docv');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('hook@user:p:ss w').toString('base64')}`);
  });

  it('410 Gone kills the delivery at once', async () => {
    sink = await startSink((_req, res) => res.writeHead(410).end('gone'));
    r = await startTestReceiver({
      database: await backend.create(),
      dispatch: { forwardUrls: [sink.url], retry: { schedule: [10], maxAttempts: 5, jitter: 0 } },
    });
    await r.deliver(docvEvent());
    const dead = await waitFor(async () => (await r.admin('/v1/deliveries?state=dead')).json.items[0], 'dead delivery');
    expect(dead).toMatchObject({ attempts: 1, lastStatus: 410 });
    expect(sink.requests).toHaveLength(1);
  });

  it('times out a hanging destination and counts it as a failure', async () => {
    sink = await startSink(() => undefined); // never answers
    r = await startTestReceiver({
      database: await backend.create(),
      dispatch: {
        forwardUrls: [sink.url],
        forwardTimeoutMs: 200,
        retry: { schedule: [10], maxAttempts: 2, jitter: 0 },
      },
    });
    await r.deliver(docvEvent());
    const dead = await waitFor(
      async () => (await r.admin('/v1/deliveries?state=dead')).json.items[0],
      'dead delivery',
      5000,
    );
    expect(dead.lastError).toContain('timed out after 200 ms');
    const view = await r.admin(`/v1/deliveries/${dead.deliveryId}`);
    expect(view.json.history).toHaveLength(2);
  });

  it('retry and replay through the admin API', async () => {
    let up = false;
    sink = await startSink((_req, res) => res.writeHead(up ? 200 : 500).end());
    r = await startTestReceiver({
      database: await backend.create(),
      dispatch: { forwardUrls: [sink.url], retry: { schedule: [10], maxAttempts: 2, jitter: 0 } },
    });
    await r.deliver(docvEvent());
    const dead = await waitFor(async () => (await r.admin('/v1/deliveries?state=dead')).json.items[0], 'dead delivery');
    up = true;
    const retried = await r.admin(`/v1/deliveries/${dead.deliveryId}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    await waitFor(
      async () => (await r.admin(`/v1/deliveries/${dead.deliveryId}`)).json.state === 'delivered',
      'delivered after retry',
    );
    const replay = await r.admin('/v1/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventType: 'APP_OPENED' }),
    });
    expect(replay).toMatchObject({ status: 202, json: { requeued: 1 } });
    await waitFor(() => sink.requests.length === 4, 'replayed forward');
    expect(
      (
        await r.admin('/v1/replay', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"eventType":"NOPE"}',
        })
      ).status,
    ).toBe(400);
    expect((await r.admin('/v1/deliveries/dlv_unknown/retry', { method: 'POST' })).status).toBe(404);
  });
});
