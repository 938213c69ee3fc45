import { isIP } from 'node:net';
import { createAllowList, type AllowList } from '../../auth/allow-list.js';
import { normalizeIpAddress, type IpAddress } from '../../auth/ip-address.js';

/**
 * Where the sandbox may deliver. Every delivery carries the receiver's secret and a valid
 * signature, and its answer is shown back through the API: a client that could name any URL
 * would get the secrets sent to a listener of its own, or have the sandbox probe the cloud
 * metadata service and the hosts behind it. So targets come from the operator's list
 * (`--allow-target`), loopback only by default. Pure: no DNS here (see target-guard.ts).
 */

/** Where the local receiver lives; also what "loopback" means for the warnings. */
export const DEFAULT_ALLOWED_TARGETS: readonly string[] = ['127.0.0.0/8', '::1'];

/** One entry of the list: addresses (a CIDR or one address) on one port or any, or a host name on one port. */
type Rule =
  | { kind: 'addresses'; list: AllowList; port?: number; loopback: boolean }
  | { kind: 'name'; host: string; port: number };

export interface TargetPolicy {
  /** Whether a (normalised) address on this port is on the list. */
  allowsAddress(address: IpAddress, port: number): boolean;
  /** Whether this exact host name and port are on the list: the operator trusts whatever it resolves to. */
  listsName(host: string, port: number): boolean;
  /** Some entry allows an address beyond loopback, or a host name. */
  readonly reachesBeyondLoopback: boolean;
}

const loopback = createAllowList(DEFAULT_ALLOWED_TARGETS);

/** `::ffff:a9fe:a9fe`, the form WHATWG URL writes an IPv4-mapped address in. */
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * An address in the one form the list is checked in: zone id dropped, IPv6 canonical (WHATWG
 * URL's serialiser: lower case, zeros compressed) and IPv4-mapped IPv6, dotted
 * (`::ffff:169.254.169.254`) or hex (`::ffff:a9fe:a9fe`), turned back into the IPv4 it reaches.
 */
export function normalizeTargetAddress(text: string): IpAddress | undefined {
  const ip = normalizeIpAddress(text);
  if (ip === undefined || ip.family === 'ipv4') return ip;
  const canonical = new URL(`http://[${ip.address}]/`).hostname.slice(1, -1);
  const mapped = MAPPED_HEX.exec(canonical);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return { address: `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`, family: 'ipv4' };
  }
  return normalizeIpAddress(canonical);
}

export function isLoopbackAddress(text: string): boolean {
  const ip = normalizeTargetAddress(text);
  return ip !== undefined && loopback.allows(ip.address);
}

/** `localhost` and `*.localhost` are loopback by definition (RFC 6761), whatever a resolver says. */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

function portOf(text: string | undefined, entry: string, n: number): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535)
    throw entryError(entry, n, `port ${text} is not from 1 to 65535`);
  return port;
}

function entryError(entry: string, n: number, why: string): RangeError {
  return new RangeError(
    `--allow-target entry ${n} ("${entry}"): ${why}; write host:port (receiver.example:443), an address or CIDR (10.0.0.0/8, fd00::/8), ` +
      'or a CIDR with a port (10.0.0.0/8:8443, [fd00::/8]:8443)',
  );
}

/** An address or CIDR entry, validated by the receiver's own allow-list parser. */
function addressRule(cidr: string, port: number | undefined, entry: string, n: number): Rule {
  let list: AllowList;
  try {
    list = createAllowList([cidr]);
  } catch {
    throw entryError(entry, n, `"${cidr}" is not an IP address or CIDR`);
  }
  const [addressText = '', prefixText] = cidr.split('/');
  const ip = normalizeTargetAddress(addressText)!;
  let prefix = prefixText === undefined ? (ip.family === 'ipv4' ? 32 : 128) : Number(prefixText);
  // `::ffff:127.0.0.0/104` is the IPv4 127.0.0.0/8.
  if (ip.family === 'ipv4' && addressText.includes(':') && prefixText !== undefined) prefix -= 96;
  const within = ip.family === 'ipv4' ? prefix >= 8 : prefix === 128;
  return { kind: 'addresses', list, port, loopback: within && loopback.allows(ip.address) };
}

function parseEntry(entry: string, n: number): Rule {
  // [IPv6 or IPv6 CIDR]:port
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(entry);
  if (bracketed) return addressRule(bracketed[1]!, portOf(bracketed[2], entry, n), entry, n);
  // A CIDR, maybe with a port after its prefix length: 10.0.0.0/8, 10.0.0.0/8:8443, fd00::/8.
  const cidr = /^([^/]+\/\d{1,3})(?::(\d+))?$/.exec(entry);
  if (cidr) return addressRule(cidr[1]!, portOf(cidr[2], entry, n), entry, n);
  // A bare address, any port (::1 stays whole: an IPv6 address with a port is bracketed).
  if (isIP(entry) !== 0) return addressRule(entry, undefined, entry, n);
  const hostPort = /^([^\s/:[\]]+):(\d+)$/.exec(entry);
  if (!hostPort) {
    if (/^[^\s/:[\]]+$/.test(entry)) throw entryError(entry, n, 'a host name needs its port');
    throw entryError(entry, n, 'not understood');
  }
  const port = portOf(hostPort[2], entry, n)!;
  // Read as a URL reads it, so the entry and the URLs it must match agree: `0x7f.1` is 127.0.0.1,
  // names are lower-cased and IDNs punycoded.
  let host: string;
  try {
    host = new URL(`http://${hostPort[1]}/`).hostname;
  } catch {
    throw entryError(entry, n, `"${hostPort[1]}" is not a host name`);
  }
  if (isIP(host) === 4) return addressRule(host, port, entry, n);
  return { kind: 'name', host, port };
}

/** Builds the policy from `--allow-target` entries; throws a RangeError naming the first bad entry. */
export function createTargetPolicy(entries: readonly string[] = DEFAULT_ALLOWED_TARGETS): TargetPolicy {
  const rules = entries.map((entry, i) => parseEntry(entry.trim(), i + 1));
  return {
    allowsAddress: (ip, port) =>
      rules.some(
        (r) => r.kind === 'addresses' && (r.port === undefined || r.port === port) && r.list.allows(ip.address),
      ),
    listsName: (host, port) => rules.some((r) => r.kind === 'name' && r.host === host && r.port === port),
    reachesBeyondLoopback: rules.some((r) => (r.kind === 'name' ? !isLoopbackName(r.host) : !r.loopback)),
  };
}

/** A URL as the guard sees it: the host as written in it, the port it means, the address if it names one. */
export interface TargetEndpoint {
  /** `url.host` without the port: `example.com`, `127.0.0.1`, `[::1]`. */
  host: string;
  /** The host to resolve or connect to: without IPv6 brackets. */
  hostname: string;
  port: number;
  /** Set when the host is an IP literal (already normalised, mapped IPv6 as IPv4). */
  address?: IpAddress;
}

/** What a policy says of a URL before any DNS lookup. */
export type TargetVerdict =
  | { kind: 'allowed' }
  /** A host name that is not listed: the addresses it resolves to decide. */
  | { kind: 'resolve'; endpoint: TargetEndpoint }
  | { kind: 'refused'; reason: string; endpoint?: TargetEndpoint };

/** How to write an endpoint in `--allow-target`. */
export function allowEntryFor(endpoint: TargetEndpoint): string {
  const host = endpoint.address?.address ?? endpoint.hostname;
  return endpoint.address?.family === 'ipv6' ? `[${host}]:${endpoint.port}` : `${host}:${endpoint.port}`;
}

function describeHost(endpoint: TargetEndpoint): string {
  const address = endpoint.address?.address;
  // `[::ffff:a9fe:a9fe]` says little; name the IPv4 it reaches too.
  return address !== undefined && address !== endpoint.hostname ? `${endpoint.host} (${address})` : endpoint.host;
}

export function endpointOf(url: URL): TargetEndpoint {
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const address = isIP(hostname) === 0 ? undefined : normalizeTargetAddress(hostname);
  return { host: url.hostname, hostname, port, ...(address ? { address } : {}) };
}

/** Judges a webhook URL without DNS: its scheme, and its host if that is an address or a listed name. */
export function judgeTargetUrl(urlText: string, policy: TargetPolicy): TargetVerdict {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return { kind: 'refused', reason: 'it is not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { kind: 'refused', reason: `the scheme ${url.protocol} is not http or https` };
  const endpoint = endpointOf(url);
  if (endpoint.address) {
    if (policy.allowsAddress(endpoint.address, endpoint.port)) return { kind: 'allowed' };
    return {
      kind: 'refused',
      endpoint,
      reason: `${describeHost(endpoint)} port ${endpoint.port} is not an allowed delivery target`,
    };
  }
  if (policy.listsName(endpoint.hostname, endpoint.port)) return { kind: 'allowed' };
  return { kind: 'resolve', endpoint };
}

/**
 * The addresses of an unlisted host name that may be connected to: those on the list, each
 * normalised; a reason naming what it resolved to when none is.
 */
export function allowedAddresses(
  endpoint: TargetEndpoint,
  resolved: readonly string[],
  policy: TargetPolicy,
): { addresses: string[] } | { reason: string } {
  const addresses: string[] = [];
  const seen: string[] = [];
  for (const text of resolved) {
    const ip = normalizeTargetAddress(text);
    if (ip === undefined) continue;
    seen.push(ip.address);
    if (policy.allowsAddress(ip, endpoint.port)) addresses.push(ip.address);
  }
  if (addresses.length > 0) return { addresses };
  const to = seen.length === 0 ? 'no address' : [...new Set(seen)].join(', ');
  return { reason: `${endpoint.host} resolves to ${to}: not an allowed delivery target on port ${endpoint.port}` };
}

/**
 * The problem a refused webhook URL is answered with: what was refused and how the operator
 * allows it. Names the host, never the rest of the URL (its path may hold a token).
 */
export function refusalMessage(field: string, verdict: { reason: string; endpoint?: TargetEndpoint }): string {
  const fix = verdict.endpoint
    ? `; to deliver there, start the sandbox with --allow-target ${allowEntryFor(verdict.endpoint)} (deliveries carry the receiver's secrets: allow only receivers you trust)`
    : '';
  return `${field} refused: ${verdict.reason}${fix}. By default the sandbox delivers to loopback only`;
}
