import type { FastifyInstance } from 'fastify';
import { badRequest, conflict, notFound } from '../errors.js';
import { DELIVERY_STATUSES, type DeliveryListing, type DeliveryStatus } from '../records.js';
import type { SandboxStore } from '../store.js';

/** A delivery waiting behind an earlier one of its transaction is stored `pending` but shown `held`: it cannot go before that one ends. */
export function shownStatus(d: DeliveryListing): DeliveryStatus {
  return d.waitingFor !== undefined ? 'held' : d.status;
}

function lastOutcome(d: DeliveryListing): string {
  if (d.lastStatusCode !== undefined) return `got HTTP ${d.lastStatusCode}`;
  return d.lastError !== undefined ? `failed: ${d.lastError}` : 'had no answer';
}

/** Why a delivery is where it is, in a sentence, for the states that do not say it themselves. */
export function deliveryReason(d: DeliveryListing): string | undefined {
  if (d.waitingFor !== undefined)
    return `waits for delivery ${d.waitingFor}: a transaction's events go one at a time, in order`;
  switch (d.status) {
    case 'held':
      return 'held back by out-of-order chaos until a later event of its transaction has gone, at the latest until nextAttemptAt';
    case 'pending':
      return d.attempts > d.retryFrom ? `retrying: the last attempt ${lastOutcome(d)}` : undefined;
    case 'rejected':
      // No status: the sandbox refused to send it (--allow-target), and lastError says why.
      if (d.lastStatusCode === undefined) return `not sent: ${d.lastError ?? 'refused by the sandbox'}`;
      return `HTTP ${d.lastStatusCode}: refused by the receiver; only 408, 429, 5xx and network failures are retried`;
    case 'failed':
      return `no attempts left on the retry schedule (the last ${lastOutcome(d)})`;
    case 'gone':
      return 'HTTP 410: the receiver says this endpoint is gone; not retried';
    case 'cancelled':
      return 'cancelled: no more attempts';
    default:
      return undefined;
  }
}

/** One delivery with every attempt, as `GET /sandbox/deliveries` and `docv-webhooks deliveries` show it. */
export function deliveryView(d: DeliveryListing, store: SandboxStore): Record<string, unknown> {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const status = shownStatus(d);
  return {
    id: d.id,
    webhookId: d.eventId,
    docvTransactionId: d.docvTransactionId,
    eventType: d.eventType,
    url: d.url,
    copy: d.copy,
    status,
    waitingFor: d.waitingFor,
    reason: deliveryReason(d),
    attempts: d.attempts,
    // Nothing to promise for one waiting behind another: it goes when that one ends.
    nextAttemptAt:
      d.waitingFor === undefined && (status === 'pending' || status === 'held') ? iso(d.notBefore) : undefined,
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

function deliveryOf(store: SandboxStore, idText: string): DeliveryListing {
  const id = Number(idText);
  const d = Number.isSafeInteger(id) ? store.getDelivery(id) : undefined;
  if (!d) throw notFound(`no delivery ${idText}`);
  return d;
}

/** Why a delivery cannot be cancelled now. */
function cannotCancel(d: DeliveryListing): string {
  if (d.status === 'delivered')
    return `delivery ${d.id} was delivered: there is nothing to cancel (emit the event again to send it anew)`;
  if (d.status === 'in_flight')
    return `delivery ${d.id} has an attempt in flight: cancel it once that attempt has its answer`;
  return `delivery ${d.id} is already ${d.status}: it has no attempts left to cancel`;
}

/** Why a delivery cannot be retried now. */
function cannotRetry(d: DeliveryListing): string {
  if (d.status === 'delivered') return `delivery ${d.id} was delivered: emit the event again to send it anew`;
  if (d.waitingFor !== undefined)
    return `delivery ${d.id} waits for delivery ${d.waitingFor}: retry or cancel that one`;
  if (d.status === 'in_flight') return `delivery ${d.id} has an attempt in flight: wait for its answer`;
  return `delivery ${d.id} is held back by out-of-order chaos: it goes once a later event of its transaction has gone`;
}

export function registerDeliveries(
  app: FastifyInstance,
  deps: { store: SandboxStore; wakeDelivery: () => void },
): void {
  const { store } = deps;
  app.get<{ Querystring: Record<string, string | undefined> }>('/sandbox/deliveries', async (req) => {
    const q = req.query;
    const status = q.status;
    if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
      throw badRequest(`status must be one of ${DELIVERY_STATUSES.join(', ')}`);
    }
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw badRequest('limit must be an integer from 1 to 1000');
    const after = q.after === undefined ? undefined : Number(q.after);
    if (after !== undefined && !Number.isInteger(after)) throw badRequest('after must be a delivery id');
    const rows = store.listDeliveries({
      docvTransactionId: q.transaction,
      status: status as DeliveryStatus | undefined,
      limit,
      afterId: after,
    });
    return {
      deliveries: rows.map((d) => deliveryView(d, store)),
      counts: store.deliveryCounts(),
      next: rows.length === limit ? rows[rows.length - 1]!.id : undefined,
    };
  });

  app.get<{ Params: { id: string } }>('/sandbox/deliveries/:id', async (req) =>
    deliveryView(deliveryOf(store, req.params.id), store),
  );

  // No more attempts; the transaction's later deliveries stop waiting for this one.
  app.post<{ Params: { id: string } }>('/sandbox/deliveries/:id/cancel', async (req) => {
    const d = deliveryOf(store, req.params.id);
    if (!store.cancelDelivery(d.id, Date.now())) throw conflict(cannotCancel(store.getDelivery(d.id) ?? d));
    deps.wakeDelivery();
    return deliveryView(store.getDelivery(d.id)!, store);
  });

  // A final delivery (not a delivered one) goes again, or a pending one goes now: with the whole retry schedule ahead.
  app.post<{ Params: { id: string } }>('/sandbox/deliveries/:id/retry', async (req) => {
    const d = deliveryOf(store, req.params.id);
    if (d.waitingFor !== undefined || !store.retryDelivery(d.id, Date.now()))
      throw conflict(cannotRetry(store.getDelivery(d.id) ?? d));
    deps.wakeDelivery();
    return deliveryView(store.getDelivery(d.id)!, store);
  });
}
