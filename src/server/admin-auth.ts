import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import { html } from './dashboard/html.js';
import { sendPage } from './dashboard/parts.js';
import {
  attachSession,
  issueSession,
  readSession,
  requestIsSecure,
  sessionCookie,
  sessionKey,
} from './dashboard/session.js';
import { openAdminRefusal } from './open-admin.js';

/** Hashes a token so two can be compared in constant time whatever their lengths. */
export function tokenDigest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Reachable without a session: the sign-in page and what it loads. */
const PUBLIC_PATHS = new Set(['/dashboard/login', '/dashboard/style.css', '/dashboard/app.js', '/favicon.ico']);

function isDashboardPath(path: string): boolean {
  return path === '/dashboard' || path.startsWith('/dashboard/');
}

/** The sign-in page, told where to come back to (a GET's own address; a POST goes back to the start). */
function loginLocation(request: FastifyRequest): string {
  if (request.method !== 'GET' && request.method !== 'HEAD') return '/dashboard/login';
  return `/dashboard/login?${new URLSearchParams({ returnTo: request.url.slice(0, 2000) })}`;
}

/**
 * A browser that followed a link from another site does not send a SameSite=Strict cookie, so a
 * signed-in user would land on the sign-in page. This page asks it to load the same address
 * again from here, which sends the cookie (and, when there is none, leads to the sign-in page).
 */
function sendSameSiteReload(reply: FastifyReply, url: string): FastifyReply {
  return sendPage(
    reply,
    'Opening the dashboard',
    html`<meta http-equiv="refresh" content="${`0;url=${url}`}"><p><a id="continue" href="${url}">Continue to the dashboard</a></p>`,
  );
}

/**
 * Admin access (API, metrics, dashboard). With a token: the token as a bearer token (API
 * clients and scripts, dashboard included), or, for the dashboard's pages, the session cookie the
 * sign-in form sets (dashboard/login-routes.ts); a browser without one is sent to that form.
 * Without a token the admin API is open only to this machine's own users: never on a public
 * address, never behind a proxy, and only to requests that open-admin.ts can tell come from
 * here; the dashboard then gives each browser an anonymous session for its forms' CSRF tokens.
 */
export function adminGuard(options: {
  token?: string | undefined;
  listeningOnLoopback: boolean;
  behindProxy?: boolean | undefined;
}) {
  const expected = options.token !== undefined ? tokenDigest(options.token) : null;
  const behindProxy = options.behindProxy === true;
  const key = sessionKey(options.token);
  const context = { listeningOnLoopback: options.listeningOnLoopback, behindProxy };
  return async function guard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const path = request.url.split('?')[0]!;
    const dashboard = isDashboardPath(path);
    const session = dashboard ? readSession(key, request.headers.cookie) : null;
    if (session) attachSession(request, session);
    if (expected === null) {
      const refusal = openAdminRefusal({ headers: request.headers, peer: request.socket.remoteAddress }, context);
      if (refusal === null) {
        // Open: no sign-in, but forms still need a session to bind their CSRF token to. Given on
        // a page load, not on the stylesheet or script, which would replace the page's one.
        if (dashboard && !session && request.method === 'GET' && !PUBLIC_PATHS.has(path)) {
          const issued = issueSession(key);
          attachSession(request, issued.session);
          reply.header(
            'set-cookie',
            sessionCookie(issued.cookieValue, { secure: requestIsSecure(request, behindProxy) }),
          );
        }
        return;
      }
      request.log.warn(
        { reason: refusal.slug, peer: request.socket.remoteAddress, path: path.slice(0, 200) },
        'admin API without a token refused a request',
      );
      await reply
        .code(403)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problem(403, refusal.slug, 'Forbidden', refusal.detail)));
      return;
    }
    if (PUBLIC_PATHS.has(path)) return;
    const header = request.headers.authorization;
    const bearer = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (bearer && timingSafeEqual(tokenDigest(bearer[1]!), expected)) return;
    if (session) return;
    // A browser goes to the sign-in form (one that still sends the Basic credentials an older
    // version asked for included); a script with a wrong bearer token is told so.
    if (dashboard && !bearer) {
      if (request.method === 'GET' && request.headers['sec-fetch-site'] === 'cross-site') {
        await sendSameSiteReload(reply, request.url);
        return;
      }
      await reply.code(303).header('location', loginLocation(request)).send();
      return;
    }
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="docv-webhooks-admin"')
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(problem(401, 'unauthorized', 'Unauthorized', 'send Authorization: Bearer <admin token>')));
  };
}
