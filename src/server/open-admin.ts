import { isLoopbackAuthority, isLoopbackHost } from './loopback.js';

/**
 * Headers a proxy adds to say whom it forwards for. A request that carries one came through a
 * proxy, and a proxy on this machine connects from loopback: the socket alone cannot tell that
 * the caller is elsewhere.
 */
const FORWARDING_HEADERS = new Set([
  'forwarded',
  'via',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
]);

type AdminRequestHeaders = Record<string, string | string[] | undefined>;

function forwardingHeader(headers: AdminRequestHeaders): string | undefined {
  return Object.keys(headers).find((name) => FORWARDING_HEADERS.has(name) || name.startsWith('x-forwarded-'));
}

export interface OpenAdminContext {
  /** The server is bound to a loopback address only. */
  listeningOnLoopback: boolean;
  /** `--trust-proxy`: every request arrives through a proxy, whoever sent it. */
  behindProxy: boolean;
}

export interface OpenAdminRefusal {
  /** The problem type's last word: what kind of caller was turned away. */
  slug: 'admin-disabled' | 'admin-proxied' | 'admin-host' | 'admin-cross-origin';
  /** Why, and what to set; names no secret. */
  detail: string;
}

const NEEDS = 'the admin API has no token (DOCV_ADMIN_TOKEN or --admin-token), so it answers only';
const SET_TOKEN = 'set the token to use it from elsewhere';

function shown(value: string): string {
  return JSON.stringify(value.slice(0, 100));
}

/** The host:port an Origin names, or null when it is not an http(s) origin (`null`, `file://`). */
function originAuthority(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : null;
  } catch {
    return null;
  }
}

function sameAuthority(origin: string, host: string): boolean {
  const fromOrigin = originAuthority(origin);
  if (fromOrigin === null) return false;
  try {
    return new URL(`http://${host}`).host === fromOrigin;
  } catch {
    return false;
  }
}

/**
 * Why an admin API without a token must not answer this request, or null when it may. Open
 * means open to this machine's own users, so more than the bind address decides: the caller must
 * be on loopback (the socket peer), must not come through a proxy (one on this machine connects
 * from loopback too), must address the server by a loopback name (another name pointing at
 * 127.0.0.1 is how a web page reads a loopback server through DNS rebinding), and a browser must
 * not be sending it from another origin's page (a cross-site form can POST to loopback).
 */
export function openAdminRefusal(
  request: { headers: AdminRequestHeaders; peer: string | undefined },
  context: OpenAdminContext,
): OpenAdminRefusal | null {
  if (!context.listeningOnLoopback) {
    return {
      slug: 'admin-disabled',
      detail: 'the admin API needs DOCV_ADMIN_TOKEN (or --admin-token) when listening beyond loopback',
    };
  }
  if (context.behindProxy) {
    return {
      slug: 'admin-disabled',
      detail:
        'the admin API needs DOCV_ADMIN_TOKEN (or --admin-token) behind a proxy (--trust-proxy): every request reaches it from the proxy',
    };
  }
  if (request.peer === undefined || !isLoopbackHost(request.peer)) {
    return {
      slug: 'admin-disabled',
      detail: `${NEEDS} this machine, and this request came from ${request.peer ?? 'an unknown address'}; ${SET_TOKEN}`,
    };
  }
  const forwarded = forwardingHeader(request.headers);
  if (forwarded !== undefined) {
    return {
      slug: 'admin-proxied',
      detail: `${NEEDS} this machine, and this request came through a proxy (it carries ${forwarded}); ${SET_TOKEN}`,
    };
  }
  const host = request.headers.host;
  if (typeof host !== 'string' || !isLoopbackAuthority(host)) {
    return {
      slug: 'admin-host',
      detail:
        `${NEEDS} requests addressed to localhost, 127.0.0.1 or [::1], not to ${typeof host === 'string' ? shown(host) : 'no Host'} ` +
        `(another name pointing here is how a web page reads a local server through DNS rebinding); open it as http://127.0.0.1:<port>, or ${SET_TOKEN}`,
    };
  }
  const origin = request.headers.origin;
  if (typeof origin === 'string' && !sameAuthority(origin, host)) {
    return {
      slug: 'admin-cross-origin',
      detail: `${NEEDS} its own pages, and this request was sent by a page from ${shown(origin)}; ${SET_TOKEN}`,
    };
  }
  return null;
}
