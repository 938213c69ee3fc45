/** HTML escaping for text and attribute values: everything shown comes from senders. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A tagged template that escapes every interpolation unless it is already `Html`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const rendered = Array.isArray(v)
      ? v.map((x) => (x instanceof Html ? x.text : escapeHtml(x))).join('')
      : v instanceof Html
        ? v.text
        : escapeHtml(v);
    out += rendered + strings[i + 1]!;
  });
  return new Html(out);
}

export const EMPTY = html``;

/** The sections of the dashboard, in the order of the navigation. */
export const SECTIONS = [
  { key: 'overview', href: '/dashboard', label: 'Overview' },
  { key: 'transactions', href: '/dashboard/transactions', label: 'Transactions' },
  { key: 'events', href: '/dashboard/events', label: 'Events' },
  { key: 'deliveries', href: '/dashboard/deliveries', label: 'Deliveries' },
  { key: 'destinations', href: '/dashboard/destinations', label: 'Destinations' },
  { key: 'quarantine', href: '/dashboard/quarantine', label: 'Quarantine' },
] as const;

export type Section = (typeof SECTIONS)[number]['key'];

/** What a page may add around its body; every field is optional so a bare `layout(title, body)` still works. */
export interface LayoutOptions {
  /** Highlighted in the navigation (aria-current). */
  section?: Section | undefined;
  /** A message from an action (`?done=` / `?error=`), shown in a banner. */
  banner?: { kind: 'done' | 'error'; message: string } | undefined;
  /** The session's CSRF token when a sign-out button belongs on the page (signed in with the admin token). */
  signOutCsrf?: string | undefined;
  /** The live stream this page follows (`/dashboard/live?…`): the client script opens it. */
  live?: string | undefined;
}

function navigation(section: Section | undefined): Html {
  return html`<nav aria-label="Dashboard sections"><ul>${SECTIONS.map(
    (s) => html`<li><a href="${s.href}"${s.key === section ? html` aria-current="page"` : EMPTY}>${s.label}</a></li>`,
  )}</ul></nav>`;
}

function signOut(csrf: string | undefined): Html {
  if (csrf === undefined) return EMPTY;
  return html`<form class="sign-out" method="post" action="/dashboard/logout"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" id="sign-out">Sign out</button></form>`;
}

function banner(value: LayoutOptions['banner']): Html {
  if (!value) return EMPTY;
  const role = value.kind === 'error' ? 'alert' : 'status';
  return html`<p id="banner" class="banner ${value.kind}" role="${role}" data-banner="${value.kind}">${value.message}</p>`;
}

/**
 * The live controls start hidden: without the client script there is nothing to pause. The
 * script shows them once its stream is open.
 */
function liveControls(live: string | undefined): Html {
  if (live === undefined) return EMPTY;
  return html`<div class="live-controls" id="live-controls" hidden><button type="button" data-live-toggle aria-pressed="false">Pause live updates</button> <span data-live-status role="status" aria-live="polite"></span> <button type="button" data-live-show hidden></button></div>`;
}

export function layout(title: string, body: Html, options: LayoutOptions = {}): string {
  const live = options.live === undefined ? EMPTY : html` data-live="${options.live}"`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title} · docv-webhooks</title>
<link rel="stylesheet" href="/dashboard/style.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/dashboard">docv-webhooks</a>${navigation(options.section)}${signOut(options.signOutCsrf)}</header>
<main id="main" tabindex="-1"${live}>
${banner(options.banner)}
<h1>${title}</h1>
${liveControls(options.live)}
${body}
</main>
</body>
</html>`.text;
}

/** A table row: its cells, and optionally a stable id and data attributes (for the live updates and browser tests). */
export interface TableRow {
  cells: Html[];
  /** `data-id`: the row's thing (transaction id, event id…), so a live update replaces it instead of adding a second. */
  id?: string | undefined;
  className?: string | undefined;
}

/** One row; its cells carry their column's name (`data-label`), which the narrow layout shows in front of each value. */
export function tableRow(columns: readonly string[], row: TableRow | Html[]): Html {
  const r = Array.isArray(row) ? { cells: row } : row;
  const id = r.id === undefined ? EMPTY : html` data-id="${r.id}"`;
  const cls = r.className === undefined ? EMPTY : html` class="${r.className}"`;
  return html`<tr${id}${cls}>${r.cells.map((cell, i) => html`<td data-label="${columns[i] ?? ''}">${cell}</td>`)}</tr>`;
}

export interface TableOptions {
  /** `data-list` of the table (`transactions`, `events`, `deliveries`…). */
  list?: string | undefined;
  /** Live updates may insert rows at the top (the unfiltered first page of a list). */
  liveInsert?: boolean | undefined;
  caption?: string | undefined;
  empty?: string | undefined;
}

/**
 * A table that becomes a stack of cards on narrow screens (style.ts). It is always rendered, empty
 * or not, so a live update has a body to insert into.
 */
export function table(columns: readonly string[], rows: Array<TableRow | Html[]>, options: TableOptions = {}): Html {
  const list = options.list === undefined ? EMPTY : html` data-list="${options.list}"`;
  const rowsOf =
    options.list === undefined
      ? EMPTY
      : html` data-live-rows="${options.list}" data-live-insert="${options.liveInsert === true ? 'true' : 'false'}"`;
  const caption = options.caption === undefined ? EMPTY : html`<caption>${options.caption}</caption>`;
  const body =
    rows.length === 0
      ? html`<tr class="empty-row"><td colspan="${columns.length}">${options.empty ?? 'nothing here yet'}</td></tr>`
      : rows.map((r) => tableRow(columns, r));
  return html`<div class="table-wrap"><table${list}>${caption}<thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead><tbody${rowsOf}>${body}</tbody></table></div>`;
}
