import { describe, expect, it } from 'vitest';
import { createFailureLimiter, DEFAULT_FAILURE_LIMITS, limiterKey } from '../../src/auth/index.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function limiter(overrides: Partial<Parameters<typeof createFailureLimiter>[0]> = {}) {
  const c = clock();
  const l = createFailureLimiter({
    maxFailures: 3,
    windowMs: 60_000,
    blockMs: 120_000,
    maxTrackedAddresses: 100,
    now: c.now,
    ...overrides,
  });
  return { ...c, l };
}

describe('createFailureLimiter', () => {
  it('allows maxFailures failures and limits the one after', () => {
    const { l } = limiter();
    expect(l.recordFailure('203.0.113.1')).toEqual({ limited: false });
    expect(l.recordFailure('203.0.113.1')).toEqual({ limited: false });
    expect(l.recordFailure('203.0.113.1')).toEqual({ limited: false });
    expect(l.check('203.0.113.1')).toEqual({ limited: false });
    expect(l.recordFailure('203.0.113.1')).toEqual({ limited: true, retryAfterSeconds: 120 });
    expect(l.check('203.0.113.1')).toEqual({ limited: true, retryAfterSeconds: 120 });
  });

  it('counts addresses separately', () => {
    const { l } = limiter();
    for (let i = 0; i < 4; i++) l.recordFailure('203.0.113.1');
    expect(l.check('203.0.113.1').limited).toBe(true);
    expect(l.check('203.0.113.2').limited).toBe(false);
  });

  it('counts down Retry-After, rounding up, and lifts the block when it ends', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 4; i++) l.recordFailure('203.0.113.1');
    advance(119_001);
    expect(l.check('203.0.113.1')).toEqual({ limited: true, retryAfterSeconds: 1 });
    advance(999);
    expect(l.check('203.0.113.1')).toEqual({ limited: false });
    // A fresh budget after the block.
    expect(l.recordFailure('203.0.113.1')).toEqual({ limited: false });
  });

  it('does not extend a block when failures keep coming during it', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 4; i++) l.recordFailure('203.0.113.1');
    advance(60_000);
    expect(l.recordFailure('203.0.113.1')).toEqual({ limited: true, retryAfterSeconds: 60 });
    advance(60_000);
    expect(l.check('203.0.113.1').limited).toBe(false);
  });

  it('starts a new window once windowMs has passed since the first failure', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 3; i++) l.recordFailure('203.0.113.1');
    advance(59_999);
    expect(l.recordFailure('203.0.113.1').limited).toBe(true);

    const other = limiter();
    for (let i = 0; i < 3; i++) other.l.recordFailure('203.0.113.1');
    other.advance(60_000);
    expect(other.l.recordFailure('203.0.113.1').limited).toBe(false);
    expect(other.l.recordFailure('203.0.113.1').limited).toBe(false);
  });

  it('forgets failures after a success, but a success does not lift an active block', () => {
    const { l } = limiter();
    for (let i = 0; i < 3; i++) l.recordFailure('203.0.113.1');
    l.recordSuccess('203.0.113.1');
    expect(l.recordFailure('203.0.113.1').limited).toBe(false);
    expect(l.trackedAddresses).toBe(1);

    for (let i = 0; i < 3; i++) l.recordFailure('203.0.113.1');
    expect(l.check('203.0.113.1').limited).toBe(true);
    l.recordSuccess('203.0.113.1');
    expect(l.check('203.0.113.1').limited).toBe(true);
  });

  it('counts an IPv4-mapped address as the IPv4 address', () => {
    const { l } = limiter();
    l.recordFailure('127.0.0.1');
    l.recordFailure('::ffff:127.0.0.1');
    l.recordFailure('127.0.0.1');
    expect(l.recordFailure('::ffff:127.0.0.1').limited).toBe(true);
  });

  it('counts IPv6 clients per /64, so rotating the interface id does not escape', () => {
    const { l } = limiter();
    for (let i = 1; i <= 3; i++) l.recordFailure(`2001:db8:1:2::${i}`);
    expect(l.recordFailure('2001:db8:1:2:ffff:ffff:ffff:ffff').limited).toBe(true);
    expect(l.check('2001:db8:1:3::1').limited).toBe(false);
  });

  it('puts unknown addresses in one shared bucket', () => {
    const { l } = limiter();
    l.recordFailure(undefined);
    l.recordFailure('not-an-address');
    l.recordFailure(undefined);
    expect(l.recordFailure(undefined).limited).toBe(true);
  });

  it('bounds memory by forgetting the least recently failing address', () => {
    const { l } = limiter({ maxTrackedAddresses: 3 });
    for (let i = 0; i < 4; i++) l.recordFailure('198.51.100.1'); // blocked
    l.recordFailure('198.51.100.2');
    l.recordFailure('198.51.100.3');
    l.recordFailure('198.51.100.1'); // refreshes .1 (still blocked, not extended)
    expect(l.trackedAddresses).toBe(3);
    l.recordFailure('198.51.100.4'); // evicts .2, the least recent
    expect(l.trackedAddresses).toBe(3);
    expect(l.check('198.51.100.1').limited).toBe(true);
  });

  it('stays within maxTrackedAddresses under a flood of distinct addresses', () => {
    const { l } = limiter({ maxTrackedAddresses: 50 });
    for (let i = 0; i < 5_000; i++) l.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(l.trackedAddresses).toBe(50);
  });

  it('drops an expired block on check', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 4; i++) l.recordFailure('203.0.113.1');
    advance(120_000);
    expect(l.check('203.0.113.1').limited).toBe(false);
    expect(l.trackedAddresses).toBe(0);
  });

  it('tells onBlock once when a block starts, with the count, the times and the last reason; again only for a new block', () => {
    const blocks: unknown[] = [];
    const { l, advance, now } = limiter({ onBlock: (b) => blocks.push(b) });
    for (let i = 0; i < 3; i++) l.recordFailure('203.0.113.1', 'shared-secret: no Authorization header');
    expect(blocks).toEqual([]);
    const at = now();
    l.recordFailure('203.0.113.1', 'shared-secret: wrong token');
    expect(blocks).toEqual([
      {
        address: '203.0.113.1',
        failures: 4,
        windowMs: 60_000,
        blockMs: 120_000,
        until: at + 120_000,
        reason: 'shared-secret: wrong token',
      },
    ]);
    // Failures during the block are refused before they are counted: no second notice.
    l.recordFailure('203.0.113.1', 'shared-secret: wrong token');
    expect(blocks).toHaveLength(1);
    advance(120_000);
    for (let i = 0; i < 4; i++) l.recordFailure('2001:db8:1:2::7');
    expect(blocks).toHaveLength(2);
    expect(blocks[1]).toMatchObject({ address: '2001:db8:1:2::/64', failures: 4, reason: undefined });
  });

  it('has documented defaults', () => {
    const c = clock();
    const l = createFailureLimiter({ now: c.now });
    for (let i = 0; i < DEFAULT_FAILURE_LIMITS.maxFailures; i++)
      expect(l.recordFailure('203.0.113.1').limited).toBe(false);
    expect(l.recordFailure('203.0.113.1')).toEqual({
      limited: true,
      retryAfterSeconds: DEFAULT_FAILURE_LIMITS.blockMs / 1000,
    });
  });

  it.each([
    ['maxFailures', { maxFailures: 0 }],
    ['maxFailures', { maxFailures: 1.5 }],
    ['windowMs', { windowMs: -1 }],
    ['blockMs', { blockMs: Number.NaN }],
    ['maxTrackedAddresses', { maxTrackedAddresses: 0 }],
  ])('refuses a bad %s', (name, options) => {
    expect(() => createFailureLimiter(options)).toThrow(new RegExp(name));
  });
});

describe('limiterKey', () => {
  it.each([
    ['203.0.113.1', '203.0.113.1'],
    ['::ffff:203.0.113.1', '203.0.113.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:1:2::192.0.2.1', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
    ['nope', 'unknown'],
  ])('buckets %s as %s', (address, key) => {
    expect(limiterKey(address)).toBe(key);
  });
});
