import type { FastifyInstance } from 'fastify';
import { canonicalFields, DIALECTS, isDialect, KNOWN_EVENT_TYPES } from '../../contract/index.js';
import { MAX_PAGE_LIMIT, type OutboxDelivery, type Store, type StoredEvent } from '../../store/index.js';
import { html, table, type Html } from './html.js';
import { badge, eventHref, link, pager, selectField, sendPage, transactionHref } from './parts.js';

/** Pages of the outbox searched for an event's deliveries: bounded, whatever the outbox holds. */
const MAX_DELIVERY_PAGES = 4;
/** Longer `eventType` filters are no event type anyone sends. */
const MAX_EVENT_TYPE_LENGTH = 100;

function transactionCell(e: { docvTransactionId: string | null; test: boolean }): Html {
  if (e.docvTransactionId !== null) return link(transactionHref(e.docvTransactionId), e.docvTransactionId);
  return html`<span class="empty">${e.test ? 'test event' : 'no transaction'}</span>`;
}

/**
 * The deliveries of one event. The store filters the outbox by transaction, not by event, so the
 * event's are picked out here; `complete` is false when the search stopped at its bound.
 */
async function deliveriesOf(store: Store, event: StoredEvent): Promise<{ items: OutboxDelivery[]; complete: boolean }> {
  // An event without a transaction has deliveries without one too: only the whole outbox has them.
  const byTransaction = event.docvTransactionId === null ? {} : { docvTransactionId: event.docvTransactionId };
  const items: OutboxDelivery[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_DELIVERY_PAGES; page++) {
    const list = await store.listDeliveries({ ...byTransaction, limit: MAX_PAGE_LIMIT, cursor });
    items.push(...list.items.filter((d) => d.eventId === event.eventId));
    if (list.nextCursor === null) return { items, complete: true };
    cursor = list.nextCursor;
  }
  return { items, complete: false };
}

function summary(e: StoredEvent): Html {
  const timeSource =
    e.eventTimeSource === 'receipt' ? 'the receipt time: the sender gave no event time' : 'as the sender gave it';
  return html`<dl>
<dt>event</dt><dd class="mono">${e.eventId}</dd>
<dt>transaction</dt><dd>${transactionCell(e)}</dd>
<dt>type</dt><dd>${badge(e.eventType)}</dd>
<dt>dialect</dt><dd>${e.dialect}</dd>
<dt>event time</dt><dd>${e.eventTime} (${timeSource})</dd>
<dt>received at</dt><dd>${e.receivedAt}</dd>
<dt>decision</dt><dd>${badge(e.decision)}</dd>
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
function canonical(e: StoredEvent): Html {
  const entries = Object.entries(canonicalFields(e.event)).filter(([, v]) => v !== undefined);
  return html`<dl>${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${fieldText(v)}</dd>`)}</dl>`;
}

function headersTable(headers: Record<string, string>): Html {
  const rows = Object.keys(headers)
    .sort()
    .map((name) => [html`<span class="mono">${name}</span>`, html`<span class="mono">${headers[name]}</span>`]);
  return html`<p class="empty">As received, without credentials (those were never stored).</p>${table(['header', 'value'], rows)}`;
}

function bodies(e: StoredEvent): Html {
  const removed = e.event.documentDataRemoved
    ? html`<p class="note">Document data (names, dates of birth, addresses, document numbers) was removed before the event was stored: the payload and the raw body hold a marker in its place, and the raw body is the cleaned payload written out again.</p>`
    : html``;
  return html`<h2>Payload</h2>${removed}<pre>${JSON.stringify(e.payload, null, 2)}</pre><h2>Raw body</h2><pre>${e.rawBody}</pre>`;
}

function deliveriesTable(found: { items: OutboxDelivery[]; complete: boolean }): Html {
  const rows = found.items.map((d) => [
    html`<span class="mono">${d.deliveryId}</span>`,
    html`${d.destination}`,
    badge(d.state),
    html`${d.attempts}`,
    html`${d.lastStatus ?? '-'}`,
    html`${d.nextAttemptAt ?? '-'}`,
    html`${d.lastError ?? '-'}`,
  ]);
  const bound = found.complete
    ? html``
    : html`<p class="empty">Only the ${MAX_DELIVERY_PAGES * MAX_PAGE_LIMIT} most recent deliveries were searched.</p>`;
  return html`${table(['delivery', 'destination', 'state', 'attempts', 'last status', 'next attempt', 'last error'], rows)}${bound}`;
}

interface EventListQuery {
  eventType?: string;
  dialect?: string;
  cursor?: string;
}

/** `/dashboard/events` (recent events, by type and dialect) and `/dashboard/events/{eventId}`. */
export function eventPages(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: EventListQuery }>('/dashboard/events', async (request, reply) => {
    const given = request.query.eventType;
    // The set of types is open: one nobody listed yet can still be filtered on.
    const eventType = given && given.length <= MAX_EVENT_TYPE_LENGTH ? given : undefined;
    const dialect = isDialect(request.query.dialect) ? request.query.dialect : undefined;
    const list = await store.listEvents({ limit: 50, cursor: request.query.cursor, eventType, dialect });
    const rows = list.items.map((e) => [
      html`<a class="mono" href="${eventHref(e.eventId)}">${e.eventId}</a>`,
      badge(e.eventType),
      transactionCell(e),
      html`${e.dialect}`,
      html`${e.eventTime}`,
      badge(e.decision),
      html`${e.receivedAt}`,
    ]);
    const types =
      eventType === undefined || (KNOWN_EVENT_TYPES as readonly string[]).includes(eventType)
        ? KNOWN_EVENT_TYPES
        : [...KNOWN_EVENT_TYPES, eventType];
    const filter = html`<form method="get" action="/dashboard/events">${selectField('eventType', types, eventType)}${selectField('dialect', DIALECTS, dialect)}<button>filter</button></form>`;
    const columns = ['event', 'type', 'transaction', 'dialect', 'eventTime', 'decision', 'received'];
    return sendPage(
      reply,
      'Events',
      html`${filter}${table(columns, rows)}${pager('/dashboard/events', { eventType, dialect }, list.nextCursor)}`,
    );
  });

  app.get<{ Params: { eventId: string } }>('/dashboard/events/:eventId', async (request, reply) => {
    const event = await store.getEvent(request.params.eventId);
    if (!event) return sendPage(reply, 'Not found', html`<p>No event ${request.params.eventId}.</p>`, 404);
    const found = await deliveriesOf(store, event);
    const body = html`${summary(event)}<h2>Canonical fields</h2>${canonical(event)}<h2>Headers</h2>${headersTable(event.headers)}${bodies(event)}<h2>Deliveries</h2>${deliveriesTable(found)}`;
    return sendPage(reply, event.eventId, body);
  });
}
