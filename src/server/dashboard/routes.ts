import type { FastifyInstance } from 'fastify';
import { CANONICAL_DECISIONS, isCanonicalDecision } from '../../contract/index.js';
import { TRANSACTION_STATUSES } from '../../lifecycle/index.js';
import { DELIVERY_STATES, type DeliveryState, type Store } from '../../store/index.js';
import { eventPages } from './event-pages.js';
import { html, layout, STYLE, table, type Html } from './html.js';
import { badge, eventHref, link, pager, selectField } from './parts.js';

/** Pages may load only our own stylesheet: no scripts, no frames, no remote anything. */
const PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Read-only pages for people: what arrived, where each transaction stands, what failed. */
export async function dashboardRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  const { store } = options;
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', PAGE_CSP);
    return payload;
  });
  const page = (title: string, body: Html) => layout(title, body);

  // Browsers ask for it on every page; an empty answer beats a 404 in their console.
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  app.get('/dashboard/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLE));

  app.get<{ Querystring: { status?: string; decision?: string; cursor?: string } }>(
    '/dashboard',
    async (request, reply) => {
      const status = TRANSACTION_STATUSES.includes(request.query.status ?? '') ? request.query.status : undefined;
      const decision = isCanonicalDecision(request.query.decision) ? request.query.decision : undefined;
      const [stats, list] = await Promise.all([
        store.stats(),
        store.listTransactions({ limit: 50, cursor: request.query.cursor, status, decision }),
      ]);
      const rows = list.items.map((t) => [
        link(`/dashboard/transactions/${encodeURIComponent(t.docvTransactionId)}`, t.docvTransactionId),
        badge(t.status),
        badge(t.decision),
        html`${t.customerUserId ?? '-'}`,
        html`${t.eventCount}`,
        html`${t.lastEventAt}`,
        t.anomalies.length ? html`<span class="anomaly">${t.anomalies.map((a) => a.code).join(', ')}</span>` : html`-`,
      ]);
      const summary = html`<p>${stats.events} events · ${stats.transactions} transactions · outbox: ${DELIVERY_STATES.map((s) => `${stats.deliveries[s]} ${s}`).join(', ')} · quarantine ${stats.quarantine}</p>`;
      const filter = html`<form method="get" action="/dashboard">${selectField('status', TRANSACTION_STATUSES, status)}${selectField('decision', CANONICAL_DECISIONS, decision)}<button>filter</button></form>`;
      return reply
        .type('text/html; charset=utf-8')
        .send(
          page(
            'Transactions',
            html`${summary}${filter}${table(['transaction', 'status', 'decision', 'customerUserId', 'events', 'last event', 'anomalies'], rows)}${pager('/dashboard', { status, decision }, list.nextCursor)}`,
          ),
        );
    },
  );

  app.get<{ Params: { id: string } }>('/dashboard/transactions/:id', async (request, reply) => {
    const view = await store.getTransaction(request.params.id);
    if (!view)
      return reply
        .code(404)
        .type('text/html; charset=utf-8')
        .send(page('Not found', html`<p>No transaction ${request.params.id}.</p>`));
    const deliveries = await store.listDeliveries({ limit: 200, docvTransactionId: view.docvTransactionId });
    const facts = html`<dl>
<dt>status</dt><dd>${badge(view.status)}</dd>
<dt>decision</dt><dd>${badge(view.decision)} ${view.decisionSource ? html`(from ${view.decisionSource})` : html``}</dd>
<dt>reason codes</dt><dd>${view.reasonCodes.join(', ') || '-'}</dd>
<dt>customerUserId</dt><dd>${view.customerUserId ?? '-'}</dd>
<dt>environment</dt><dd>${view.environment ?? '-'}</dd>
<dt>RiskOS evaluation</dt><dd>${view.evaluationId ?? '-'}</dd>
<dt>first / last event</dt><dd>${view.firstEventAt} → ${view.lastEventAt}</dd>
<dt>first / last received</dt><dd>${view.firstReceivedAt} → ${view.lastReceivedAt}</dd>
<dt>anomalies</dt><dd>${view.anomalies.length ? view.anomalies.map((a) => html`<div class="anomaly">${a.message}</div>`) : '-'}</dd>
</dl>`;
    const events = table(
      ['event', 'type', 'eventTime', 'decision', 'received'],
      view.events.map((e) => [
        html`<a class="mono" href="${eventHref(e.eventId)}">${e.eventId}</a>`,
        badge(e.eventType),
        html`${e.eventTime}`,
        badge(e.decision),
        html`${e.receivedAt}`,
      ]),
    );
    const outbox = table(
      ['delivery', 'destination', 'event', 'state', 'attempts', 'last error'],
      deliveries.items.map((d) => [
        html`<span class="mono">${d.deliveryId}</span>`,
        html`${d.destination}`,
        link(eventHref(d.eventId), d.eventType),
        badge(d.state),
        html`${d.attempts}`,
        html`${d.lastError ?? '-'}`,
      ]),
    );
    return reply
      .type('text/html; charset=utf-8')
      .send(page(view.docvTransactionId, html`${facts}<h2>Events</h2>${events}<h2>Deliveries</h2>${outbox}`));
  });

  app.get<{ Querystring: { state?: string; cursor?: string } }>('/dashboard/deliveries', async (request, reply) => {
    const state = (DELIVERY_STATES as readonly string[]).includes(request.query.state ?? '')
      ? (request.query.state as DeliveryState)
      : undefined;
    const list = await store.listDeliveries({ limit: 100, cursor: request.query.cursor, state });
    const rows = list.items.map((d) => [
      html`<span class="mono">${d.deliveryId}</span>`,
      html`${d.destination}`,
      d.docvTransactionId === null
        ? html`-`
        : link(`/dashboard/transactions/${encodeURIComponent(d.docvTransactionId)}`, d.docvTransactionId),
      link(eventHref(d.eventId), d.eventType),
      badge(d.state),
      html`${d.attempts}`,
      html`${d.nextAttemptAt ?? '-'}`,
      html`${d.lastError ?? '-'}`,
    ]);
    const filter = html`<form method="get" action="/dashboard/deliveries">${selectField('state', DELIVERY_STATES, state)}<button>filter</button></form>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        page(
          'Deliveries',
          html`${filter}${table(['delivery', 'destination', 'transaction', 'event', 'state', 'attempts', 'next attempt', 'last error'], rows)}${pager('/dashboard/deliveries', { state }, list.nextCursor)}`,
        ),
      );
  });

  app.get<{ Querystring: { cursor?: string } }>('/dashboard/quarantine', async (request, reply) => {
    const list = await store.listQuarantine({ limit: 50, cursor: request.query.cursor });
    const rows = list.items.map((q) => [
      html`${q.receivedAt}`,
      html`${q.status}`,
      html`${q.reason}`,
      html`<pre>${q.body.slice(0, 2000)}</pre>`,
    ]);
    return reply
      .type('text/html; charset=utf-8')
      .send(
        page(
          'Quarantine',
          html`<p>Authenticated deliveries that were rejected, kept for inspection (oldest dropped first).</p>${table(['received', 'status', 'reason', 'body'], rows)}${pager('/dashboard/quarantine', {}, list.nextCursor)}`,
        ),
      );
  });

  eventPages(app, store);
}
