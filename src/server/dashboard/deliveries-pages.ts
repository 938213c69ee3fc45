import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  DECISION_FETCH_DESTINATION,
  DELIVERY_STATES,
  type DeliveryAttempt,
  type DeliveryFilter,
  type OutboxDeliveryView,
  type ReplayFilter,
  type Store,
} from '../../store/index.js';
import { deliveryColumns, deliveryRow, retryButton } from './delivery-rows.js';
import { EMPTY, html, table, type Html } from './html.js';
import {
  actionForm,
  dateTimeField,
  deliveryHref,
  deliveryStateBadge,
  eventHref,
  formatNumber,
  layoutFor,
  link,
  pager,
  queryString,
  selectField,
  sendPage,
  shortId,
  sourceField,
  textField,
  time,
  transactionCell,
  transactionLiveHref,
} from './parts.js';
import { ignoredNote, PageQuery, queryInstant, type ReadFilter } from './query.js';
import type { DashboardOptions } from './routes.js';
import { sourceChoices } from './sources.js';

const PAGE_SIZE = 100;
const MAX_ID_LENGTH = 256;
/** Longest response excerpt shown per attempt: enough to read an error page's first lines. */
const MAX_EXCERPT = 2_000;

function readFilter(query: PageQuery): ReadFilter<DeliveryFilter> {
  const source = query.source();
  const state = query.oneOf('state', DELIVERY_STATES);
  const destination = query.text('destination', 512);
  const docvTransactionId = query.text('transaction', MAX_ID_LENGTH);
  const eventId = query.text('event', MAX_ID_LENGTH);
  const from = query.instant('from');
  const to = query.instant('to');
  return {
    filter: { source, state, destination, docvTransactionId, eventId, from, to },
    values: {
      source,
      state,
      destination,
      transaction: docvTransactionId,
      event: eventId,
      from: queryInstant(from),
      to: queryInstant(to),
    },
    cursor: query.cursor(),
    query,
  };
}

/** The destinations a filter may choose: the store's, the decision fetch, and whatever the filter already names. */
async function destinationChoices(store: Store, current: string | undefined): Promise<string[]> {
  const names = new Set((await store.listDestinations()).map((d) => d.name));
  names.add(DECISION_FETCH_DESTINATION);
  if (current !== undefined) names.add(current);
  return [...names].sort();
}

function filterForm(f: ReadFilter<DeliveryFilter>, destinations: string[], sources: string[] | undefined): Html {
  const v = f.values;
  return html`<form class="filters" method="get" action="/dashboard/deliveries" id="delivery-filters">
${sourceField(v.source, sources)}
${selectField('state', DELIVERY_STATES, v.state, 'State')}
${selectField('destination', destinations, v.destination, 'Destination')}
${textField('transaction', 'Transaction id', v.transaction, html` maxlength="${MAX_ID_LENGTH}" spellcheck="false"`)}
${textField('event', 'Event id', v.event, html` maxlength="${MAX_ID_LENGTH}" spellcheck="false"`)}
${dateTimeField('from', 'Event received from', f.filter.from)}
${dateTimeField('to', 'Event received before', f.filter.to)}
<button type="submit" class="primary">Filter</button> <a href="/dashboard/deliveries" class="button">Clear</a>
</form>
<form class="filters" method="get" action="/dashboard/deliveries/find" id="delivery-find">
${textField('id', 'Open a delivery by id', undefined, html` maxlength="${MAX_ID_LENGTH}" spellcheck="false" required`)}
<button type="submit">Open</button>
</form>`;
}

/** The part of a list filter a bulk replay takes (action-routes.ts reads source, state, destination, from, to). */
function replayFilterOf(f: ReadFilter<DeliveryFilter>): ReplayFilter | null {
  const { source, state, destination, from, to } = f.filter;
  if ([source, state, destination, from, to].every((v) => v === undefined)) return null;
  return { source, state, destination, from, to };
}

/** The list's query values a bulk replay keeps (its confirmation page, and the way back). */
function replayValues(f: ReadFilter<DeliveryFilter>): Record<string, string | undefined> {
  const { source, state, destination, from, to } = f.values;
  return { source, state, destination, from, to };
}

function replayLink(f: ReadFilter<DeliveryFilter>): Html {
  if (f.filter.docvTransactionId !== undefined || f.filter.eventId !== undefined)
    return html`<p class="muted">A bulk replay takes source, state, destination and time filters only: to replay one transaction, use its page.</p>`;
  const filter = replayFilterOf(f);
  if (filter === null)
    return html`<p class="muted">Choose a source, state, destination or time range to replay a set of deliveries.</p>`;
  return html`<p class="actions"><a class="button" id="replay-these" href="/dashboard/deliveries/replay${queryString(replayValues(f))}">Replay these…</a></p>`;
}

/** The text a destination answered, as the forward records it: "HTTP 502: <body excerpt>". */
export function responseExcerpt(error: string | null): string | null {
  if (error === null) return null;
  const m = /^HTTP \d{3}: ([\s\S]*)$/.exec(error);
  return m ? m[1]!.slice(0, MAX_EXCERPT) : null;
}

function attemptsTable(view: OutboxDeliveryView): Html {
  if (view.history.length === 0) {
    const why =
      view.state === 'delivered'
        ? 'Delivered on its first attempt, read from the event log: no attempt record is kept for a delivery that succeeded at once.'
        : view.attempts === 0
          ? 'Not tried yet.'
          : 'No attempt record is kept for this delivery.';
    return html`<p class="muted" id="attempts-none">${why}</p>`;
  }
  const rows = view.history.map((a: DeliveryAttempt) => {
    const excerpt = responseExcerpt(a.error);
    return {
      id: String(a.attempt),
      cells: [
        html`${a.attempt}`,
        time(a.startedAt),
        html`<span class="badge ${a.outcome}">${a.outcome}</span>`,
        html`${a.status ?? '-'}`,
        html`${formatNumber(Math.round(a.durationMs))} ms`,
        a.error === null
          ? html`-`
          : html`<span class="error">${excerpt === null ? a.error : a.error.replace(/: [\s\S]*$/, '')}</span>`,
        excerpt === null || excerpt === '' ? html`-` : html`<pre tabindex="0">${excerpt}</pre>`,
      ],
    };
  });
  return table(['attempt', 'started', 'outcome', 'status', 'latency', 'error', 'response excerpt'], rows, {
    list: 'attempts',
  });
}

function deliveryFacts(view: OutboxDeliveryView, manySources: boolean): Html {
  return html`<dl class="facts" id="delivery-facts">
<dt>delivery</dt><dd>${shortId(view.deliveryId, undefined, { wide: true, label: 'delivery id' })}</dd>
<dt>state</dt><dd>${deliveryStateBadge(view)}</dd>
<dt>destination</dt><dd class="mono">${view.destination}</dd>
<dt>transaction</dt><dd>${transactionCell(view, manySources)}</dd>
<dt>source</dt><dd data-field="source">${view.source}</dd>
<dt>event</dt><dd>${link(eventHref(view.eventId), view.eventType)} ${shortId(view.eventId, undefined, { label: 'event id' })}</dd>
<dt>attempts</dt><dd data-delivery-attempts data-delivery-id="${view.deliveryId}">${view.attempts}</dd>
<dt>last status</dt><dd>${view.lastStatus ?? '-'}</dd>
<dt>last error</dt><dd>${view.lastError === null ? '-' : html`<span class="error">${view.lastError}</span>`}</dd>
<dt>created</dt><dd>${time(view.createdAt)}</dd>
<dt>last change</dt><dd>${time(view.updatedAt)}</dd>
<dt>delivered</dt><dd>${time(view.deliveredAt)}</dd>
<dt>next attempt</dt><dd>${time(view.nextAttemptAt)}</dd>
</dl>`;
}

function replayConfirmation(request: FastifyRequest, f: ReadFilter<DeliveryFilter>, count: number): Html {
  const filter = replayFilterOf(f)!;
  const described = [
    filter.source ? `source ${filter.source}` : null,
    filter.state ? `state ${filter.state}` : null,
    filter.destination ? `destination ${filter.destination}` : null,
    filter.from ? `events received from ${filter.from.toISOString()}` : null,
    filter.to ? `before ${filter.to.toISOString()}` : null,
  ].filter((s): s is string => s !== null);
  const back = `/dashboard/deliveries${queryString(replayValues(f))}`;
  if (count === 0)
    return html`<p id="replay-count" data-replay-count="0">No delivery matches ${described.join(', ')}: nothing to replay.</p><p><a href="${back}">Back to the deliveries</a></p>`;
  return html`<p id="replay-count" data-replay-count="${count}">Replay <strong>${formatNumber(count)}</strong> deliver${count === 1 ? 'y' : 'ies'} (${described.join(', ')})? Each is queued again, due now, with a fresh attempt budget.</p>
<div class="actions">${actionForm(
    request,
    '/dashboard/deliveries/replay',
    `Replay ${formatNumber(count)} deliver${count === 1 ? 'y' : 'ies'}`,
    {
      id: 'replay-confirm',
      returnTo: back,
      fields: {
        source: filter.source,
        state: filter.state,
        destination: filter.destination,
        from: filter.from?.toISOString(),
        to: filter.to?.toISOString(),
        expected: String(count),
      },
    },
  )} <a href="${back}" class="button">Cancel</a></div>`;
}

/** `/dashboard/deliveries`: the outbox filtered, one delivery with its attempts, and the bulk replay's confirmation. */
export function deliveriesPages(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  const layout = (request: FastifyRequest, live?: string) =>
    layoutFor(request, 'deliveries', { live, adminToken: options.adminToken });

  app.get('/dashboard/deliveries', async (request, reply) => {
    const f = readFilter(new PageQuery(request));
    const sources = sourceChoices(options);
    const [list, destinations] = await Promise.all([
      store.listDeliveries({ ...f.filter, limit: PAGE_SIZE, cursor: f.cursor }),
      destinationChoices(store, f.filter.destination),
    ]);
    const rows = list.items.map((d) => deliveryRow(request, d, true, sources.many));
    const body = html`${filterForm(f, destinations, sources.names)}${ignoredNote(f.query)}${replayLink(f)}${table(deliveryColumns(true), rows, { list: 'deliveries', empty: 'No delivery matches.' })}${pager('/dashboard/deliveries', f.values, list.nextCursor, f.cursor !== undefined)}`;
    return sendPage(reply, 'Deliveries', body, 200, layout(request, '/dashboard/live'));
  });

  // A GET form cannot put the id in the path: this one forwards it there.
  app.get('/dashboard/deliveries/find', async (request, reply) => {
    const id = new PageQuery(request).text('id', MAX_ID_LENGTH);
    return reply.redirect(id === undefined ? '/dashboard/deliveries' : deliveryHref(id), 303);
  });

  app.get('/dashboard/deliveries/replay', async (request, reply) => {
    const f = readFilter(new PageQuery(request));
    const filter = replayFilterOf(f);
    if (filter === null)
      return sendPage(
        reply,
        'Replay deliveries',
        html`<p>Choose a source, state, destination or time range on <a href="/dashboard/deliveries">the deliveries page</a> first: a replay of everything is not offered here.</p>`,
        400,
        layout(request),
      );
    const count = await store.countReplay(filter);
    return sendPage(
      reply,
      'Replay deliveries',
      html`${ignoredNote(f.query)}${replayConfirmation(request, f, count)}`,
      200,
      layout(request),
    );
  });

  app.get<{ Params: { deliveryId: string } }>('/dashboard/deliveries/:deliveryId', async (request, reply) => {
    const view = await store.getDelivery(request.params.deliveryId);
    if (!view)
      return sendPage(reply, 'Not found', html`<p>No delivery ${request.params.deliveryId}.</p>`, 404, layout(request));
    const retry = retryButton(request, view);
    const body = html`${deliveryFacts(view, sourceChoices(options).many)}${retry === EMPTY ? EMPTY : html`<div class="actions">${retry}</div>`}<h2 id="attempts-heading">Attempts</h2>${attemptsTable(view)}`;
    const live = view.docvTransactionId === null ? undefined : transactionLiveHref(view.docvTransactionId, view.source);
    return sendPage(reply, `Delivery ${view.deliveryId}`, body, 200, layout(request, live));
  });
}
