import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_SOURCE } from '../../contract/index.js';
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

/** A transaction's page without a query: where its forms post (`…/replay`). */
export function transactionPath(docvTransactionId: string): string {
  return `/dashboard/transactions/${encodeURIComponent(docvTransactionId)}`;
}

/**
 * A transaction's page. The same id under two sources is two transactions (issue 20), so a link
 * names its source when it is not the default one; on a receiver with several sources every link
 * does (`?source=default` too), since a bare id that two sources have opens the choice between
 * them. A single-source receiver's links stay as they were.
 */
export function transactionHref(
  docvTransactionId: string,
  source: string = DEFAULT_SOURCE,
  manySources = false,
): string {
  const path = transactionPath(docvTransactionId);
  return source === DEFAULT_SOURCE && !manySources ? path : `${path}?source=${encodeURIComponent(source)}`;
}

/** The live stream of one transaction's page (live.ts): its source named unless it is the default one. */
export function transactionLiveHref(docvTransactionId: string, source: string): string {
  const named = source === DEFAULT_SOURCE ? '' : `&source=${encodeURIComponent(source)}`;
  return `/dashboard/live?transaction=${encodeURIComponent(docvTransactionId)}${named}`;
}

/**
 * Whether a row shows its source: always on a receiver with several sources, else only for a
 * source other than the default one (rows of a source since removed from the configuration).
 * A single-source receiver's pages look as they did before sources existed.
 */
export function showsSource(source: string, manySources: boolean): boolean {
  return manySources || source !== DEFAULT_SOURCE;
}

/** The source as a small label beside an id (it wraps under it on a narrow screen). */
export function sourceLabel(source: string): Html {
  return html`<span class="source-label" data-source="${source}" title="source ${source}">${source}</span>`;
}

/**
 * The `data-id` of a transaction's row: its id, and for a source other than the default its source
 * too, so two sources' transactions of one id are two rows to the live updates.
 */
export function transactionRowId(docvTransactionId: string, source: string): string {
  return source === DEFAULT_SOURCE ? docvTransactionId : `${docvTransactionId} @${source}`;
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

/** An id with its source's label when the row shows one (showsSource): one element, so a narrow layout's grid keeps one cell. */
export function withSource(id: Html, source: string, manySources: boolean): Html {
  return showsSource(source, manySources) ? html`<span class="with-source">${id}${sourceLabel(source)}</span>` : id;
}

export function transactionCell(
  e: { docvTransactionId: string | null; source: string; test?: boolean },
  manySources = false,
): Html {
  if (e.docvTransactionId !== null)
    return withSource(
      shortId(e.docvTransactionId, transactionHref(e.docvTransactionId, e.source, manySources), {
        label: 'transaction id',
      }),
      e.source,
      manySources,
    );
  const none = html`<span class="empty">${e.test === true ? 'test event' : 'no transaction'}</span>`;
  return withSource(none, e.source, manySources);
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

/**
 * The source filter: a select of the receiver's sources when the dashboard knows them, else a
 * text field (a name as `sources list` shows it). A name the filter holds that is not among the
 * sources (one removed since) stays a choice, so the form says what the list shows.
 */
export function sourceField(current: string | undefined, sources: readonly string[] | undefined): Html {
  if (sources === undefined)
    return textField('source', 'Source', current, html` maxlength="64" spellcheck="false" autocomplete="off"`);
  const choices = current === undefined || sources.includes(current) ? sources : [...sources, current];
  return selectField('source', choices, current, 'Source');
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
