import { readHeaderValues, type HeaderMap } from './headers.js';
import { normalizeIpAddress, parseForwardedAddress } from './ip-address.js';

/**
 * The address a request came from, in normalised form (see normalizeIpAddress), or undefined when
 * it cannot be known.
 *
 * Without a proxy (the default) it is the socket's peer address: X-Forwarded-For is ignored,
 * because any client can send that header.
 *
 * With `trustProxy`, exactly one proxy is trusted: the socket peer is that proxy, and the client
 * is the RIGHT-most X-Forwarded-For entry, the one the proxy appended itself. Entries to the left
 * of it were supplied by the client (or by hops we know nothing about) and can say anything, so
 * taking the left-most, as many frameworks do, would let anyone claim an allow-listed address or
 * dodge the failure limiter. If the proxy sent no X-Forwarded-For the peer address is used; if
 * the right-most entry is not an address (a misconfigured proxy) the result is undefined, which
 * the allow-list refuses.
 *
 * trustProxy is only safe when the receiver cannot be reached except through that proxy.
 */
export function resolveClientAddress(
  headers: HeaderMap,
  remoteAddress: string | undefined,
  trustProxy: boolean,
): string | undefined {
  const peer = remoteAddress === undefined ? undefined : normalizeIpAddress(remoteAddress)?.address;
  if (!trustProxy) return peer;
  const forwardedFor = forwardedForEntries(headers);
  if (forwardedFor.length === 0) return peer;
  return parseForwardedAddress(forwardedFor[forwardedFor.length - 1] as string)?.address;
}

/** Several X-Forwarded-For headers are one list in order (RFC 9110 §5.3), as Node joins them. */
function forwardedForEntries(headers: HeaderMap): string[] {
  return readHeaderValues(headers, 'x-forwarded-for')
    .join(',')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
