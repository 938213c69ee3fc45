import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Admin access (API, metrics, dashboard): the token as a bearer token, or as the password of Basic
 * auth for browsers, when one is configured; otherwise only when the server listens on loopback
 * (a developer's machine), never open on a public address.
 */
export function adminGuard(options: { token?: string | undefined; listeningOnLoopback: boolean }) {
  const expected = options.token !== undefined ? digest(options.token) : null;
  return async function guard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (expected === null) {
      if (options.listeningOnLoopback) return;
      await reply
        .code(403)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problem(403, 'admin-disabled', 'Forbidden', 'the admin API needs DOCV_ADMIN_TOKEN (or --admin-token) when listening beyond loopback')));
      return;
    }
    const header = request.headers.authorization ?? '';
    const forBrowser = request.url.startsWith('/dashboard') || request.url === '/favicon.ico';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Browsers cannot send a bearer token to the dashboard; they can send Basic with the token as password.
    const basic = forBrowser ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
    const basicPassword = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : null;
    const candidate = bearer?.[1] ?? basicPassword;
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (candidate && timingSafeEqual(digest(candidate), expected)) return;
    await reply
      .code(401)
      // Browsers answer a Basic challenge with a login prompt; API clients get the Bearer one.
      .header('www-authenticate', forBrowser ? 'Basic realm="docv-webhooks-admin"' : 'Bearer realm="docv-webhooks-admin"')
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(problem(401, 'unauthorized', 'Unauthorized', 'send Authorization: Bearer <admin token>')));
  };
}
