import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAllowList, createFailureLimiter, createInboundAuth, signStandardWebhook } from '../../src/auth/index.js';

// Bounded property runs: thousands of cases in well under a second each.
const RUNS = { numRuns: 400 };
const NOW_SECONDS = 1_767_225_600;

const base64Secret = fc
  .uint8Array({ minLength: 1, maxLength: 64 })
  .map((key) => `whsec_${Buffer.from(key).toString('base64')}`);
const deliveryId = fc
  .string({ minLength: 1, maxLength: 40 })
  .filter((s) => s.trim() === s && s.length > 0 && !/[\r\n]/.test(s));

describe('Standard Webhooks properties', () => {
  it('any signed delivery within tolerance verifies, and flipping any body byte breaks it', () => {
    fc.assert(
      fc.property(
        base64Secret,
        deliveryId,
        fc.integer({ min: -300, max: 300 }),
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.nat(),
        (secret, id, skew, body, flipAt) => {
          const auth = createInboundAuth({ signingSecrets: [secret], now: () => NOW_SECONDS * 1000 });
          const timestamp = NOW_SECONDS + skew;
          const headers = {
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signStandardWebhook(secret, id, timestamp, body),
          };
          expect(auth.checkCredentials({ headers, remoteAddress: '127.0.0.1' }, body)).toEqual({
            ok: true,
            webhookId: id,
          });

          const tampered = Buffer.from(body);
          const index = flipAt % tampered.length;
          tampered[index] = (tampered[index] as number) ^ 0x01;
          expect(auth.checkCredentials({ headers, remoteAddress: '127.0.0.1' }, tampered)).toMatchObject({
            ok: false,
            status: 401,
            failedCheck: 'signature',
          });
        },
      ),
      RUNS,
    );
  });

  it('random header values never crash the checks and never authenticate', () => {
    const auth = createInboundAuth({
      webhookSecrets: ['the-shared-secret'],
      signingSecrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      now: () => NOW_SECONDS * 1000,
    });
    const headerValue = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        'v1,',
        'v1,AAAA',
        ' ',
        ',',
        'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
        String(NOW_SECONDS),
        'Bearer the-shared-secret',
      ),
      fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }),
      fc.constant(undefined),
    );
    const headers = fc.record(
      {
        authorization: headerValue,
        'webhook-id': headerValue,
        'webhook-timestamp': headerValue,
        'webhook-signature': headerValue,
        'svix-id': headerValue,
        'svix-timestamp': headerValue,
        'svix-signature': headerValue,
        'x-forwarded-for': headerValue,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        headers,
        fc.uint8Array({ maxLength: 256 }),
        fc.option(fc.string({ maxLength: 45 }), { nil: undefined }),
        (h, body, remoteAddress) => {
          const outcome = auth.checkCredentials({ headers: h, remoteAddress }, body);
          expect(outcome.ok).toBe(false);
          expect(auth.checkSource({ headers: h, remoteAddress }).ok).toBe(true);
        },
      ),
      RUNS,
    );
  });
});

describe('allow-list properties', () => {
  const toNumber = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.'));

  it('an IPv4 CIDR admits exactly the addresses whose leading prefix bits match', () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 0, max: 32 }), ipv4, (network, prefix, candidate) => {
        const list = createAllowList([`${network}/${prefix}`]);
        const mask = prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
        const inside = (toNumber(network) & mask) >>> 0 === (toNumber(candidate) & mask) >>> 0;
        expect(list.allows(candidate)).toBe(inside);
        expect(list.allows(`::ffff:${candidate}`)).toBe(inside);
      }),
      RUNS,
    );
  });
});

describe('failure limiter properties', () => {
  it('never tracks more addresses than its bound, and Retry-After stays within the block length', () => {
    const event = fc.record({
      address: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '2001:db8::1', '2001:db8::2', undefined),
      kind: fc.constantFrom('failure', 'success', 'check'),
      advanceMs: fc.nat(30_000),
    });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 200 }),
        fc.integer({ min: 1, max: 4 }),
        (events, maxTrackedAddresses) => {
          let t = 0;
          const limiter = createFailureLimiter({
            maxFailures: 3,
            windowMs: 60_000,
            blockMs: 90_000,
            maxTrackedAddresses,
            now: () => t,
          });
          for (const e of events) {
            t += e.advanceMs;
            if (e.kind === 'failure') {
              const state = limiter.recordFailure(e.address);
              if (state.limited) expect(state.retryAfterSeconds).toBeGreaterThanOrEqual(1);
              if (state.limited) expect(state.retryAfterSeconds).toBeLessThanOrEqual(90);
            } else if (e.kind === 'success') limiter.recordSuccess(e.address);
            else limiter.check(e.address);
            expect(limiter.trackedAddresses).toBeLessThanOrEqual(maxTrackedAddresses);
          }
        },
      ),
      RUNS,
    );
  });
});
