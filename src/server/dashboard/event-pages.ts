import type { FastifyInstance } from 'fastify';
import { canonicalFields, DIALECTS, KNOWN_EVENT_TYPES } from '../../contract/index.js';
import type { StoredEvent, StoredEventSummary } from '../../store/index.js';
import { deliveryColumns, deliveryRow } from './delivery-rows.js';
import { EMPTY, html, table, type Html, type TableRow } from './html.js';
import {
  badge,
  eventHref,
  formatNumber,
  layoutFor,
  pager,
  PAGE_CSP,
  selectField,
  sendPage,
  shortId,
  sourceField,
  time,
  transactionCell,
} from './parts.js';
import { payloadBlock, rawBodyBlock } from './payload-view.js';
import { ignoredNote, PageQuery } from './query.js';
import type { DashboardOptions } from './routes.js';
import { sourceChoices } from './sources.js';
import { maskPersonalData } from './masking.js';

/** Deliveries listed on an event's page: one per destination, a few more after replays. */
const MAX_EVENT_DELIVERIES = 200;
/** Longer `eventType` filters are no event type anyone sends. */
const MAX_EVENT_TYPE_LENGTH = 100;

function summary(e: StoredEvent, manySources: boolean): Html {
  const timeSource =
    e.eventTimeSource === 'receipt' ? 'the receipt time: the sender gave no event time' : 'as the sender gave it';
  const duplicates =
    e.duplicates > 0
      ? html`<dt>arrived again</dt><dd data-mark="duplicates">${formatNumber(e.duplicates)} more time${e.duplicates === 1 ? '' : 's'} (last ${time(e.lastDuplicateAt)})</dd>`
      : EMPTY;
  return html`<dl class="facts" id="event-facts">
<dt>event</dt><dd class="mono">${e.eventId}</dd>
<dt>transaction</dt><dd>${transactionCell(e, manySources)}</dd>
<dt>source</dt><dd data-field="source">${e.source}</dd>
<dt>type</dt><dd>${badge(e.eventType)}</dd>
<dt>dialect</dt><dd>${e.dialect}</dd>
<dt>event time</dt><dd>${e.eventTime} (${timeSource})</dd>
<dt>received at</dt><dd>${e.receivedAt}</dd>
${duplicates}<dt>decision</dt><dd>${badge(e.decision)}</dd>
<dt>customerUserId</dt><dd>${e.customerUserId ?? '-'}</dd>
<dt>RiskOS evaluation</dt><dd>${e.evaluationId ?? '-'}</dd>
<dt>webhook id</dt><dd class="mono">${e.webhookId ?? '-'}</dd>
<dt>deduplication key</dt><dd class="mono">${e.dedupeKey}</dd>
</dl>`;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ');
  return JSON.stringify(value);
}

/** What every dialect folds into: the fields handlers and forwards read, without the payload. */
function canonical(e: StoredEvent, storeDocumentData: boolean): Html {
  const fields = canonicalFields(e.event) as Record<string, unknown>;
  const shown = storeDocumentData ? fields : (maskPersonalData(fields) as Record<string, unknown>);
  const entries = Object.entries(shown).filter(([, v]) => v !== undefined);
  return html`<dl class="facts">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${fieldText(v)}</dd>`)}</dl>`;
}

function headersTable(headers: Record<string, string>): Html {
  const rows = Object.keys(headers)
    .sort()
    .map((name) => [html`<span class="mono">${name}</span>`, html`<span class="mono">${headers[name]}</span>`]);
  return html`<p class="muted">As received, without credentials (those were never stored).</p>${table(['header', 'value'], rows)}`;
}

export const EVENT_COLUMNS = ['event', 'type', 'transaction', 'dialect', 'event time', 'decision', 'received'];

/** One event in the list (also rendered for live updates); its source is labelled beside its transaction. */
export function eventRow(e: StoredEventSummary, manySources = false): TableRow {
  return {
    id: e.eventId,
    cells: [
      shortId(e.eventId, eventHref(e.eventId), { label: 'event id' }),
      badge(e.eventType),
      transactionCell(e, manySources),
      html`${e.dialect}`,
      time(e.eventTime),
      badge(e.decision),
      time(e.receivedAt),
    ],
  };
}

/** `/dashboard/events` (recent events, by type and dialect), `/dashboard/events/{eventId}` and its payload fragment. */
export function eventPages(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  const storeDocumentData = options.storeDocumentData === true;

  app.get('/dashboard/events', async (request, reply) => {
    const query = new PageQuery(request);
    // The set of types is open: one nobody listed yet can still be filtered on.
    const eventType = query.text('eventType', MAX_EVENT_TYPE_LENGTH);
    const dialect = query.oneOf('dialect', DIALECTS);
    const source = query.source();
    const cursor = query.cursor();
    const sources = sourceChoices(options);
    const list = await store.listEvents({ limit: 50, cursor, eventType, dialect, source });
    const types =
      eventType === undefined || (KNOWN_EVENT_TYPES as readonly string[]).includes(eventType)
        ? KNOWN_EVENT_TYPES
        : [...KNOWN_EVENT_TYPES, eventType];
    const filter = html`<form class="filters" method="get" action="/dashboard/events" id="event-filters">${sourceField(source, sources.names)}${selectField('eventType', types, eventType, 'Event type')}${selectField('dialect', DIALECTS, dialect, 'Dialect')}<button type="submit" class="primary">Filter</button></form>`;
    const filtered = eventType !== undefined || dialect !== undefined || source !== undefined;
    const rows = list.items.map((e) => eventRow(e, sources.many));
    const body = html`${filter}${ignoredNote(query)}${table(EVENT_COLUMNS, rows, {
      list: 'events',
      liveInsert: !filtered && cursor === undefined,
      empty: filtered ? 'No event matches this filter.' : 'No event yet.',
    })}${pager('/dashboard/events', { source, eventType, dialect }, list.nextCursor, cursor !== undefined)}`;
    return sendPage(
      reply,
      'Events',
      body,
      200,
      layoutFor(request, 'events', { live: '/dashboard/live', adminToken: options.adminToken }),
    );
  });

  app.get<{ Params: { eventId: string } }>('/dashboard/events/:eventId', async (request, reply) => {
    const [event, deliveries] = await Promise.all([
      store.getEvent(request.params.eventId),
      store.listDeliveries({ eventId: request.params.eventId, limit: MAX_EVENT_DELIVERIES }),
    ]);
    const layout = layoutFor(request, 'events', { adminToken: options.adminToken });
    if (!event) return sendPage(reply, 'Not found', html`<p>No event ${request.params.eventId}.</p>`, 404, layout);
    const more =
      deliveries.nextCursor === null
        ? EMPTY
        : html`<p class="muted"><a href="/dashboard/deliveries?event=${encodeURIComponent(event.eventId)}">All deliveries of this event</a></p>`;
    const body = html`${summary(event, sourceChoices(options).many)}<h2>Canonical fields</h2>${canonical(event, storeDocumentData)}<h2>Headers</h2>${headersTable(event.headers)}<h2>Payload</h2>${payloadBlock(event, storeDocumentData)}<h2>Raw body</h2>${rawBodyBlock(event, storeDocumentData)}<h2>Deliveries</h2>${table(
      deliveryColumns(false),
      deliveries.items.map((d) => deliveryRow(request, d, false)),
      { list: 'event-deliveries', empty: 'No delivery for this event.' },
    )}${more}`;
    return sendPage(reply, event.eventId, body, 200, layout);
  });

  // The timeline's payload on demand: a fragment the client script puts into the opened <details>.
  app.get<{ Params: { eventId: string } }>('/dashboard/events/:eventId/payload', async (request, reply) => {
    const event = await store.getEvent(request.params.eventId);
    reply.header('content-security-policy', PAGE_CSP).type('text/html; charset=utf-8');
    if (!event) return reply.code(404).send(html`<p>No event ${request.params.eventId}.</p>`.text);
    return reply.send(payloadBlock(event, storeDocumentData).text);
  });
}
