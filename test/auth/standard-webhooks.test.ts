import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  computeSignature,
  createStandardWebhookVerifier,
  decodeSigningSecret,
  signStandardWebhook,
  WebhookVerificationError,
  type WebhookVerificationFailure,
} from '../../src/auth/index.js';

// The published known-answer vector of the Standard Webhooks reference libraries
// (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts, "sign function works").
const KAT = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
} as const;

// Our own vectors, computed independently with Python's hmac module.
const OWN = {
  secret: 'whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', // bytes 0..31
  id: 'evt_docv_0001',
  timestamp: 1767225600,
  body: '{"eventType":"VERIFICATION_COMPLETED","docvTransactionId":"tx-1","decision":"accept"}',
  signature: 'v1,pP7I/nDVwSs3/7YfNB+D+dXidhQAdepxnJI6zjb3IcQ=',
} as const;
const RAW_SECRET_VECTOR = {
  secret: 'plain-shared-signing-secret',
  id: 'msg_2',
  timestamp: 1767225600,
  body: '{}',
  signature: 'v1,Z5A01xcGBAmnwlOqvT6nRO7F9hP9gzwFxXejGVT/+E4=',
};
const UTF8_BODY_VECTOR = {
  id: 'msg_3',
  timestamp: 1767225600,
  body: '{"name":"Zoë"}',
  signature: 'v1,RTFm5Lmjak4pMEv+HtIE0dppeTF8Dp442NQaLdAB680=',
};

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const atSeconds = (seconds: number) => () => seconds * 1000;

function headersFor(
  v: { id: string; timestamp: number; signature: string },
  prefix = 'webhook',
): Record<string, string> {
  return { [`${prefix}-id`]: v.id, [`${prefix}-timestamp`]: String(v.timestamp), [`${prefix}-signature`]: v.signature };
}

function failureOf(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected verification to fail');
}

describe('signing', () => {
  it('reproduces the published Standard Webhooks known-answer vector', () => {
    expect(signStandardWebhook(KAT.secret, KAT.id, KAT.timestamp, KAT.body)).toBe(KAT.signature);
  });

  it('reproduces our independently computed vectors (whsec, raw secret, UTF-8 body)', () => {
    expect(signStandardWebhook(OWN.secret, OWN.id, OWN.timestamp, OWN.body)).toBe(OWN.signature);
    expect(
      signStandardWebhook(
        RAW_SECRET_VECTOR.secret,
        RAW_SECRET_VECTOR.id,
        RAW_SECRET_VECTOR.timestamp,
        RAW_SECRET_VECTOR.body,
      ),
    ).toBe(RAW_SECRET_VECTOR.signature);
    expect(
      signStandardWebhook(OWN.secret, UTF8_BODY_VECTOR.id, UTF8_BODY_VECTOR.timestamp, bytes(UTF8_BODY_VECTOR.body)),
    ).toBe(UTF8_BODY_VECTOR.signature);
  });

  it('signs with every secret, space separated, for rotation', () => {
    const header = signStandardWebhook([KAT.secret, OWN.secret], KAT.id, KAT.timestamp, KAT.body);
    const [first, second] = header.split(' ');
    expect(first).toBe(KAT.signature);
    expect(second).toBe(`v1,${computeSignature(decodeSigningSecret(OWN.secret), KAT.id, KAT.timestamp, KAT.body)}`);
  });

  it('computes HMAC-SHA256 over "{id}.{timestamp}.{body}" with the decoded key', () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const expected = createHmac('sha256', key).update(`${KAT.id}.${KAT.timestamp}.${KAT.body}`).digest('base64');
    expect(computeSignature(key, KAT.id, KAT.timestamp, bytes(KAT.body))).toBe(expected);
  });
});

describe('decodeSigningSecret', () => {
  it('decodes whsec_ secrets as base64 and takes unprefixed ones as raw UTF-8', () => {
    expect(decodeSigningSecret('whsec_AAECAw==')).toEqual(Buffer.from([0, 1, 2, 3]));
    expect(decodeSigningSecret('whsec_AAECAw')).toEqual(Buffer.from([0, 1, 2, 3]));
    expect(decodeSigningSecret('raw-secret')).toEqual(bytes('raw-secret'));
  });

  it.each([
    ['not base64 at all', 'whsec_not*base64!'],
    ['url-safe alphabet', 'whsec_ab-_cd'],
    ['truncated (length 1 mod 4)', 'whsec_AAECA'],
    ['non-canonical trailing bits', 'whsec_AB'],
    ['padding in the middle', 'whsec_AA==AA'],
    ['prefix only', 'whsec_'],
  ])('rejects a whsec_ secret that is %s', (_label, secret) => {
    expect(() => decodeSigningSecret(secret)).toThrow(TypeError);
  });

  it('rejects empty secrets and surrounding whitespace, without echoing the secret', () => {
    expect(() => decodeSigningSecret('')).toThrow(/empty/);
    expect(() => decodeSigningSecret(`${KAT.secret}\n`)).toThrow(/whitespace/);
    try {
      decodeSigningSecret('whsec_sup3r*secret');
    } catch (error) {
      expect((error as Error).message).not.toContain('sup3r');
    }
  });
});

describe('createStandardWebhookVerifier', () => {
  const verifier = createStandardWebhookVerifier({ secrets: [KAT.secret], now: atSeconds(KAT.timestamp) });

  it('accepts the known-answer vector and returns the delivery id', () => {
    expect(verifier.verify(headersFor(KAT), bytes(KAT.body))).toEqual({
      webhookId: KAT.id,
      timestampSeconds: KAT.timestamp,
    });
  });

  it('accepts our own vectors', () => {
    const own = createStandardWebhookVerifier({ secrets: [OWN.secret], now: atSeconds(OWN.timestamp) });
    expect(own.verify(headersFor(OWN), bytes(OWN.body)).webhookId).toBe(OWN.id);
    expect(own.verify(headersFor(UTF8_BODY_VECTOR), bytes(UTF8_BODY_VECTOR.body)).webhookId).toBe(UTF8_BODY_VECTOR.id);
    const raw = createStandardWebhookVerifier({
      secrets: [RAW_SECRET_VECTOR.secret],
      now: atSeconds(RAW_SECRET_VECTOR.timestamp),
    });
    expect(raw.verify(headersFor(RAW_SECRET_VECTOR), bytes(RAW_SECRET_VECTOR.body)).webhookId).toBe('msg_2');
  });

  it('accepts the svix- header spelling', () => {
    expect(verifier.verify(headersFor(KAT, 'svix'), bytes(KAT.body)).webhookId).toBe(KAT.id);
  });

  it('reads header names case-insensitively (hand-built header objects)', () => {
    const headers = {
      'Webhook-Id': KAT.id,
      'WEBHOOK-TIMESTAMP': String(KAT.timestamp),
      'Webhook-Signature': KAT.signature,
    };
    expect(verifier.verify(headers, bytes(KAT.body)).webhookId).toBe(KAT.id);
  });

  it('accepts when any v1 signature in the list matches, ignoring other versions', () => {
    const other = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
    const signature = [other, 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', 'v1a,abc', KAT.signature, other].join(
      ' ',
    );
    expect(verifier.verify({ ...headersFor(KAT), 'webhook-signature': signature }, bytes(KAT.body)).webhookId).toBe(
      KAT.id,
    );
  });

  it('accepts a delivery signed with any configured secret (rotation)', () => {
    const rotating = createStandardWebhookVerifier({
      secrets: [OWN.secret, KAT.secret],
      now: atSeconds(KAT.timestamp),
    });
    expect(rotating.verify(headersFor(KAT), bytes(KAT.body)).webhookId).toBe(KAT.id);
    const ownSigned = { ...KAT, signature: signStandardWebhook(OWN.secret, KAT.id, KAT.timestamp, KAT.body) };
    expect(rotating.verify(headersFor(ownSigned), bytes(KAT.body)).webhookId).toBe(KAT.id);
  });

  const cases: Array<[string, Record<string, string | string[]>, string, WebhookVerificationFailure]> = [
    ['a tampered body', headersFor(KAT), '{"test": 2432232315}', 'no-matching-signature'],
    ['a body with an extra trailing newline', headersFor(KAT), `${KAT.body}\n`, 'no-matching-signature'],
    ['a tampered id', { ...headersFor(KAT), 'webhook-id': 'msg_other' }, KAT.body, 'no-matching-signature'],
    [
      'a timestamp changed within tolerance',
      { ...headersFor(KAT), 'webhook-timestamp': String(KAT.timestamp + 1) },
      KAT.body,
      'no-matching-signature',
    ],
    [
      'a flipped signature bit',
      { ...headersFor(KAT), 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=' },
      KAT.body,
      'no-matching-signature',
    ],
    [
      'a truncated signature',
      { ...headersFor(KAT), 'webhook-signature': KAT.signature.slice(0, 20) },
      KAT.body,
      'no-matching-signature',
    ],
    ['an empty v1 signature', { ...headersFor(KAT), 'webhook-signature': 'v1,' }, KAT.body, 'no-matching-signature'],
    [
      'the right signature under another version',
      { ...headersFor(KAT), 'webhook-signature': KAT.signature.replace('v1,', 'v2,') },
      KAT.body,
      'no-v1-signature',
    ],
    [
      'a signature without a version',
      { ...headersFor(KAT), 'webhook-signature': KAT.signature.slice(3) },
      KAT.body,
      'no-v1-signature',
    ],
    [
      'no webhook-id',
      { 'webhook-timestamp': String(KAT.timestamp), 'webhook-signature': KAT.signature },
      KAT.body,
      'missing-headers',
    ],
    ['no webhook-timestamp', { 'webhook-id': KAT.id, 'webhook-signature': KAT.signature }, KAT.body, 'missing-headers'],
    [
      'no webhook-signature',
      { 'webhook-id': KAT.id, 'webhook-timestamp': String(KAT.timestamp) },
      KAT.body,
      'missing-headers',
    ],
    ['an empty webhook-id', { ...headersFor(KAT), 'webhook-id': '  ' }, KAT.body, 'missing-headers'],
    ['no signature headers at all', {}, KAT.body, 'missing-headers'],
    [
      'mixed spellings',
      { 'webhook-id': KAT.id, 'svix-timestamp': String(KAT.timestamp), 'svix-signature': KAT.signature },
      KAT.body,
      'missing-headers',
    ],
    [
      'a repeated webhook-signature header',
      { ...headersFor(KAT), 'webhook-signature': [KAT.signature, KAT.signature] },
      KAT.body,
      'repeated-header',
    ],
    ['a non-numeric timestamp', { ...headersFor(KAT), 'webhook-timestamp': 'hello' }, KAT.body, 'invalid-timestamp'],
    [
      'a timestamp with trailing junk',
      { ...headersFor(KAT), 'webhook-timestamp': `${KAT.timestamp}abc` },
      KAT.body,
      'invalid-timestamp',
    ],
    [
      'a negative timestamp',
      { ...headersFor(KAT), 'webhook-timestamp': `-${KAT.timestamp}` },
      KAT.body,
      'invalid-timestamp',
    ],
    [
      'a fractional timestamp',
      { ...headersFor(KAT), 'webhook-timestamp': `${KAT.timestamp}.5` },
      KAT.body,
      'invalid-timestamp',
    ],
  ];
  it.each(cases)('rejects %s', (_label, headers, body, code) => {
    expect(failureOf(() => verifier.verify(headers, bytes(body))).code).toBe(code);
  });

  it('rejects a signature made with an unknown secret', () => {
    const headers = headersFor({ ...KAT, signature: signStandardWebhook(OWN.secret, KAT.id, KAT.timestamp, KAT.body) });
    expect(failureOf(() => verifier.verify(headers, bytes(KAT.body))).code).toBe('no-matching-signature');
  });

  it('rejects an unreasonable number of signatures', () => {
    const signature = Array.from({ length: 33 }, () => KAT.signature).join(' ');
    expect(
      failureOf(() => verifier.verify({ ...headersFor(KAT), 'webhook-signature': signature }, bytes(KAT.body))).code,
    ).toBe('too-many-signatures');
  });

  describe('timestamp tolerance (default 300 s, both directions)', () => {
    const at = (offsetSeconds: number) =>
      createStandardWebhookVerifier({ secrets: [KAT.secret], now: atSeconds(KAT.timestamp + offsetSeconds) });

    it('accepts exactly at the edges of the window', () => {
      expect(at(300).verify(headersFor(KAT), bytes(KAT.body)).webhookId).toBe(KAT.id);
      expect(at(-300).verify(headersFor(KAT), bytes(KAT.body)).webhookId).toBe(KAT.id);
      // Sub-second clock positions round down to the same second.
      const justInside = createStandardWebhookVerifier({
        secrets: [KAT.secret],
        now: () => (KAT.timestamp + 300) * 1000 + 999,
      });
      expect(justInside.verify(headersFor(KAT), bytes(KAT.body)).webhookId).toBe(KAT.id);
    });

    it('rejects an expired (replayed) delivery one second past the window', () => {
      const error = failureOf(() => at(301).verify(headersFor(KAT), bytes(KAT.body)));
      expect(error.code).toBe('timestamp-too-old');
      expect(error.message).toContain('301 s in the past');
    });

    it('rejects a delivery from the future one second past the window', () => {
      expect(failureOf(() => at(-301).verify(headersFor(KAT), bytes(KAT.body))).code).toBe('timestamp-too-new');
    });

    it('rejects a stale timestamp before comparing signatures, even with a wrong signature', () => {
      const headers = { ...headersFor(KAT), 'webhook-signature': 'v1,AAAA' };
      expect(failureOf(() => at(10_000).verify(headers, bytes(KAT.body))).code).toBe('timestamp-too-old');
    });

    it('hints that a 13-digit timestamp is probably milliseconds', () => {
      const headers = { ...headersFor(KAT), 'webhook-timestamp': String(KAT.timestamp * 1000) };
      expect(failureOf(() => at(0).verify(headers, bytes(KAT.body))).message).toMatch(/milliseconds/);
    });

    it('honours a configured tolerance', () => {
      const strict = createStandardWebhookVerifier({
        secrets: [KAT.secret],
        toleranceSeconds: 5,
        now: atSeconds(KAT.timestamp + 6),
      });
      expect(failureOf(() => strict.verify(headersFor(KAT), bytes(KAT.body))).code).toBe('timestamp-too-old');
      const loose = createStandardWebhookVerifier({
        secrets: [KAT.secret],
        toleranceSeconds: 3600,
        now: atSeconds(KAT.timestamp + 3600),
      });
      expect(loose.verify(headersFor(KAT), bytes(KAT.body)).webhookId).toBe(KAT.id);
    });
  });

  it('never puts a secret or the sent signature in its messages', () => {
    const wrong = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
    const error = failureOf(() => verifier.verify({ ...headersFor(KAT), 'webhook-signature': wrong }, bytes(KAT.body)));
    expect(error.message).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(error.message).not.toContain('Ceo5qEr07ixe2');
    expect(error.name).toBe('WebhookVerificationError');
  });

  it('refuses a parsed body or a string, telling the caller to pass the raw bytes', () => {
    expect(() => verifier.verify(headersFor(KAT), JSON.parse(KAT.body) as Uint8Array)).toThrow(/raw request body/);
    expect(() => verifier.verify(headersFor(KAT), KAT.body as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('refuses a configuration without secrets or with a bad tolerance', () => {
    expect(() => createStandardWebhookVerifier({ secrets: [] })).toThrow(TypeError);
    expect(() => createStandardWebhookVerifier({ secrets: [KAT.secret], toleranceSeconds: 0 })).toThrow(/tolerance/);
    expect(() => createStandardWebhookVerifier({ secrets: [KAT.secret], toleranceSeconds: Number.NaN })).toThrow(
      /tolerance/,
    );
    expect(() => createStandardWebhookVerifier({ secrets: ['whsec_***'] })).toThrow(/base64/);
  });
});
