import type { FastifyInstance } from 'fastify';
import { DOCV_EVENT_TYPES, type DocvEventType } from '../contract/index.js';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import { DELIVERY_STATES, MAX_PAGE_LIMIT, type DeliveryState, type Outbox } from '../store/index.js';
import { badQuery, instantParam, sourceParamProblem, sourceProperty } from './admin-routes.js';

function notFound(id: string) {
  return JSON.stringify(problem(404, 'not-found', 'Not Found', `no delivery ${JSON.stringify(id.slice(0, 300))}`));
}

/** The outbox as operators see it: what was delivered where, what failed, and the levers to redo it. */
export async function adminDeliveryRoutes(
  app: FastifyInstance,
  options: { store: Outbox; onOutboxChange?: () => void },
): Promise<void> {
  const { store } = options;

  app.get<{
    Querystring: {
      limit: number;
      cursor?: string;
      /** Only deliveries of this source's events. */
      source?: string;
      state?: DeliveryState;
      destination?: string;
      docvTransactionId?: string;
      eventId?: string;
      from?: string;
      to?: string;
    };
  }>(
    '/v1/deliveries',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: 50 },
            cursor: { type: 'string', maxLength: 200 },
            source: sourceProperty,
            state: { type: 'string', enum: [...DELIVERY_STATES] },
            destination: { type: 'string', maxLength: 1000 },
            docvTransactionId: { type: 'string', maxLength: 1000 },
            eventId: { type: 'string', maxLength: 200 },
            from: { type: 'string', maxLength: 64 },
            to: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const { from, to, ...rest } = request.query;
      const fromDate = instantParam(from, 'from');
      const toDate = instantParam(to, 'to');
      for (const bad of [fromDate, toDate, sourceParamProblem(rest.source)])
        if (typeof bad === 'string')
          return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badQuery(bad));
      return store.listDeliveries({ ...rest, from: fromDate as Date | undefined, to: toDate as Date | undefined });
    },
  );

  app.get<{ Params: { deliveryId: string } }>('/v1/deliveries/:deliveryId', async (request, reply) => {
    const delivery = await store.getDelivery(request.params.deliveryId);
    if (!delivery)
      return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(notFound(request.params.deliveryId));
    return delivery;
  });

  app.post<{ Params: { deliveryId: string } }>('/v1/deliveries/:deliveryId/retry', async (request, reply) => {
    const delivery = await store.retryDelivery(request.params.deliveryId);
    if (!delivery)
      return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(notFound(request.params.deliveryId));
    options.onOutboxChange?.();
    return reply.code(202).send(delivery);
  });

  app.post<{
    Body: {
      /** Only this source's events (with docvTransactionId: that source's transaction of the id). */
      source?: string;
      from?: string;
      to?: string;
      eventType?: DocvEventType;
      docvTransactionId?: string;
      destination?: string;
      state?: DeliveryState;
    };
  }>(
    '/v1/replay',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            source: sourceProperty,
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            eventType: { type: 'string', enum: [...DOCV_EVENT_TYPES] },
            docvTransactionId: { type: 'string', maxLength: 1000 },
            destination: { type: 'string', maxLength: 1000 },
            state: { type: 'string', enum: [...DELIVERY_STATES] },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const bad = sourceParamProblem(body.source);
      if (bad !== null) return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badQuery(bad));
      const requeued = await store.replay({
        source: body.source,
        from: body.from ? new Date(body.from) : undefined,
        to: body.to ? new Date(body.to) : undefined,
        eventType: body.eventType,
        docvTransactionId: body.docvTransactionId,
        destination: body.destination,
        state: body.state,
      });
      options.onOutboxChange?.();
      return reply.code(202).send({ requeued });
    },
  );
}
