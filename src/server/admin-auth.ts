import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import { openAdminRefusal } from './open-admin.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Admin access (API, metrics, dashboard): the token as a bearer token, or as the password of Basic
 * auth for browsers, when one is configured. Without one the admin API is open only to this
 * machine's own users: never on a public address, never behind a proxy, and only to requests that
 * open-admin.ts can tell come from here.
 */
export function adminGuard(options: {
  token?: string | undefined;
  listeningOnLoopback: boolean;
  behindProxy?: boolean | undefined;
}) {
  const expected = options.token !== undefined ? digest(options.token) : null;
  const context = { listeningOnLoopback: options.listeningOnLoopback, behindProxy: options.behindProxy === true };
  return async function guard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (expected === null) {
      const refusal = openAdminRefusal({ headers: request.headers, peer: request.socket.remoteAddress }, context);
      if (refusal === null) return;
      request.log.warn(
        { reason: refusal.slug, peer: request.socket.remoteAddress, path: request.url.split('?')[0]!.slice(0, 200) },
        'admin API without a token refused a request',
      );
      await reply
        .code(403)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problem(403, refusal.slug, 'Forbidden', refusal.detail)));
      return;
    }
    const header = request.headers.authorization ?? '';
    const forBrowser = request.url.startsWith('/dashboard') || request.url === '/favicon.ico';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Browsers cannot send a bearer token to the dashboard; they can send Basic with the token as password.
    const basic = forBrowser ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
    const basicPassword = basic
      ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':')
      : null;
    const candidate = bearer?.[1] ?? basicPassword;
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (candidate && timingSafeEqual(digest(candidate), expected)) return;
    await reply
      .code(401)
      // Browsers answer a Basic challenge with a login prompt; API clients get the Bearer one.
      .header(
        'www-authenticate',
        forBrowser ? 'Basic realm="docv-webhooks-admin"' : 'Bearer realm="docv-webhooks-admin"',
      )
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(problem(401, 'unauthorized', 'Unauthorized', 'send Authorization: Bearer <admin token>')));
  };
}
