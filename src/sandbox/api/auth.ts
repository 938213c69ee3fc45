import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem.js';

const SCHEME = 'socureapikey';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * `Authorization: SocureApiKey <key>`, as the real API wants it. Both sides are hashed to the
 * same length first, so the comparison takes the same time whatever the length or content of the
 * guess; the answer never says which part was wrong.
 */
export function createApiKeyCheck(apiKey: string): (authorization: string | undefined) => boolean {
  const expected = digest(apiKey);
  return (authorization) => {
    if (authorization === undefined) return false;
    const [scheme, key, ...rest] = authorization.trim().split(/\s+/);
    if (rest.length > 0 || key === undefined || scheme?.toLowerCase() !== SCHEME) return false;
    return timingSafeEqual(digest(key), expected);
  };
}

/** A Fastify onRequest hook that answers 401 problem+json unless the API key is right. */
export function requireApiKey(apiKey: string) {
  const check = createApiKeyCheck(apiKey);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const header = req.headers.authorization;
    if (!check(typeof header === 'string' ? header : undefined)) {
      reply.header('www-authenticate', 'SocureApiKey');
      return sendProblem(reply, 401, 'send "Authorization: SocureApiKey <api key>" with the sandbox API key');
    }
  };
}
