import { isIP } from 'node:net';

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice('::ffff:'.length));
  return false;
}

/**
 * True when a `Host` header (or the host:port of an `Origin`) names this machine: `localhost` or
 * a loopback address literal (`127.0.0.1`, `[::1]`, …), with or without a port. A name that
 * merely resolves to loopback does not count: a page can point a name it owns at 127.0.0.1 (DNS
 * rebinding), and its browser then sends that name, never one of these.
 */
export function isLoopbackAuthority(authority: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]+)(?::\d{1,5})?$/.exec(authority);
  if (!match) return false;
  const host = match[1]!.toLowerCase();
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 && isLoopbackHost(host);
  return host === 'localhost' || (isIP(host) === 4 && isLoopbackHost(host));
}
