import type { FastifyReply } from 'fastify';
import { html, layout, type Html } from './html.js';

/** Pieces every dashboard page is made of; everything interpolated is escaped by `html`. */

export function badge(value: string | null | undefined): Html {
  return value ? html`<span class="badge ${value}">${value}</span>` : html`-`;
}

export function link(href: string, text: string): Html {
  return html`<a href="${href}">${text}</a>`;
}

export function transactionHref(docvTransactionId: string): string {
  return `/dashboard/transactions/${encodeURIComponent(docvTransactionId)}`;
}

/** The dashboard's own page of an event: the admin API's `/v1/events/{id}` does not take the browser's login. */
export function eventHref(eventId: string): string {
  return `/dashboard/events/${encodeURIComponent(eventId)}`;
}

export function selectField(name: string, options: readonly string[], current: string | undefined): Html {
  return html`<label>${name}<br><select name="${name}"><option value="">any</option>${options.map(
    (o) => html`<option${o === current ? html` selected` : html``}>${o}</option>`,
  )}</select></label>`;
}

export function pager(path: string, query: Record<string, string | undefined>, nextCursor: string | null): Html {
  if (!nextCursor) return html``;
  const params = new URLSearchParams(
    Object.entries({ ...query, cursor: nextCursor }).filter((e): e is [string, string] => Boolean(e[1])),
  );
  return html`<p><a href="${`${path}?${params}`}">next page →</a></p>`;
}

export function sendPage(reply: FastifyReply, title: string, body: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(layout(title, body));
}
