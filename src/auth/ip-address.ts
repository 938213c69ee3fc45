import { isIP } from 'node:net';

export type IpFamily = 'ipv4' | 'ipv6';
export interface IpAddress {
  readonly address: string;
  readonly family: IpFamily;
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * A textual address in the one form used for matching and as a rate-limit key: IPv6 zone ids
 * dropped (`fe80::1%eth0`), IPv4-mapped IPv6 turned back into IPv4 (a dual-stack socket reports
 * `::ffff:127.0.0.1` for an IPv4 peer, and `127.0.0.1/8` on the allow-list must still match),
 * IPv6 lower-cased. Returns undefined for anything that is not an IP address.
 */
export function normalizeIpAddress(text: string): IpAddress | undefined {
  let address = text.trim();
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const mapped = MAPPED_IPV4.exec(address);
  if (mapped?.[1] !== undefined && isIP(mapped[1]) === 4) return { address: mapped[1], family: 'ipv4' };
  switch (isIP(address)) {
    case 4:
      return { address, family: 'ipv4' };
    case 6:
      return { address: address.toLowerCase(), family: 'ipv6' };
    default:
      return undefined;
  }
}

/**
 * One entry of an X-Forwarded-For list. Most proxies write a bare address, but some add a port
 * (`203.0.113.7:51234`) or bracket IPv6 (`[2001:db8::1]:443`).
 */
export function parseForwardedAddress(entry: string): IpAddress | undefined {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed?.[1] !== undefined) return normalizeIpAddress(bracketed[1]);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  if (v4WithPort?.[1] !== undefined) return normalizeIpAddress(v4WithPort[1]);
  return normalizeIpAddress(text);
}

/**
 * The /64 network of an IPv6 address, written `2001:db8:0:1::/64`. One subscriber usually gets a
 * whole /64 (or more), so counting per address would let a client rotate through 2^64 addresses.
 */
export function ipv6Network64(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (groups === undefined) return undefined;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and an embedded IPv4 tail expanded). */
function expandIpv6(address: string): number[] | undefined {
  const ip = normalizeIpAddress(address);
  if (ip === undefined || ip.family !== 'ipv6') return undefined;
  let text = ip.address;
  const v4Tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4Tail !== null) {
    const [a, b, c, d] = v4Tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4Tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  const groups = [...left, ...zeros, ...right];
  return groups.length === 8 ? groups : undefined;
}
