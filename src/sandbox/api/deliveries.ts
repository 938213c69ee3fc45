import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.js';
import type { DeliveryRecord, DeliveryStatus, SandboxStore } from '../store.js';

const STATUSES: readonly DeliveryStatus[] = ['held', 'pending', 'in_flight', 'delivered', 'failed', 'gone'];

/** One delivery with every attempt, as `GET /sandbox/deliveries` and `docv-webhooks deliveries` show it. */
export function deliveryView(d: DeliveryRecord, store: SandboxStore): Record<string, unknown> {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    id: d.id,
    eventId: d.eventId,
    docvTransactionId: d.docvTransactionId,
    eventType: d.eventType,
    url: d.url,
    copy: d.copy,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' || d.status === 'held' ? iso(d.notBefore) : undefined,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: iso(d.createdAt),
    finishedAt: iso(d.finishedAt),
    payload: JSON.parse(d.body) as unknown,
    attemptLog: store.attemptsOf(d.id).map((a) => ({
      n: a.n,
      startedAt: iso(a.startedAt),
      latencyMs: a.latencyMs,
      statusCode: a.statusCode,
      error: a.error,
      retryAfterMs: a.retryAfterMs,
      response: a.response,
    })),
  };
}

export function registerDeliveries(app: FastifyInstance, deps: { store: SandboxStore }): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/sandbox/deliveries', async (req) => {
    const q = req.query;
    const status = q.status;
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw badRequest(`status must be one of ${STATUSES.join(', ')}`);
    }
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be an integer from 1 to 1000');
    const after = q.after === undefined ? undefined : Number(q.after);
    if (after !== undefined && !Number.isInteger(after)) throw badRequest('after must be a delivery id');
    const rows = deps.store.listDeliveries({ docvTransactionId: q.transaction, status: status as DeliveryStatus | undefined, limit, afterId: after });
    return {
      deliveries: rows.map((d) => deliveryView(d, deps.store)),
      counts: deps.store.deliveryCounts(),
      next: rows.length === limit ? rows[rows.length - 1]!.id : undefined,
    };
  });
}
