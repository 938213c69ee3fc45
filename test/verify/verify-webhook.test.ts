import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createInboundAuth, signStandardWebhook } from '../../src/auth/index.js';
import type { CanonicalEvent } from '../../src/contract/index.js';
import { createIngestPipeline, type IngestRequest } from '../../src/ingest/index.js';
import type { EventLog, IngestInput } from '../../src/store/types.js';
import {
  DocvWebhookError,
  verifyDocvWebhook,
  type DocvWebhookErrorCode,
  type VerifyDocvWebhookOptions,
} from '../../src/verify/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

const NOW = Date.parse('2026-03-01T10:05:00Z');
const now = () => NOW;
const SIGNING_SECRET = `whsec_${Buffer.from('a signing key of 32 bytes.......').toString('base64')}`;
const SHARED_SECRET = 'socure-shared-secret';
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');

function fixture(dialect: string, name: string): Buffer {
  return readFileSync(join(FIXTURES, dialect, `${name}.json`));
}

/** Headers of a delivery signed as a Standard Webhooks sender signs it, at NOW. */
function signed(body: Uint8Array | string, id = 'msg_1', at = NOW): Record<string, string> {
  const timestamp = Math.floor(at / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandardWebhook(SIGNING_SECRET, id, timestamp, body),
  };
}

const bearer = (secret = SHARED_SECRET) => ({ 'content-type': 'application/json', authorization: `Bearer ${secret}` });

function refusal(run: () => unknown): DocvWebhookError {
  try {
    run();
  } catch (error) {
    if (error instanceof DocvWebhookError) return error;
    throw error;
  }
  throw new Error('expected a DocvWebhookError, the delivery was accepted');
}

describe('verifyDocvWebhook: deliveries it accepts', () => {
  it('a signed Socure v5 VERIFICATION_COMPLETED, headers as a Web Headers: the canonical event, document data removed', () => {
    const body = fixture('socure-v5', 'VERIFICATION_COMPLETED');
    const event = verifyDocvWebhook(body, new Headers(signed(body)), { signingSecrets: SIGNING_SECRET, now });
    expect(event).toMatchObject({
      dialect: 'socure-v5',
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: '5f1d2b67-8c0e-4f4a-9d3b-2a6c7e9b1f04',
      test: false,
    });
    expect(event.decision).toBeDefined();
    const kept = verifyDocvWebhook(body, signed(body), {
      signingSecrets: [SIGNING_SECRET],
      now,
      keepDocumentData: true,
    });
    expect(kept.documentDataRemoved).toBeUndefined();
    if (event.documentDataRemoved === true)
      expect(JSON.stringify(event.payload).length).toBeLessThan(JSON.stringify(kept.payload).length);
  });

  it('a flat-contract event with the shared secret, the body as a string', () => {
    const body = fixture('asyncapi', 'VERIFICATION_COMPLETED').toString('utf8');
    const event = verifyDocvWebhook(body, bearer(), { secrets: SHARED_SECRET, now });
    expect(event).toMatchObject({
      dialect: 'asyncapi',
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      eventTimeSource: 'event',
    });
  });

  it('a RiskOS evaluation_completed with HTTP Basic, and with the svix- spelling of the signature headers', () => {
    const body = fixture('riskos', 'evaluation_completed-REJECT');
    const basic = {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('socure:pa55').toString('base64')}`,
    };
    expect(verifyDocvWebhook(body, basic, { basicAuth: 'socure:pa55', now })).toMatchObject({
      dialect: 'riskos',
      eventType: 'evaluation_completed',
      decision: 'reject',
    });
    const svix = Object.fromEntries(
      Object.entries(signed(body)).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]),
    );
    expect(verifyDocvWebhook(body, svix, { signingSecrets: SIGNING_SECRET, now }).dialect).toBe('riskos');
  });

  it('one of several secrets (rotation), and a shared secret together with a signature', () => {
    const body = fixture('asyncapi', 'APP_OPENED');
    expect(verifyDocvWebhook(body, bearer(), { secrets: ['old-secret', SHARED_SECRET], now }).eventType).toBe(
      'APP_OPENED',
    );
    expect(
      verifyDocvWebhook(
        body,
        { ...signed(body), authorization: SHARED_SECRET },
        { secrets: SHARED_SECRET, signingSecrets: SIGNING_SECRET, now },
      ).eventType,
    ).toBe('APP_OPENED');
  });
});

describe('verifyDocvWebhook: every refusal says what was wrong', () => {
  const body = fixture('socure-v5', 'APP_OPENED');
  const expectRefusal = (run: () => unknown, code: DocvWebhookErrorCode, status: number, message?: RegExp) => {
    const error = refusal(run);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    if (message) expect(error.message).toMatch(message);
    return error;
  };

  it('unauthenticated: no credential, the wrong one, a changed body, a stale or future timestamp', () => {
    const options: VerifyDocvWebhookOptions = { signingSecrets: SIGNING_SECRET, now };
    expect(
      expectRefusal(
        () => verifyDocvWebhook(body, { 'content-type': 'application/json' }, options),
        'unauthenticated',
        401,
        /missing webhook-id/,
      ).failedCheck,
    ).toBe('signature');
    expectRefusal(
      () => verifyDocvWebhook(body, bearer('nope'), { secrets: SHARED_SECRET, now }),
      'unauthenticated',
      401,
      /shared-secret/,
    );
    expectRefusal(
      () => verifyDocvWebhook(Buffer.concat([body, Buffer.from(' ')]), signed(body), options),
      'unauthenticated',
      401,
      /matches no configured signing secret/,
    );
    expectRefusal(
      () => verifyDocvWebhook(body, signed(body, 'msg_1', NOW - 301_000), options),
      'unauthenticated',
      401,
      /in the past, beyond the 300 s tolerance/,
    );
    expectRefusal(
      () => verifyDocvWebhook(body, signed(body, 'msg_1', NOW + 60_000), { ...options, toleranceSeconds: 30 }),
      'unauthenticated',
      401,
      /in the future, beyond the 30 s tolerance/,
    );
    // No secret or signature ever appears in what is thrown.
    const wrong = refusal(() => verifyDocvWebhook(body, bearer('a-guess'), { secrets: SHARED_SECRET, now }));
    expect(wrong.message).not.toContain('a-guess');
    expect(wrong.message).not.toContain(SHARED_SECRET);
  });

  it('unauthenticated: a credential header sent twice, whichever copy is right', () => {
    const rawHeaders = [
      'Content-Type',
      'application/json',
      'Authorization',
      `Bearer ${SHARED_SECRET}`,
      'Authorization',
      'Bearer other',
    ];
    // Node's req.headers keeps the first Authorization: only rawHeaders shows the second.
    expectRefusal(
      () => verifyDocvWebhook(body, bearer(), { secrets: SHARED_SECRET, now, rawHeaders }),
      'unauthenticated',
      401,
      /Authorization sent 2 times/,
    );
    const web = new Headers(bearer());
    web.append('authorization', 'Bearer other');
    expectRefusal(
      () => verifyDocvWebhook(body, web, { secrets: SHARED_SECRET, now }),
      'unauthenticated',
      401,
      /Authorization holds a comma and a space/,
    );
  });

  it('too-large, before the credentials are looked at', () => {
    expectRefusal(
      () => verifyDocvWebhook(body, {}, { secrets: SHARED_SECRET, now, maxBodyBytes: 100 }),
      'too-large',
      413,
      /over the limit of 100/,
    );
  });

  it('unsupported-media-type: not JSON, another charset, compressed', () => {
    const options = { secrets: SHARED_SECRET, now };
    expectRefusal(
      () => verifyDocvWebhook(body, { ...bearer(), 'content-type': 'text/plain' }, options),
      'unsupported-media-type',
      415,
      /not JSON/,
    );
    expectRefusal(
      () => verifyDocvWebhook(body, { ...bearer(), 'content-type': 'application/json; charset=latin1' }, options),
      'unsupported-media-type',
      415,
      /charset/,
    );
    expectRefusal(
      () => verifyDocvWebhook(body, { ...bearer(), 'content-encoding': 'gzip' }, options),
      'unsupported-media-type',
      415,
      /uncompressed/,
    );
  });

  it('invalid-delivery-id: a webhook-id of more than 256 characters', () => {
    expectRefusal(
      () => verifyDocvWebhook(body, { ...bearer(), 'webhook-id': 'x'.repeat(257) }, { secrets: SHARED_SECRET, now }),
      'invalid-delivery-id',
      400,
      /257 characters/,
    );
  });

  it('invalid-json: broken JSON, bytes that are not UTF-8; the message does not quote the body', () => {
    const broken = Buffer.from('{"eventType": "APP_OPENED", "secretish": ');
    const error = expectRefusal(
      () => verifyDocvWebhook(broken, bearer(), { secrets: SHARED_SECRET, now }),
      'invalid-json',
      400,
      /not valid JSON/,
    );
    expect(error.message).not.toContain('secretish');
    expectRefusal(
      () => verifyDocvWebhook(Buffer.from([0x7b, 0xff, 0x7d]), bearer(), { secrets: SHARED_SECRET, now }),
      'invalid-json',
      400,
      /UTF-8/,
    );
  });

  it('invalid-event: every violation with its path, and the dialect it breaks', () => {
    const v5 = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const broken = Buffer.from(JSON.stringify({ ...v5, eventType: 42 }));
    const error = expectRefusal(
      () => verifyDocvWebhook(broken, bearer(), { secrets: SHARED_SECRET, now }),
      'invalid-event',
      422,
    );
    expect(error.violations.length).toBeGreaterThan(0);
    expect(error.violations.every((v) => typeof v.path === 'string' && typeof v.message === 'string')).toBe(true);
    const pinned = expectRefusal(
      () => verifyDocvWebhook(body, bearer(), { secrets: SHARED_SECRET, now, dialect: 'riskos' }),
      'invalid-event',
      422,
      /breaks riskos/,
    );
    expect(pinned.dialect).toBe('riskos');
    expectRefusal(() => verifyDocvWebhook('[]', bearer(), { secrets: SHARED_SECRET, now }), 'invalid-event', 422);
  });

  it('options that could never verify anything are a TypeError, not a refusal', () => {
    expect(() => verifyDocvWebhook(body, bearer(), {})).toThrow(/needs secrets, signingSecrets or basicAuth/);
    expect(() => verifyDocvWebhook(body, bearer(), { secrets: [] })).toThrow(TypeError);
    expect(() => verifyDocvWebhook(body, bearer(), { secrets: SHARED_SECRET, basicAuth: 'a:b' })).toThrow(
      /cannot be combined/,
    );
    expect(() => verifyDocvWebhook(body, bearer(), { signingSecrets: 'whsec_%%%' })).toThrow(TypeError);
    expect(() =>
      verifyDocvWebhook(JSON.parse(body.toString('utf8')) as never, bearer(), { secrets: SHARED_SECRET }),
    ).toThrow(/raw request body/);
  });
});

/**
 * The promise: what verifyDocvWebhook accepts, the receiver accepts, and what it refuses the
 * receiver refuses with the same status. Each fixture of each dialect, as sent and broken in each
 * way the pipeline checks after the source address, through both.
 */
describe('verifyDocvWebhook agrees with the ingest pipeline', () => {
  const options: VerifyDocvWebhookOptions = { secrets: SHARED_SECRET, signingSecrets: SIGNING_SECRET, now };
  const stored: IngestInput[] = [];
  const store: EventLog = {
    ingest: async (input) => {
      stored.push(input);
      return { kind: 'accepted', eventId: `evt_${stored.length}` };
    },
    quarantine: async () => undefined,
  };
  const pipeline = createIngestPipeline({
    store: store as Parameters<typeof createIngestPipeline>[0]['store'],
    auth: createInboundAuth({ webhookSecrets: [SHARED_SECRET], signingSecrets: [SIGNING_SECRET], now }),
  });

  type Variant = { name: string; body: Buffer; headers: Record<string, string>; rawHeaders?: string[] };
  function variants(body: Buffer): Variant[] {
    const good = { ...signed(body), authorization: `Bearer ${SHARED_SECRET}` };
    const text = body.toString('utf8');
    const value = JSON.parse(text) as Record<string, unknown>;
    const resigned = (b: Buffer, extra: Record<string, string> = {}) => ({
      name: '',
      body: b,
      headers: { ...signed(b), authorization: `Bearer ${SHARED_SECRET}`, ...extra },
    });
    return [
      { name: 'as sent', body, headers: good },
      { name: 'wrong shared secret', body, headers: { ...good, authorization: 'Bearer nope' } },
      { name: 'body changed after signing', body: Buffer.from(`${text} `), headers: good },
      {
        name: 'stale signature',
        body,
        headers: { ...signed(body, 'msg_1', NOW - 3_600_000), authorization: `Bearer ${SHARED_SECRET}` },
      },
      {
        name: 'Authorization twice',
        body,
        headers: good,
        rawHeaders: Object.entries(good)
          .flatMap(([n, v]) => [n, v])
          .concat(['Authorization', 'Bearer nope']),
      },
      { ...resigned(body, { 'content-type': 'text/plain' }), name: 'text/plain' },
      { ...resigned(Buffer.from(text.slice(0, -2))), name: 'truncated JSON' },
      { ...resigned(Buffer.from(JSON.stringify({ ...value, eventType: 42 }))), name: 'eventType a number' },
      { ...resigned(Buffer.from('"a string"')), name: 'not an object' },
      {
        name: 'webhook-id too long',
        body,
        headers: { ...signed(body, 'i'.repeat(300)), authorization: `Bearer ${SHARED_SECRET}` },
      },
    ];
  }

  const files = ['asyncapi', 'socure-v5', 'riskos'].flatMap((dialect) =>
    readdirSync(join(FIXTURES, dialect))
      .filter((f) => f.endsWith('.json'))
      .map((f) => [dialect, f.replace(/\.json$/, '')] as const),
  );

  it.each(files)('%s/%s', async (dialect, name) => {
    for (const variant of variants(fixture(dialect, name))) {
      const request: IngestRequest = {
        method: 'POST',
        headers: variant.headers,
        remoteAddress: '127.0.0.1',
        body: variant.body,
        receivedAt: new Date(NOW),
      };
      if (variant.rawHeaders) request.rawHeaders = variant.rawHeaders;
      stored.length = 0;
      const response = await pipeline.handle(request);
      let event: CanonicalEvent | undefined;
      let error: DocvWebhookError | undefined;
      try {
        event = verifyDocvWebhook(
          variant.body,
          variant.headers,
          variant.rawHeaders ? { ...options, rawHeaders: variant.rawHeaders } : options,
        );
      } catch (e) {
        if (!(e instanceof DocvWebhookError)) throw e;
        error = e;
      }
      const label = `${dialect}/${name}, ${variant.name}`;
      // Each variant breaks one check (the fixture as sent breaks none), so both sides are exercised.
      expect(response.status === 200, `${label}: ${response.status} ${response.body}`).toBe(variant.name === 'as sent');
      if (response.status === 200) {
        expect(error, `${label}: the pipeline accepted it`).toBeUndefined();
        expect(event, label).toEqual(stored[0]!.event);
      } else {
        expect(error?.status, `${label}: the pipeline answered ${response.status} ${response.body}`).toBe(
          response.status,
        );
        if (response.status === 422)
          expect(error!.violations, label).toEqual((JSON.parse(response.body) as { errors: unknown }).errors);
      }
    }
  });
});
