import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { count, newSharedSecret, newSigningSecret, signatureHeaders } from './helpers.js';

/**
 * A body fastify could not read (its length does not match Content-Length, its stream failed)
 * used to be answered by the route's error handler with a 400 "the request could not be read",
 * before the allow-list, the failure limiter and the credential check: an unauthenticated sender
 * got a 400 where any other unauthenticated delivery gets a 401. Such errors now go through the
 * pipeline like every other delivery, and the 400 comes only after the credentials passed.
 *
 * Over a real socket Node's HTTP parser usually answers broken framing itself, before the route
 * sees a request; `inject` reaches the route's error handler directly and deterministically.
 *
 * On each store backend: what is quarantined (and what is not) must not depend on it.
 */

const backends = await testBackends();

const UNAUTHORIZED = {
  type: 'urn:docv-webhooks:problem:unauthorized',
  title: 'Unauthorized',
  status: 401,
  detail: 'the delivery is not authenticated',
};

type Unreadable = { name: string; headers: Record<string, string>; payload: string; simulateError?: boolean };

/** Two ways a body cannot be read: fewer bytes than announced, and a stream that fails. */
const UNREADABLE: Unreadable[] = [
  {
    name: 'shorter than its Content-Length',
    headers: { 'content-type': 'application/json', 'content-length': '10' },
    payload: '{}',
  },
  // The request stream emits an error after part of the body, as when the connection breaks.
  {
    name: 'a stream that fails',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    payload: '{"eventType":',
    simulateError: true,
  },
];

function inject(r: TestReceiver, c: Unreadable, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return r.app.inject({
    method: 'POST',
    url: new URL(r.webhookUrl).pathname,
    headers: { ...c.headers, ...headers },
    payload: c.payload,
    ...(c.simulateError ? { simulate: { error: true, end: true, split: false, close: false } } : {}),
  });
}

describe.each(backends)('unreadable bodies ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  /** A receiver on a fresh database of this backend; `destroy` drops it. */
  const start = async (options: Parameters<typeof startTestReceiver>[0] = {}) =>
    startTestReceiver({ ...options, database: await backend.create() });

  describe('a body that cannot be read, with a shared secret', () => {
    const secret = newSharedSecret('read-errors');
    let r: TestReceiver;
    beforeAll(async () => {
      // Behind a proxy the receiver refuses to start without an admin token.
      r = await start({
        webhookSecrets: [secret],
        auth: { trustProxy: true },
        adminToken: 'read-errors-admin-token-for-tests',
      });
    });
    afterAll(async () => r.destroy());

    describe.each(UNREADABLE)('$name', (c) => {
      it.each<[string, Record<string, string>]>([
        ['no credentials', {}],
        ['a wrong secret', { authorization: 'Bearer wrong-secret' }],
        [
          'the secret with its last character changed',
          { authorization: `Bearer ${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}` },
        ],
      ])('with %s is a 401, not a 400, and nothing is kept', async (_name, credentials) => {
        const quarantined = await count(r.database, 'quarantine');
        const res = await inject(r, c, { ...credentials, 'x-forwarded-for': '10.1.0.1' });
        expect(res.statusCode, res.body).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="docv-webhooks"');
        expect(res.json()).toEqual(UNAUTHORIZED);
        expect(await count(r.database, 'quarantine')).toBe(quarantined);
      });

      it('with the right secret is a 400 that says the request could not be read, quarantined, not stored', async () => {
        const events = await count(r.database, 'events');
        const quarantined = await count(r.database, 'quarantine');
        const res = await inject(r, c, { authorization: `Bearer ${secret}`, 'x-forwarded-for': '10.1.0.2' });
        expect(res.statusCode, res.body).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.headers.connection).toBe('close');
        expect(res.json()).toMatchObject({
          type: 'urn:docv-webhooks:problem:bad-request',
          status: 400,
          detail: expect.stringMatching(/^the request could not be read: /),
        });
        expect(await count(r.database, 'events')).toBe(events);
        expect(await count(r.database, 'quarantine')).toBe(quarantined + 1);
        const [last] = await r.database.rows<{ reason: string; status: number }>(
          'SELECT reason, status FROM quarantine ORDER BY seq DESC LIMIT 1',
        );
        expect(last).toEqual({ reason: 'bad_request', status: 400 });
      });
    });

    it('counts toward the failure limiter like any other failed authentication', async () => {
      const c = UNREADABLE[0]!;
      const from = { 'x-forwarded-for': '10.1.0.3' };
      const statuses: number[] = [];
      for (let i = 0; i < 15 && statuses.at(-1) !== 429; i += 1) statuses.push((await inject(r, c, from)).statusCode);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.at(-1)).toBe(429);
      // Blocked before the credential check: the right secret does not get its 400 either.
      expect((await inject(r, c, { ...from, authorization: `Bearer ${secret}` })).statusCode).toBe(429);
    });
  });

  describe('a body that cannot be read, with a source allow-list', () => {
    const secret = newSharedSecret('read-errors');
    let r: TestReceiver;
    beforeAll(async () => {
      r = await start({ webhookSecrets: [secret], auth: { allowIps: ['10.0.0.0/8'] } });
    });
    afterAll(async () => r.destroy());

    it.each(UNREADABLE)('$name from an address off the list is a 403, even with the right secret', async (c) => {
      const res = await inject(r, c, { authorization: `Bearer ${secret}` });
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json()).toMatchObject({ type: 'urn:docv-webhooks:problem:forbidden' });
      expect(await count(r.database, 'quarantine')).toBe(0);
    });
  });

  describe('a body that cannot be read, with Standard Webhooks signatures', () => {
    const signing = newSigningSecret();
    let r: TestReceiver;
    beforeAll(async () => {
      r = await start({ signingSecrets: [signing] });
    });
    afterAll(async () => r.destroy());

    it.each(UNREADABLE)(
      '$name is a 401 even with a valid signature of the whole body: what was not read cannot be verified',
      async (c) => {
        const res = await inject(r, c, signatureHeaders(signing, '{}'));
        expect(res.statusCode, res.body).toBe(401);
        expect(res.json()).toEqual(UNAUTHORIZED);
        expect(await count(r.database, 'quarantine')).toBe(0);
      },
    );
  });
});
