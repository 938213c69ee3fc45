import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addAuthOptions, receiverOptionsFromFlags, type ReceiverFlags } from '../../src/cli/receiver-options.js';
import { resolveReceiverConfig } from '../../src/compose/resolve.js';
import {
  createConnectionAdmission,
  createRefusalLogThrottle,
  type ConnectionAdmissionOptions,
} from '../../src/server/connection-admission.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function admission(overrides: Partial<ConnectionAdmissionOptions> = {}) {
  const c = clock();
  const a = createConnectionAdmission({
    maxConnections: 8,
    maxPerClient: 3,
    reservedShare: 0.25,
    now: c.now,
    ...overrides,
  });
  return { ...c, a };
}

/** Admits `n` connections from `address` and returns the keys of the admitted ones. */
function openMany(a: ReturnType<typeof admission>['a'], address: string, n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = a.admit(address);
    if (d.admitted) keys.push(d.key);
  }
  return keys;
}

describe('createConnectionAdmission', () => {
  it('lets one client hold at most maxPerClient connections, and more once one closes', () => {
    const { a } = admission();
    expect(openMany(a, '203.0.113.1', 3)).toHaveLength(3);
    expect(a.admit('203.0.113.1')).toEqual({ admitted: false, key: '203.0.113.1', reason: 'per_client', limit: 3 });
    // Another client is counted apart.
    expect(a.admit('203.0.113.2').admitted).toBe(true);
    a.release('203.0.113.1');
    expect(a.openFrom('203.0.113.1')).toBe(2);
    expect(a.admit('203.0.113.1').admitted).toBe(true);
  });

  it('counts IPv6 clients per /64 and ::ffff:a.b.c.d as a.b.c.d', () => {
    const { a } = admission();
    expect(openMany(a, '2001:db8:0:1::1', 2)).toEqual(['2001:db8:0:1::/64', '2001:db8:0:1::/64']);
    // Another interface id in the same /64 is the same client.
    expect(a.admit('2001:db8:0:1:ffff:ffff:ffff:ffff').admitted).toBe(true);
    expect(a.admit('2001:db8:0:1::2')).toMatchObject({ admitted: false, reason: 'per_client' });
    expect(a.admit('2001:db8:0:2::1').admitted).toBe(true);

    expect(openMany(a, '::ffff:203.0.113.9', 2)).toEqual(['203.0.113.9', '203.0.113.9']);
    expect(a.openFrom('203.0.113.9')).toBe(2);
  });

  it('keeps the last quarter for trusted addresses: others are refused once the rest is taken', () => {
    const { a } = admission({ maxPerClient: 0 });
    expect(a.unreservedLimit).toBe(6);
    expect(openMany(a, '198.51.100.1', 6)).toHaveLength(6);
    expect(a.admit('198.51.100.2')).toEqual({ admitted: false, key: '198.51.100.2', reason: 'reserved', limit: 6 });
    a.markTrusted('192.0.2.10');
    expect(a.isTrusted('192.0.2.10')).toBe(true);
    expect(openMany(a, '192.0.2.10', 3)).toHaveLength(2);
    expect(a.open).toBe(8);
    // Full: not even a trusted address gets more.
    expect(a.admit('192.0.2.10')).toEqual({ admitted: false, key: '192.0.2.10', reason: 'full', limit: 8 });
  });

  it('holds an address that delivered successfully to the total alone, not the per-client cap (a keep-alive pool holds more sockets than requests)', () => {
    const { a } = admission();
    expect(openMany(a, '192.0.2.10', 5)).toHaveLength(3);
    a.markTrusted('192.0.2.10');
    expect(openMany(a, '192.0.2.10', 10)).toHaveLength(5);
    expect(a.admit('192.0.2.10')).toMatchObject({ admitted: false, reason: 'full' });
  });

  it('forgets a trusted address after trustedForMs, and the least recently trusted beyond the memory bound', () => {
    const { a, advance } = admission({ trustedForMs: 1_000, maxTrustedAddresses: 2 });
    a.markTrusted('192.0.2.1');
    advance(999);
    expect(a.isTrusted('192.0.2.1')).toBe(true);
    advance(1);
    expect(a.isTrusted('192.0.2.1')).toBe(false);

    a.markTrusted('192.0.2.1');
    a.markTrusted('192.0.2.2');
    a.markTrusted('192.0.2.1'); // success again: now the most recent
    a.markTrusted('192.0.2.3');
    expect(a.trustedAddresses).toBe(2);
    expect(a.isTrusted('192.0.2.2')).toBe(false);
    expect(a.isTrusted('192.0.2.1')).toBe(true);
    expect(a.isTrusted('192.0.2.3')).toBe(true);
  });

  it('never trusts an unknown peer, which would trust every connection whose address could not be read', () => {
    const { a } = admission();
    a.markTrusted(undefined);
    a.markTrusted('not an address');
    expect(a.trustedAddresses).toBe(0);
    expect(a.isTrusted(undefined)).toBe(false);
  });

  it('takes a connection from anyone when the server allows only one (the reserve rounds down)', () => {
    const { a } = admission({ maxConnections: 1, maxPerClient: 0 });
    expect(a.unreservedLimit).toBe(1);
    expect(a.admit('198.51.100.1').admitted).toBe(true);
    expect(a.admit('198.51.100.1')).toMatchObject({ admitted: false, reason: 'full' });
  });

  it('with maxPerClient 0 and no reserve, is a plain cap on the total', () => {
    const { a } = admission({ maxPerClient: 0, reservedShare: 0 });
    expect(openMany(a, '198.51.100.1', 10)).toHaveLength(8);
  });

  it('ignores a release of a key it does not hold, so the counts cannot go negative', () => {
    const { a } = admission();
    a.release('198.51.100.1');
    expect(a.open).toBe(0);
    a.admit('198.51.100.1');
    a.release('198.51.100.1');
    a.release('198.51.100.1');
    expect(a.open).toBe(0);
    expect(a.openFrom('198.51.100.1')).toBe(0);
  });

  it('refuses a nonsensical configuration with a message naming the field', () => {
    expect(() => createConnectionAdmission({ maxConnections: 0, maxPerClient: 1 })).toThrow(
      /maxConnections must be a whole number of at least 1, got 0/,
    );
    expect(() => createConnectionAdmission({ maxConnections: 10, maxPerClient: -1 })).toThrow(/maxPerClient/);
    expect(() => createConnectionAdmission({ maxConnections: 10, maxPerClient: 1, reservedShare: 1 })).toThrow(
      /reservedShare/,
    );
    expect(() => createConnectionAdmission({ maxConnections: 10, maxPerClient: 1, trustedForMs: 0 })).toThrow(
      /trustedForMs/,
    );
  });
});

describe('createRefusalLogThrottle', () => {
  it('says yes once per address per interval', () => {
    const c = clock();
    const shouldLog = createRefusalLogThrottle({ intervalMs: 60_000, now: c.now });
    expect(shouldLog('198.51.100.1')).toBe(true);
    expect(shouldLog('198.51.100.1')).toBe(false);
    expect(shouldLog('198.51.100.2')).toBe(true);
    c.advance(59_999);
    expect(shouldLog('198.51.100.1')).toBe(false);
    c.advance(1);
    expect(shouldLog('198.51.100.1')).toBe(true);
  });

  it('logs at most maxAddresses addresses an interval, however many are refused', () => {
    const c = clock();
    const shouldLog = createRefusalLogThrottle({ intervalMs: 60_000, maxAddresses: 3, now: c.now });
    const logged = Array.from({ length: 1000 }, (_, i) => shouldLog(`10.0.${i >> 8}.${i & 255}`)).filter(Boolean);
    expect(logged).toHaveLength(3);
    // The interval over, there is room again.
    c.advance(60_000);
    expect(shouldLog('10.9.9.9')).toBe(true);
  });
});

/** `--max-connections-per-client` and DOCV_MAX_CONNECTIONS_PER_CLIENT, as `serve` parses them. */
function maxPerClient(args: string[], env: Record<string, string> = {}): number {
  const saved = process.env.DOCV_MAX_CONNECTIONS_PER_CLIENT;
  if (env.DOCV_MAX_CONNECTIONS_PER_CLIENT === undefined) delete process.env.DOCV_MAX_CONNECTIONS_PER_CLIENT;
  else process.env.DOCV_MAX_CONNECTIONS_PER_CLIENT = env.DOCV_MAX_CONNECTIONS_PER_CLIENT;
  try {
    const command = addAuthOptions(new Command().exitOverride().configureOutput({ writeErr: () => undefined }));
    command.parse(args, { from: 'user' });
    return resolveReceiverConfig(receiverOptionsFromFlags({ ...command.opts<ReceiverFlags>(), ordering: true }, {}))
      .timeouts.maxConnectionsPerClient;
  } finally {
    if (saved === undefined) delete process.env.DOCV_MAX_CONNECTIONS_PER_CLIENT;
    else process.env.DOCV_MAX_CONNECTIONS_PER_CLIENT = saved;
  }
}

describe('--max-connections-per-client', () => {
  it('defaults to 64, takes the flag or DOCV_MAX_CONNECTIONS_PER_CLIENT (the flag wins), and 0 turns the cap off', () => {
    expect(maxPerClient([])).toBe(64);
    expect(maxPerClient(['--max-connections-per-client', '500'])).toBe(500);
    expect(maxPerClient([], { DOCV_MAX_CONNECTIONS_PER_CLIENT: '0' })).toBe(0);
    expect(maxPerClient(['--max-connections-per-client', '8'], { DOCV_MAX_CONNECTIONS_PER_CLIENT: '0' })).toBe(8);
  });

  it('refuses what is not a whole number, naming the value', () => {
    for (const bad of ['-1', '1.5', 'many', '']) {
      expect(() => maxPerClient(['--max-connections-per-client', bad])).toThrow(
        /is not a whole number \(0 turns the cap off\)/,
      );
    }
  });
});
