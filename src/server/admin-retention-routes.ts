import type { FastifyInstance } from 'fastify';
import { DEFAULT_SOURCE } from '../contract/index.js';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import { eraseCustomer } from '../store/erasure.js';
import { MAX_PAGE_LIMIT, type RetentionStore, type Tombstone } from '../store/index.js';

const DEFAULT_LIMIT = 50;

/** How a page says a transaction is gone: "removed by retention on …" or "erased on request on …". */
export function goneWords(tombstone: Tombstone): string {
  return `${tombstone.reason === 'erasure' ? 'erased on request' : 'removed by retention'} on ${tombstone.removedAt}`;
}

/** " under source x", or nothing for the default source (a single-source receiver never names it). */
export function underSource(source: string): string {
  return source === DEFAULT_SOURCE ? '' : ` under source ${source}`;
}

/** The admin API's 404 for a transaction that a tombstone says is gone. */
export function goneProblem(tombstone: Tombstone): string {
  return JSON.stringify({
    ...problem(
      404,
      'not-found',
      'Not Found',
      `transaction ${JSON.stringify(tombstone.docvTransactionId.slice(0, 300))}${underSource(tombstone.source)} was ${goneWords(tombstone)}`,
    ),
    removed: { reason: tombstone.reason, at: tombstone.removedAt, source: tombstone.source },
  });
}

/**
 * Erasure requests over the admin API (issue 20): `POST /v1/purge {"customerUserId": "…"}` erases
 * that person's data in bounded steps and answers the record; `GET /v1/erasures` lists the records
 * (newest first; `?customerUserId=` finds one person's by its hash).
 */
export async function adminRetentionRoutes(app: FastifyInstance, options: { store: RetentionStore }): Promise<void> {
  const { store } = options;

  app.post<{ Body: { customerUserId: string } }>(
    '/v1/purge',
    {
      schema: {
        body: {
          type: 'object',
          required: ['customerUserId'],
          additionalProperties: false,
          properties: { customerUserId: { type: 'string', minLength: 1, maxLength: 4096 } },
        },
      },
    },
    async (request) => eraseCustomer(store, request.body.customerUserId, { pauseMs: 5 }),
  );

  app.get<{ Querystring: { limit?: number; cursor?: string; customerUserId?: string } }>(
    '/v1/erasures',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT },
            cursor: { type: 'string', maxLength: 200 },
            customerUserId: { type: 'string', minLength: 1, maxLength: 4096 },
          },
        },
      },
    },
    async (request, reply) => {
      try {
        return await store.listErasures({
          limit: request.query.limit ?? DEFAULT_LIMIT,
          cursor: request.query.cursor,
          customerUserId: request.query.customerUserId,
        });
      } catch (err) {
        if ((err as Error).name !== 'InvalidCursorError') throw err;
        return reply
          .code(400)
          .header('content-type', PROBLEM_CONTENT_TYPE)
          .send(JSON.stringify(problem(400, 'bad-request', 'Bad Request', (err as Error).message)));
      }
    },
  );
}
