import { describe, expect, it } from 'vitest';
import {
  AuthConfigError,
  createInboundAuth,
  signStandardWebhook,
  type InboundAuthConfig,
  type InboundRequestMeta,
} from '../../src/auth/index.js';

const SHARED = 'docv-shared-secret';
const SIGNING = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NOW_SECONDS = 1_767_225_600;
const now = () => NOW_SECONDS * 1000 + 250;
const BODY = Buffer.from('{"eventType":"APP_OPENED","docvTransactionId":"tx-1","eventTime":"2026-01-01T00:00:00Z"}');

function signed(
  body: Uint8Array = BODY,
  id = 'msg_1',
  timestamp = NOW_SECONDS,
  secret = SIGNING,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandardWebhook(secret, id, timestamp, body),
  };
}

const basicHeader = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
const meta = (
  headers: InboundRequestMeta['headers'],
  remoteAddress: string | undefined = '127.0.0.1',
): InboundRequestMeta => ({ headers, remoteAddress });

function configError(config: InboundAuthConfig): AuthConfigError {
  try {
    createInboundAuth(config);
  } catch (error) {
    if (error instanceof AuthConfigError) return error;
    throw error;
  }
  throw new Error('expected a configuration error');
}

describe('createInboundAuth', () => {
  describe('with nothing configured', () => {
    const auth = createInboundAuth({});

    it('is open and says so', () => {
      expect(auth.configured).toBe(false);
      expect(auth.mechanisms).toEqual([]);
      expect(auth.checkCredentials(meta({}), BODY)).toEqual({ ok: true });
      expect(auth.checkSource(meta({}, '198.51.100.1'))).toEqual({ ok: true, clientAddress: '198.51.100.1' });
    });

    it('treats empty lists as not configured', () => {
      const empty = createInboundAuth({ webhookSecrets: [], basicAuth: [], signingSecrets: [], allowIps: [] });
      expect(empty.configured).toBe(false);
      expect(empty.mechanisms).toEqual([]);
      expect(empty.checkCredentials(meta({}), BODY)).toEqual({ ok: true });
    });
  });

  describe('shared secret', () => {
    const auth = createInboundAuth({ webhookSecrets: [SHARED, 'next-secret'] });

    it('passes the secret in any of the accepted forms', () => {
      for (const authorization of [SHARED, `Bearer ${SHARED}`, `Whatever ${SHARED}`, 'Bearer next-secret']) {
        expect(auth.checkCredentials(meta({ authorization }), BODY)).toEqual({ ok: true });
      }
    });

    it('fails with 401, the check name, a reason and a Bearer challenge', () => {
      expect(auth.checkCredentials(meta({ authorization: 'Bearer wrong' }), BODY)).toEqual({
        ok: false,
        status: 401,
        failedCheck: 'shared-secret',
        reason: 'shared-secret: the token in the Authorization header matches no configured webhook secret',
        wwwAuthenticate: 'Bearer realm="docv-webhooks"',
      });
      expect(auth.checkCredentials(meta({}), BODY)).toMatchObject({
        ok: false,
        failedCheck: 'shared-secret',
        reason: 'shared-secret: no Authorization header',
      });
    });

    it('reports what is configured without revealing it', () => {
      expect(auth.configured).toBe(true);
      expect(auth.mechanisms).toEqual(['shared-secret']);
      expect(JSON.stringify(auth)).not.toContain(SHARED);
    });
  });

  describe('basic auth', () => {
    const auth = createInboundAuth({ basicAuth: ['socure:pa55'] });

    it('passes the right credentials and fails others with a Basic challenge', () => {
      expect(auth.checkCredentials(meta({ authorization: basicHeader('socure:pa55') }), BODY)).toEqual({ ok: true });
      expect(auth.checkCredentials(meta({ authorization: basicHeader('socure:nope') }), BODY)).toMatchObject({
        ok: false,
        status: 401,
        failedCheck: 'basic-auth',
        wwwAuthenticate: 'Basic realm="docv-webhooks"',
      });
      expect(auth.mechanisms).toEqual(['basic-auth']);
    });
  });

  describe('signature', () => {
    const auth = createInboundAuth({ signingSecrets: [SIGNING], now });

    it('passes a signed delivery and returns its verified id', () => {
      expect(auth.checkCredentials(meta(signed()), BODY)).toEqual({ ok: true, webhookId: 'msg_1' });
    });

    it('accepts the svix- spelling', () => {
      const headers = Object.fromEntries(
        Object.entries(signed()).map(([name, value]) => [name.replace('webhook-', 'svix-'), value]),
      );
      expect(auth.checkCredentials(meta(headers), BODY)).toEqual({ ok: true, webhookId: 'msg_1' });
    });

    it.each([
      ['missing headers', {}, BODY, /signature: missing webhook-id, webhook-timestamp, webhook-signature/],
      [
        'a tampered body',
        signed(),
        Buffer.from(BODY.toString().replace('APP_OPENED', 'VERIFICATION_COMPLETED')),
        /signature: webhook-signature matches no/,
      ],
      [
        'an expired timestamp',
        signed(BODY, 'msg_1', NOW_SECONDS - 301),
        BODY,
        /signature: webhook-timestamp \d+ is 301 s in the past/,
      ],
      [
        'a future timestamp',
        signed(BODY, 'msg_1', NOW_SECONDS + 301),
        BODY,
        /signature: webhook-timestamp \d+ is 301 s in the future/,
      ],
      [
        'a wrong secret',
        signed(BODY, 'msg_1', NOW_SECONDS, 'whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='),
        BODY,
        /matches no configured signing secret/,
      ],
    ])('fails %s with 401 and no challenge', (_label, headers, body, reason) => {
      const outcome = auth.checkCredentials(meta(headers), body);
      expect(outcome).toMatchObject({ ok: false, status: 401, failedCheck: 'signature' });
      if (!outcome.ok) {
        expect(outcome.reason).toMatch(reason);
        expect(outcome.wwwAuthenticate).toBeUndefined();
        expect('wwwAuthenticate' in outcome).toBe(false);
      }
    });

    it('uses the configured tolerance and the injected clock', () => {
      const strict = createInboundAuth({ signingSecrets: [SIGNING], signatureToleranceSeconds: 10, now });
      expect(strict.checkCredentials(meta(signed(BODY, 'msg_1', NOW_SECONDS - 10)), BODY).ok).toBe(true);
      expect(strict.checkCredentials(meta(signed(BODY, 'msg_1', NOW_SECONDS - 11)), BODY).ok).toBe(false);
    });

    it('accepts deliveries signed with either secret during a rotation', () => {
      const next = 'whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
      const rotating = createInboundAuth({ signingSecrets: [SIGNING, next], now });
      expect(rotating.checkCredentials(meta(signed(BODY, 'a', NOW_SECONDS, SIGNING)), BODY)).toEqual({
        ok: true,
        webhookId: 'a',
      });
      expect(rotating.checkCredentials(meta(signed(BODY, 'b', NOW_SECONDS, next)), BODY)).toEqual({
        ok: true,
        webhookId: 'b',
      });
    });

    it('uses the real clock by default', () => {
      const realClock = createInboundAuth({ signingSecrets: [SIGNING] });
      const t = Math.floor(Date.now() / 1000);
      expect(realClock.checkCredentials(meta(signed(BODY, 'm', t)), BODY).ok).toBe(true);
      expect(realClock.checkCredentials(meta(signed(BODY, 'm', NOW_SECONDS - 10_000_000)), BODY).ok).toBe(false);
    });
  });

  describe('several mechanisms (every one must pass)', () => {
    const auth = createInboundAuth({ webhookSecrets: [SHARED], signingSecrets: [SIGNING], now });

    it('passes only when all pass', () => {
      expect(auth.checkCredentials(meta({ authorization: `Bearer ${SHARED}`, ...signed() }), BODY)).toEqual({
        ok: true,
        webhookId: 'msg_1',
      });
      expect(auth.checkCredentials(meta({ authorization: 'Bearer wrong', ...signed() }), BODY)).toMatchObject({
        ok: false,
        failedCheck: 'shared-secret',
      });
      expect(auth.checkCredentials(meta({ authorization: `Bearer ${SHARED}` }), BODY)).toMatchObject({
        ok: false,
        failedCheck: 'signature',
      });
      expect(auth.checkCredentials(meta({}), BODY)).toMatchObject({ ok: false, failedCheck: 'shared-secret' });
    });

    it('still sends the Authorization challenge when only the signature failed (RFC 9110 wants one on every 401)', () => {
      expect(auth.checkCredentials(meta({ authorization: SHARED }), BODY)).toMatchObject({
        failedCheck: 'signature',
        wwwAuthenticate: 'Bearer realm="docv-webhooks"',
      });
    });

    it('lists the mechanisms in check order', () => {
      const all = createInboundAuth({ basicAuth: ['u:p'], signingSecrets: [SIGNING], allowIps: ['127.0.0.1'] });
      expect(all.mechanisms).toEqual(['allow-list', 'basic-auth', 'signature']);
      expect(all.configured).toBe(true);
    });

    it('never reveals a secret in any failure', () => {
      const everything = createInboundAuth({ basicAuth: ['socure:TopSecretPass'], signingSecrets: [SIGNING], now });
      const attempts: InboundRequestMeta['headers'][] = [
        {},
        { authorization: basicHeader('socure:wrong') },
        { authorization: basicHeader('socure:TopSecretPass') },
        {
          authorization: basicHeader('socure:TopSecretPass'),
          ...signed(BODY, 'm', NOW_SECONDS, 'whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='),
        },
        { authorization: basicHeader('socure:TopSecretPass'), ...signed(BODY, 'm', 1) },
      ];
      for (const headers of attempts) {
        const text = JSON.stringify(everything.checkCredentials(meta(headers), BODY));
        expect(text).toContain('"ok":false');
        for (const secret of [
          'TopSecretPass',
          'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
          Buffer.from('socure:TopSecretPass').toString('base64'),
        ]) {
          expect(text).not.toContain(secret);
        }
      }
    });
  });

  describe('source allow-list', () => {
    const auth = createInboundAuth({ allowIps: ['127.0.0.0/8', '::1', '203.0.113.0/24'] });

    it('is not a credential mechanism', () => {
      expect(auth.configured).toBe(false);
      expect(auth.mechanisms).toEqual(['allow-list']);
    });

    it.each(['127.0.0.1', '::ffff:127.0.0.1', '::1', '203.0.113.200'])('admits %s', (address) => {
      expect(auth.checkSource(meta({}, address)).ok).toBe(true);
    });

    it('refuses other addresses with 403 and says which', () => {
      expect(auth.checkSource(meta({}, '198.51.100.9'))).toEqual({
        ok: false,
        status: 403,
        failedCheck: 'allow-list',
        reason: 'client address 198.51.100.9 is not on the allow-list',
        clientAddress: '198.51.100.9',
      });
      expect(auth.checkSource({ headers: {}, remoteAddress: undefined })).toMatchObject({
        ok: false,
        status: 403,
        reason: 'client address unknown',
      });
    });

    it('ignores X-Forwarded-For unless a proxy is trusted', () => {
      expect(auth.checkSource(meta({ 'x-forwarded-for': '127.0.0.1' }, '198.51.100.9')).ok).toBe(false);
    });

    it('believes the right-most X-Forwarded-For entry behind a trusted proxy', () => {
      const behindProxy = createInboundAuth({ allowIps: ['203.0.113.0/24'], trustProxy: true });
      expect(behindProxy.checkSource(meta({ 'x-forwarded-for': '203.0.113.7' }, '10.0.0.2'))).toEqual({
        ok: true,
        clientAddress: '203.0.113.7',
      });
      // A client claiming an allowed address to the left of its real one is refused.
      expect(
        behindProxy.checkSource(meta({ 'x-forwarded-for': '203.0.113.7, 198.51.100.9' }, '10.0.0.2')),
      ).toMatchObject({ ok: false, clientAddress: '198.51.100.9' });
    });

    it('reports the client address even with no allow-list, for the failure limiter', () => {
      expect(
        createInboundAuth({ trustProxy: true }).checkSource(meta({ 'x-forwarded-for': '192.0.2.5' }, '10.0.0.2')),
      ).toEqual({ ok: true, clientAddress: '192.0.2.5' });
    });
  });

  describe('configuration errors', () => {
    it.each<[string, InboundAuthConfig, string, RegExp]>([
      ['a bad CIDR', { allowIps: ['10.0.0.0/33'] }, 'allowIps', /entry 1/],
      ['a host name on the allow-list', { allowIps: ['example.com'] }, 'allowIps', /not an IPv4\/IPv6 address or CIDR/],
      ['user:pass without a colon', { basicAuth: ['userpass'] }, 'basicAuth', /no colon/],
      ['an empty shared secret', { webhookSecrets: [''] }, 'webhookSecrets', /empty/],
      ['whitespace in a shared secret', { webhookSecrets: ['abc\n'] }, 'webhookSecrets', /whitespace/],
      ['whitespace in a signing secret', { signingSecrets: [`${SIGNING} `] }, 'signingSecrets', /whitespace/],
      ['bad whsec base64', { signingSecrets: ['whsec_%%%'] }, 'signingSecrets', /entry 1: .*not valid base64/],
      [
        'a zero tolerance',
        { signingSecrets: [SIGNING], signatureToleranceSeconds: 0 },
        'signatureToleranceSeconds',
        /positive/,
      ],
      [
        'a tolerance that is not a number',
        { signingSecrets: [SIGNING], signatureToleranceSeconds: '300' as unknown as number },
        'signatureToleranceSeconds',
        /positive/,
      ],
      [
        'basic auth and a shared secret together',
        { webhookSecrets: [SHARED], basicAuth: ['u:p'] },
        'basicAuth',
        /Authorization header/,
      ],
      ['a non-boolean trustProxy', { trustProxy: 'yes' as unknown as boolean }, 'trustProxy', /true or false/],
      ['a non-function clock', { now: 5 as unknown as () => number }, 'now', /function/],
      ['a secret list that is a string', { webhookSecrets: 'abc' as unknown as string[] }, 'webhookSecrets', /list/],
    ])('refuses %s with a TypeError naming the option', (_label, config, option, message) => {
      const error = configError(config);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.option).toBe(option);
      expect(error.message).toMatch(message);
    });

    it('does not put secrets in configuration errors', () => {
      expect(configError({ signingSecrets: ['whsec_Top$ecret'] }).message).not.toContain('Top$ecret');
      expect(configError({ webhookSecrets: ['ok', 'Top Secret'] }).message).not.toContain('Top Secret');
    });

    it('refuses a missing configuration object', () => {
      expect(() => createInboundAuth(undefined as unknown as InboundAuthConfig)).toThrow(TypeError);
    });
  });

  it('refuses a body that is not raw bytes, telling the caller why', () => {
    const auth = createInboundAuth({ signingSecrets: [SIGNING], now });
    expect(() => auth.checkCredentials(meta(signed()), BODY.toString() as unknown as Uint8Array)).toThrow(
      /raw request body as bytes/,
    );
    expect(() => auth.checkCredentials(meta(signed()), JSON.parse(BODY.toString()) as Uint8Array)).toThrow(TypeError);
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    const auth = createInboundAuth({ signingSecrets: [SIGNING], now });
    expect(auth.checkCredentials(meta(signed()), new Uint8Array(BODY))).toEqual({ ok: true, webhookId: 'msg_1' });
  });
});
