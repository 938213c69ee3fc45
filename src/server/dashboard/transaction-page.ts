import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AmbiguousTransactionError,
  DECISION_FETCH_DESTINATION,
  type OutboxDelivery,
  type TransactionView,
} from '../../store/index.js';
import { deliveryColumns, deliveryRow } from './delivery-rows.js';
import { EMPTY, html, table, type Html } from './html.js';
import {
  actionForm,
  badge,
  layoutFor,
  queryString,
  sendPage,
  shortId,
  sourceLabel,
  time,
  transactionHref,
  transactionLiveHref,
  transactionPath,
} from './parts.js';
import { payloadBlock } from './payload-view.js';
import { PageQuery } from './query.js';
import type { DashboardOptions } from './routes.js';
import { sourceChoices } from './sources.js';
import { goneWords, underSource } from '../admin-retention-routes.js';
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
<dt>source</dt><dd data-field="source">${sourceLabel(view.source)}</dd>
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
  // The source goes with the form: the replay is of this source's transaction of the id.
  return actionForm(request, `${transactionPath(view.docvTransactionId)}/replay`, 'Replay the transaction', {
    id: 'replay-form',
    inputs: select,
    fields: { source: view.source },
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
    // Which source's transaction of this id: the link says (parts.ts transactionHref); without
    // it, the one source that has it, or a choice between several.
    const source = query.source();
    const sources = sourceChoices(options);
    const layout = layoutFor(request, 'transactions', { adminToken: options.adminToken });
    let view: TransactionView | null;
    try {
      view = await store.getTransaction(id, source);
    } catch (err) {
      if (!(err instanceof AmbiguousTransactionError)) throw err;
      return sendPage(reply, 'Several transactions', sourceChoice(request, id, err.sources), 200, layout);
    }
    // Gone by retention or an erasure request: the tombstone says which, and when.
    const tombstone = view ? null : await store.getTombstone(id, source);
    if (tombstone)
      return sendPage(
        reply,
        'Removed',
        html`<p>Transaction ${id}${underSource(tombstone.source)} was ${goneWords(tombstone)}.</p>`,
        404,
        layout,
      );
    if (!view)
      return sendPage(
        reply,
        'Not found',
        html`<p>No transaction ${id}${source === undefined ? '' : ` under source ${source}`}.</p><p><a href="/dashboard/transactions?q=${encodeURIComponent(id.slice(0, 256))}">Search for it</a></p>`,
        404,
        layout,
      );
    const [deliveries, destinations, payloadEvent] = await Promise.all([
      store.listDeliveries({ limit: MAX_DELIVERIES, docvTransactionId: id, source: view.source }),
      store.listDestinations(),
      payloadOf === undefined ? null : store.getEvent(payloadOf),
    ]);
    const late = outOfOrderEvents(view.events);
    const timeline = inEventTimeOrder(view.events).map((e) =>
      timelineItem(e, {
        outOfOrder: late.has(e.eventId),
        manySources: sources.many,
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
        : html`<p class="muted"><a href="/dashboard/deliveries${queryString({ transaction: id, source: view.source })}">All deliveries of this transaction</a> (only the first ${MAX_DELIVERIES} are shown here).</p>`;
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
        live: transactionLiveHref(view.docvTransactionId, view.source),
        adminToken: options.adminToken,
      }),
    );
  });
}

/**
 * An id opened without its source that several sources have: each is a transaction of its own,
 * so the page lists them to choose from (a link from a list always names the source; this is a
 * typed or pasted address).
 */
function sourceChoice(request: FastifyRequest, id: string, sources: string[]): Html {
  const payload = new PageQuery(request).text('payload', 200);
  return html`<p id="ambiguous-transaction">Transaction <span class="mono">${id}</span> exists under ${sources.length} sources; each is a transaction of its own. Choose one:</p>
<ul class="cards" id="transaction-sources">${sources.map(
    (s) =>
      html`<li class="card" data-source="${s}"><a href="${transactionHref(id, s, true)}${payload === undefined ? '' : `&payload=${encodeURIComponent(payload)}`}">${id}</a> ${sourceLabel(s)}</li>`,
  )}</ul>`;
}
