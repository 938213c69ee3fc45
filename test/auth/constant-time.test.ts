import { beforeEach, describe, expect, it, vi } from 'vitest';

// Count the comparisons actually performed, to prove there is no early exit.
const comparisons = vi.hoisted(() => ({ lengths: [] as Array<[number, number]> }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      comparisons.lengths.push([a.byteLength, b.byteLength]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { createSecretMatcher } = await import('../../src/auth/constant-time.js');
const { createStandardWebhookVerifier, signStandardWebhook } = await import('../../src/auth/standard-webhooks.js');

beforeEach(() => {
  comparisons.lengths = [];
});

describe('createSecretMatcher', () => {
  const matches = createSecretMatcher(['first-secret', 'second-secret', 'third-secret']);

  it('matches any configured secret and nothing else', () => {
    expect(matches('first-secret')).toBe(true);
    expect(matches('third-secret')).toBe(true);
    expect(matches('fourth-secret')).toBe(false);
    expect(matches('')).toBe(false);
    expect(matches(Buffer.from('second-secret'))).toBe(true);
  });

  it('compares against every secret even when the first one matches', () => {
    expect(matches('first-secret')).toBe(true);
    expect(comparisons.lengths).toHaveLength(3);
  });

  it('compares equal-length digests whatever the candidate length, so length does not leak', () => {
    matches('x');
    matches('x'.repeat(10_000));
    expect(comparisons.lengths).toHaveLength(6);
    for (const [a, b] of comparisons.lengths) {
      expect(a).toBe(32);
      expect(b).toBe(32);
    }
  });
});

describe('Standard Webhooks comparison', () => {
  it('compares every v1 signature with every secret, even after a match', () => {
    const secrets = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'second-raw-secret'];
    const verifier = createStandardWebhookVerifier({ secrets, now: () => 1_700_000_000_000 });
    const signature = `${signStandardWebhook(secrets[0] as string, 'msg_1', 1_700_000_000, '{}')} v1,AAAA v2,BBBB`;
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': signature };
    expect(verifier.verify(headers, Buffer.from('{}')).webhookId).toBe('msg_1');
    // Two v1 candidates x two secrets; the short one is skipped by length (a sent signature's
    // length is not a secret), so only the full-length candidate reaches timingSafeEqual, twice.
    expect(comparisons.lengths).toEqual([
      [32, 32],
      [32, 32],
    ]);
  });
});
