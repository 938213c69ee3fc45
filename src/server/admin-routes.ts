import type { FastifyInstance } from 'fastify';
import {
  CANONICAL_DECISIONS,
  DIALECTS,
  isRfc3339DateTime,
  type CanonicalDecision,
  type Dialect,
} from '../contract/index.js';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import { ANOMALY_CODES, TRANSACTION_STATUSES, type AnomalyCode } from '../lifecycle/index.js';
import { MAX_PAGE_LIMIT, MAX_SEARCH_LENGTH, type ReadModel, type RetentionStore } from '../store/index.js';
import { goneProblem } from './admin-retention-routes.js';

const DEFAULT_LIMIT = 50;

const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_LIMIT },
  cursor: { type: 'string', maxLength: 200 },
} as const;

interface PageQuery {
  limit: number;
  cursor?: string;
}

/** An RFC 3339 query value as a Date; a message for the 400 otherwise. */
export function instantParam(value: string | undefined, name: string): Date | string | undefined {
  if (value === undefined) return undefined;
  if (!isRfc3339DateTime(value))
    return `${name} must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z, got ${JSON.stringify(value.slice(0, 64))}`;
  return new Date(value);
}

export function badQuery(message: string): string {
  return JSON.stringify(problem(400, 'invalid-query', 'Bad Request', message));
}

interface TransactionQuery extends PageQuery {
  status?: string;
  decision?: CanonicalDecision;
  customerUserId?: string;
  q?: string;
  anomaly?: AnomalyCode | 'any';
  dialect?: Dialect;
  environment?: string;
  from?: string;
  to?: string;
}

function notFound(what: string, id: string) {
  return JSON.stringify(problem(404, 'not-found', 'Not Found', `no ${what} ${JSON.stringify(id.slice(0, 300))}`));
}

/** Read-only JSON over the store: what people and scripts use to see what arrived. */
export async function adminRoutes(
  app: FastifyInstance,
  options: { store: ReadModel & Partial<Pick<RetentionStore, 'getTombstone'>> },
): Promise<void> {
  const { store } = options;

  app.get<{ Querystring: TransactionQuery }>(
    '/v1/transactions',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuery,
            status: { type: 'string', enum: [...TRANSACTION_STATUSES] },
            decision: { type: 'string', enum: [...CANONICAL_DECISIONS] },
            customerUserId: { type: 'string', maxLength: 1000 },
            q: { type: 'string', maxLength: MAX_SEARCH_LENGTH },
            anomaly: { type: 'string', enum: ['any', ...ANOMALY_CODES] },
            dialect: { type: 'string', enum: [...DIALECTS] },
            environment: { type: 'string', maxLength: 100 },
            from: { type: 'string', maxLength: 64 },
            to: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const { q, from, to, ...rest } = request.query;
      const fromDate = instantParam(from, 'from');
      const toDate = instantParam(to, 'to');
      for (const bad of [fromDate, toDate])
        if (typeof bad === 'string')
          return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badQuery(bad));
      return store.listTransactions({
        ...rest,
        search: q,
        from: fromDate as Date | undefined,
        to: toDate as Date | undefined,
      });
    },
  );

  app.get<{ Params: { docvTransactionId: string } }>('/v1/transactions/:docvTransactionId', async (request, reply) => {
    const view = await store.getTransaction(request.params.docvTransactionId);
    // Gone by retention or an erasure request: the 404 says so (and when), from its tombstone.
    const tombstone = view ? null : await store.getTombstone?.(request.params.docvTransactionId);
    if (tombstone) return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(goneProblem(tombstone));
    if (!view)
      return reply
        .code(404)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(notFound('transaction', request.params.docvTransactionId));
    return view;
  });

  app.get<{
    Querystring: PageQuery & {
      docvTransactionId?: string;
      eventType?: string;
      evaluationId?: string;
      dialect?: Dialect;
      test?: boolean;
    };
  }>(
    '/v1/events',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuery,
            docvTransactionId: { type: 'string', maxLength: 1000 },
            // An open set (Socure adds event types): one nobody sent simply matches nothing.
            eventType: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_.:-]*$' },
            evaluationId: { type: 'string', maxLength: 1000 },
            dialect: { type: 'string', enum: [...DIALECTS] },
            test: { type: 'boolean' },
          },
        },
      },
    },
    async (request) => store.listEvents(request.query),
  );

  app.get<{ Params: { eventId: string } }>('/v1/events/:eventId', async (request, reply) => {
    const event = await store.getEvent(request.params.eventId);
    if (!event)
      return reply
        .code(404)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(notFound('event', request.params.eventId));
    return event;
  });
}
