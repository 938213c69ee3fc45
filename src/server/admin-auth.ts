import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Admin access: a bearer token when one is configured; otherwise only when the server listens on
 * loopback (a developer's machine), never open on a public address.
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
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (match && timingSafeEqual(digest(match[1]!), expected)) return;
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="docv-webhooks-admin"')
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(problem(401, 'unauthorized', 'Unauthorized', 'send Authorization: Bearer <admin token>')));
  };
}
