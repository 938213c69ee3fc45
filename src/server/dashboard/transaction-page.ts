import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DECISION_FETCH_DESTINATION, type OutboxDelivery, type TransactionView } from '../../store/index.js';
import { deliveryColumns, deliveryRow } from './delivery-rows.js';
import { EMPTY, html, table, type Html } from './html.js';
import { actionForm, badge, layoutFor, sendPage, shortId, time, transactionHref } from './parts.js';
import { payloadBlock } from './payload-view.js';
import { PageQuery } from './query.js';
import type { DashboardOptions } from './routes.js';
import { goneWords } from '../admin-retention-routes.js';
import { inEventTimeOrder, outOfOrderEvents, timelineItem } from './timeline.js';
import { ANOMALY_EXPLANATIONS } from './words.js';

/** Deliveries shown on a transaction's page (a transaction has a few per destination; more is a replay storm). */
const MAX_DELIVERIES = 200;

function facts(view: TransactionView): Html {
  const source =
    view.decisionSource === 'api'
      ? 'fetched from Socure (Get A DocV Transaction)'
      : view.decisionSource === 'event'
        ? 'from a webhook event'
        : null;
  const unavailable = view.decisionUnavailable
    ? html`<div class="anomaly">no decision could be fetched: ${view.decisionUnavailable.reason} (${time(view.decisionUnavailable.at)})</div>`
    : EMPTY;
  return html`<dl class="facts" id="transaction-facts">
<dt>status</dt><dd data-field="status">${badge(view.status)}</dd>
<dt>decision</dt><dd data-field="decision">${badge(view.decision)} ${source ? html`<span class="muted">${source}</span>` : EMPTY}${unavailable}</dd>
<dt>reason codes</dt><dd data-field="reason-codes" class="mono">${view.reasonCodes.join(', ') || '-'}</dd>
<dt>customer user id</dt><dd>${view.customerUserId === null ? '-' : shortId(view.customerUserId, `/dashboard/transactions?q=${encodeURIComponent(view.customerUserId)}`, { wide: true, label: 'customer user id' })}</dd>
<dt>environment</dt><dd>${view.environment ?? '-'}</dd>
<dt>RiskOS evaluation</dt><dd>${view.evaluationId ? shortId(view.evaluationId, undefined, { wide: true, label: 'evaluation id' }) : '-'}</dd>
<dt>events</dt><dd>${view.eventCount}</dd>
<dt>event time</dt><dd>${time(view.firstEventAt)} → ${time(view.lastEventAt)}</dd>
<dt>received</dt><dd>${time(view.firstReceivedAt)} → ${time(view.lastReceivedAt)}</dd>
</dl>`;
}

function anomalies(view: TransactionView): Html {
  if (view.anomalies.length === 0) return EMPTY;
  return html`<h2 id="anomalies-heading">Anomalies</h2><ul class="cards" id="anomalies" aria-labelledby="anomalies-heading">${view.anomalies.map(
    (a) =>
      html`<li class="card" data-anomaly="${a.code}"><p><span class="anomaly">${a.code}</span> ${a.message}</p><p class="muted">${ANOMALY_EXPLANATIONS[a.code] ?? ''}</p></li>`,
  )}</ul>`;
}

function replayForm(request: FastifyRequest, view: TransactionView, destinations: string[]): Html {
  if (destinations.length === 0) return html`<p class="muted">No destination to replay to.</p>`;
  const select = html`<label for="replay-destination">Destination <select id="replay-destination" name="destination" required>${destinations.map(
    (d) => html`<option>${d}</option>`,
  )}</select></label>`;
  return actionForm(request, `${transactionHref(view.docvTransactionId)}/replay`, 'Replay the transaction', {
    id: 'replay-form',
    inputs: select,
  });
}

/** Destinations a replay may name: the store's, and those this transaction's deliveries went to. */
function replayTargets(stored: string[], deliveries: OutboxDelivery[]): string[] {
  return [...new Set([...stored, ...deliveries.map((d) => d.destination)])]
    .filter((d) => d !== DECISION_FETCH_DESTINATION)
    .sort();
}

/** `/dashboard/transactions/{id}`: facts, anomalies in words, the timeline, the deliveries, retry and replay. */
export function transactionPage(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  app.get<{ Params: { id: string } }>('/dashboard/transactions/:id', async (request, reply) => {
    const id = request.params.id;
    const query = new PageQuery(request);
    const payloadOf = query.text('payload', 200);
    const [view, deliveries, destinations, payloadEvent] = await Promise.all([
      store.getTransaction(id),
      store.listDeliveries({ limit: MAX_DELIVERIES, docvTransactionId: id }),
      store.listDestinations(),
      payloadOf === undefined ? null : store.getEvent(payloadOf),
    ]);
    // Gone by retention or an erasure request: the tombstone says which, and when.
    const tombstone = view ? null : await store.getTombstone(id);
    if (tombstone)
      return sendPage(
        reply,
        'Removed',
        html`<p>Transaction ${id} was ${goneWords(tombstone)}.</p>`,
        404,
        layoutFor(request, 'transactions', { adminToken: options.adminToken }),
      );
    if (!view)
      return sendPage(
        reply,
        'Not found',
        html`<p>No transaction ${id}.</p><p><a href="/dashboard/transactions?q=${encodeURIComponent(id.slice(0, 256))}">Search for it</a></p>`,
        404,
        layoutFor(request, 'transactions', { adminToken: options.adminToken }),
      );
    const late = outOfOrderEvents(view.events);
    const timeline = inEventTimeOrder(view.events).map((e) =>
      timelineItem(e, {
        outOfOrder: late.has(e.eventId),
        payload:
          payloadEvent !== null && payloadEvent.eventId === e.eventId
            ? payloadBlock(payloadEvent, options.storeDocumentData === true)
            : undefined,
      }),
    );
    const rows = deliveries.items.map((d) => deliveryRow(request, d, false));
    const more =
      deliveries.nextCursor === null
        ? EMPTY
        : html`<p class="muted"><a href="/dashboard/deliveries?transaction=${encodeURIComponent(id)}">All deliveries of this transaction</a> (only the first ${MAX_DELIVERIES} are shown here).</p>`;
    const body = html`${facts(view)}${anomalies(view)}
<h2 id="timeline-heading">Timeline</h2>
<p class="muted">In event-time order; each event with the time it happened and the time it was received.</p>
<ol class="timeline" id="timeline" aria-labelledby="timeline-heading" data-live-rows="timeline" data-live-insert="bottom">${timeline}</ol>
<h2 id="deliveries-heading">Deliveries</h2>
${table(deliveryColumns(false), rows, { list: 'transaction-deliveries', empty: 'No delivery for this transaction.' })}${more}
<h2>Replay</h2>
<p class="muted">Queues the deliveries of this transaction’s events to that destination again, due now, whatever state they are in.</p>
${replayForm(
  request,
  view,
  replayTargets(
    destinations.map((d) => d.name),
    deliveries.items,
  ),
)}`;
    return sendPage(
      reply,
      view.docvTransactionId,
      body,
      200,
      layoutFor(request, 'transactions', {
        live: `/dashboard/live?transaction=${encodeURIComponent(view.docvTransactionId)}`,
        adminToken: options.adminToken,
      }),
    );
  });
}
