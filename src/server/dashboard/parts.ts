import type { FastifyReply, FastifyRequest } from 'fastify';
import { EMPTY, html, layout, type Html, type LayoutOptions, type Section } from './html.js';
import { csrfTokenOf } from './session.js';

/** Pieces every dashboard page is made of; everything interpolated is escaped by `html`. */

/** Pages may load only our own stylesheet, script and stream: nothing inline, nothing remote. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Longest action message shown in the banner (it comes back in the query, so anyone can craft one). */
const MAX_BANNER_LENGTH = 300;

export function badge(value: string | null | undefined): Html {
  return value ? html`<span class="badge ${value}">${value}</span>` : html`-`;
}

/** A delivery's state, marked so a live update (and a browser test) finds it. */
export function deliveryStateBadge(d: { deliveryId: string; state: string }): Html {
  return html`<span class="badge ${d.state}" data-delivery-state="${d.state}" data-delivery-id="${d.deliveryId}">${d.state}</span>`;
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

export function deliveryHref(deliveryId: string): string {
  return `/dashboard/deliveries/${encodeURIComponent(deliveryId)}`;
}

/**
 * A long id cut to fit with an ellipsis: the whole id in its title, and a copy button (shown by
 * the client script: without it there is nothing to copy with).
 */
export function shortId(id: string, href?: string, options: { wide?: boolean; label?: string } = {}): Html {
  const inner = href === undefined ? html`<span class="mono">${id}</span>` : html`<a href="${href}">${id}</a>`;
  const cls = options.wide === true ? 'id wide' : 'id';
  return html`<span class="${cls}" title="${id}">${inner}<button type="button" class="copy" data-copy="${id}" aria-label="Copy ${options.label ?? 'id'} ${id}" hidden>copy</button></span>`;
}

export function transactionCell(e: { docvTransactionId: string | null; test?: boolean }): Html {
  if (e.docvTransactionId !== null)
    return shortId(e.docvTransactionId, transactionHref(e.docvTransactionId), { label: 'transaction id' });
  return html`<span class="empty">${e.test === true ? 'test event' : 'no transaction'}</span>`;
}

/** A timestamp, shortened for reading (UTC, seconds), with the exact value kept in `datetime` and the title. */
export function time(iso: string | null | undefined): Html {
  if (!iso) return html`-`;
  const shown = iso.replace('T', ' ').replace(/\.\d+(?=Z$)/, '');
  return html`<time datetime="${iso}" title="${iso}">${shown}</time>`;
}

const NUMBER = new Intl.NumberFormat('en-US');
export function formatNumber(n: number): string {
  return NUMBER.format(n);
}

function fieldId(name: string): string {
  return `f-${name}`;
}

export function selectField(
  name: string,
  options: readonly string[],
  current: string | undefined,
  label: string = name,
  anyLabel = 'any',
): Html {
  return html`<label for="${fieldId(name)}">${label}<select id="${fieldId(name)}" name="${name}"><option value="">${anyLabel}</option>${options.map(
    (o) => html`<option${o === current ? html` selected` : EMPTY}>${o}</option>`,
  )}</select></label>`;
}

export function textField(name: string, label: string, value: string | undefined, extra: Html = EMPTY): Html {
  return html`<label for="${fieldId(name)}">${label}<input id="${fieldId(name)}" name="${name}" value="${value ?? ''}"${extra}></label>`;
}

/** A `datetime-local` input read as UTC (query.ts), which its label says. */
export function dateTimeField(name: string, label: string, value: Date | undefined): Html {
  const shown = value === undefined ? '' : value.toISOString().slice(0, 19);
  return html`<label for="${fieldId(name)}">${label} (UTC)<input type="datetime-local" step="1" id="${fieldId(name)}" name="${name}" value="${shown}"></label>`;
}

/** `?a=1&b=2` of the defined values, or '' when there are none. */
export function queryString(query: Record<string, string | undefined>): string {
  const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => Boolean(e[1])));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** "next page" (keyset cursor) and, once past the first page, "first page". */
export function pager(
  path: string,
  query: Record<string, string | undefined>,
  nextCursor: string | null,
  onLaterPage = false,
): Html {
  const first = onLaterPage ? html`<a href="${path + queryString(query)}" id="first-page">first page</a>` : EMPTY;
  const next = nextCursor
    ? html`<a href="${path + queryString({ ...query, cursor: nextCursor })}" id="next-page" rel="next">next page →</a>`
    : EMPTY;
  if (!onLaterPage && !nextCursor) return EMPTY;
  return html`<nav class="actions pager" aria-label="Pages">${first}${next}</nav>`;
}

/** The page's own address without an action's banner message: where a form's action returns to. */
export function returnToOf(request: FastifyRequest): string {
  const url = new URL(request.url, 'http://dashboard.invalid');
  url.searchParams.delete('done');
  url.searchParams.delete('error');
  return url.pathname + url.search;
}

/**
 * A form that POSTs to an action route (action-routes.ts): the session's CSRF token and the page to
 * come back to go with it; `fields` are hidden inputs (a filter, a count confirmed).
 */
export function actionForm(
  request: FastifyRequest,
  action: string,
  label: string,
  options: {
    fields?: Record<string, string | undefined>;
    className?: string;
    id?: string;
    /** Visible inputs placed before the button (a destination select…). */
    inputs?: Html;
    returnTo?: string;
    /** Attributes on the button (data-… for tests). */
    buttonAttributes?: Html;
  } = {},
): Html {
  const hidden = Object.entries(options.fields ?? {})
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  const id = options.id === undefined ? EMPTY : html` id="${options.id}"`;
  return html`<form class="inline" method="post" action="${action}"${id}><input type="hidden" name="_csrf" value="${csrfTokenOf(request)}"><input type="hidden" name="returnTo" value="${options.returnTo ?? returnToOf(request)}">${hidden}${options.inputs ?? EMPTY}<button type="submit" class="${options.className ?? 'primary'}"${options.buttonAttributes ?? EMPTY}>${label}</button></form>`;
}

function firstString(value: unknown): string | undefined {
  const v = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof v === 'string' ? v : undefined;
}

/** Session cookie set by the sign-in (session.ts): the sign-out button belongs only where there is one to end. */
const SESSION_COOKIE = /(?:^|;\s*)docv_session=/;

/** What the layout needs from the request: the section, the action's banner, the sign-out button. */
export function layoutFor(
  request: FastifyRequest,
  section: Section | undefined,
  extra: { live?: string | undefined; adminToken?: string | undefined } = {},
): LayoutOptions {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const error = firstString(query.error);
  const done = firstString(query.done);
  const banner =
    error !== undefined && error !== ''
      ? { kind: 'error' as const, message: error.slice(0, MAX_BANNER_LENGTH) }
      : done !== undefined && done !== ''
        ? { kind: 'done' as const, message: done.slice(0, MAX_BANNER_LENGTH) }
        : undefined;
  const signedIn = extra.adminToken !== undefined && SESSION_COOKIE.test(request.headers.cookie ?? '');
  return {
    section,
    banner,
    live: extra.live,
    signOutCsrf: signedIn ? csrfTokenOf(request) : undefined,
  };
}

export function sendPage(
  reply: FastifyReply,
  title: string,
  body: Html,
  status = 200,
  options: LayoutOptions = {},
): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', PAGE_CSP)
    .type('text/html; charset=utf-8')
    .send(layout(title, body, options));
}
