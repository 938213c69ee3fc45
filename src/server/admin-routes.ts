import type { FastifyInstance } from 'fastify';
import {
  CANONICAL_DECISIONS,
  DIALECTS,
  isRfc3339DateTime,
  sourceNameProblem,
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

/**
 * The `source` parameter of every listing (issue 20). The schema only bounds its length, so a bad
 * name gets the naming rule in words (sourceNameProblem) rather than a regular expression.
 */
export const sourceProperty = { type: 'string', minLength: 1, maxLength: 200 } as const;

/** Why a `source` value cannot name a source, as the 400's detail (naming the parameter), or null. */
export function sourceParamProblem(value: string | undefined, name = 'source'): string | null {
  if (value === undefined) return null;
  const why = sourceNameProblem(value);
  return why === null ? null : `${name}: ${why}`;
}

interface TransactionQuery extends PageQuery {
  source?: string;
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

function notFound(what: string, id: string, source?: string) {
  const under = source === undefined ? '' : ` under source ${source}`;
  return JSON.stringify(
    problem(404, 'not-found', 'Not Found', `no ${what} ${JSON.stringify(id.slice(0, 300))}${under}`),
  );
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
            source: sourceProperty,
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
      for (const bad of [fromDate, toDate, sourceParamProblem(rest.source)])
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

  // Without `source`, the transaction of that id under whichever source has it; when several
  // have one, the store throws AmbiguousTransactionError and app.ts answers 409 naming them.
  app.get<{ Params: { docvTransactionId: string }; Querystring: { source?: string } }>(
    '/v1/transactions/:docvTransactionId',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { source: sourceProperty } },
      },
    },
    async (request, reply) => {
      const id = request.params.docvTransactionId;
      const { source } = request.query;
      const bad = sourceParamProblem(source);
      if (bad !== null) return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badQuery(bad));
      const view = await store.getTransaction(id, source);
      // Gone by retention or an erasure request: the 404 says so (and when), from its tombstone.
      const tombstone = view ? null : await store.getTombstone?.(id, source);
      if (tombstone) return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(goneProblem(tombstone));
      if (!view)
        return reply
          .code(404)
          .header('content-type', PROBLEM_CONTENT_TYPE)
          .send(notFound('transaction', id, source));
      return view;
    },
  );

  app.get<{
    Querystring: PageQuery & {
      source?: string;
      /** Without `source`, this id's events under every source. */
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
            source: sourceProperty,
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
    async (request, reply) => {
      const bad = sourceParamProblem(request.query.source);
      if (bad !== null) return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badQuery(bad));
      return store.listEvents(request.query);
    },
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
