import { describe, expect, it } from 'vitest';
import { AuthConfigError, createAllowList, normalizeIpAddress } from '../../src/auth/index.js';

describe('createAllowList', () => {
  const list = createAllowList(['127.0.0.1', '10.20.0.0/16', '::1', '2001:db8:abcd::/48', '::ffff:192.168.0.0/112']);

  it.each([
    '127.0.0.1',
    '10.20.0.1',
    '10.20.255.255',
    '::1',
    '2001:db8:abcd::7',
    '2001:DB8:ABCD:1:2:3:4:5',
    '::ffff:127.0.0.1', // what a dual-stack socket reports for an IPv4 peer
    '::ffff:10.20.3.4',
    '192.168.3.4', // allowed through the IPv4-mapped CIDR entry
    'fe80::1%eth0'.replace('fe80::1', '::1'), // zone ids are ignored
  ])('allows %s', (address) => {
    expect(list.allows(address)).toBe(true);
  });

  it.each([
    '127.0.0.2',
    '10.21.0.1',
    '10.19.255.255',
    '::2',
    '2001:db8:abce::1',
    '::ffff:127.0.0.2',
    '192.169.0.1',
    'localhost',
    '',
    'not an address',
    '127.0.0.1/32',
  ])('refuses %s', (address) => {
    expect(list.allows(address)).toBe(false);
  });

  it('refuses an unknown address', () => {
    expect(list.allows(undefined)).toBe(false);
  });

  it('keeps IPv4 and IPv6 apart except for mapped addresses', () => {
    const v4Only = createAllowList(['0.0.0.0/0']);
    expect(v4Only.allows('203.0.113.9')).toBe(true);
    expect(v4Only.allows('::ffff:203.0.113.9')).toBe(true);
    expect(v4Only.allows('2001:db8::1')).toBe(false);
    const globalUnicastV6 = createAllowList(['2000::/3']);
    expect(globalUnicastV6.allows('2001:db8::1')).toBe(true);
    expect(globalUnicastV6.allows('203.0.113.9')).toBe(false);
    // ::/0 contains the IPv4-mapped range ::ffff:0:0/96, so it covers IPv4 too (Node's BlockList semantics).
    expect(createAllowList(['::/0']).allows('203.0.113.9')).toBe(true);
  });

  it('allows nothing when built from an empty list', () => {
    expect(createAllowList([]).allows('127.0.0.1')).toBe(false);
  });

  it.each([
    ['a host name', 'localhost'],
    ['an IPv4 prefix over 32', '10.0.0.0/33'],
    ['an IPv6 prefix over 128', '::/129'],
    ['a negative prefix', '10.0.0.0/-1'],
    ['an empty prefix', '10.0.0.0/'],
    ['a non-numeric prefix', '10.0.0.0/abc'],
    ['a bad octet', '256.0.0.1'],
    ['a short IPv4', '10.0.0/8'],
    ['surrounding spaces', ' 10.0.0.1'],
    ['a zone id', 'fe80::1%eth0'],
    ['an IPv4-mapped prefix under 96', '::ffff:10.0.0.0/95'],
    ['an empty entry', ''],
  ])('refuses %s as a configuration error', (_label, entry) => {
    let error: unknown;
    try {
      createAllowList(['127.0.0.1', entry]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuthConfigError);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^allowIps: entry 2/);
  });
});

describe('normalizeIpAddress', () => {
  it.each([
    ['::ffff:127.0.0.1', { address: '127.0.0.1', family: 'ipv4' }],
    ['::FFFF:10.0.0.1', { address: '10.0.0.1', family: 'ipv4' }],
    ['2001:DB8::1', { address: '2001:db8::1', family: 'ipv6' }],
    ['fe80::1%eth0', { address: 'fe80::1', family: 'ipv6' }],
    [' 10.0.0.1 ', { address: '10.0.0.1', family: 'ipv4' }],
  ])('normalises %s', (input, expected) => {
    expect(normalizeIpAddress(input)).toEqual(expected);
  });

  it.each(['', 'example.com', '1.2.3', '::ffff:999.0.0.1', '1.2.3.4:80'])('returns undefined for %s', (input) => {
    expect(normalizeIpAddress(input)).toBeUndefined();
  });
});
