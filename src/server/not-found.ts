import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';

/**
 * Every listener's 404: a problem body naming the route that was asked for (its path only, never
 * the query, bounded), and what the listener does serve when that helps (`hint`).
 */
export function problemNotFoundHandler(app: FastifyInstance, hint?: string): void {
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200);
    return reply
      .code(404)
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(
        JSON.stringify(
          problem(404, 'not-found', 'Not Found', `no route ${request.method} ${path}${hint ? `; ${hint}` : ''}`),
        ),
      );
  });
}
