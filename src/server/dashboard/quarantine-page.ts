import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { QuarantineEntry, QuarantineFilter } from '../../store/index.js';
import { MAX_REPROCESS_BATCH } from '../admin-quarantine-routes.js';
import { EMPTY, html, table, type Html } from './html.js';
import {
  actionForm,
  dateTimeField,
  eventHref,
  formatNumber,
  layoutFor,
  pager,
  queryString,
  selectField,
  sendPage,
  shortId,
  showsSource,
  sourceField,
  sourceLabel,
  textField,
  time,
} from './parts.js';
import { shownPayload } from './payload-view.js';
import { ignoredNote, PageQuery, queryInstant, type ReadFilter } from './query.js';
import type { DashboardOptions } from './routes.js';
import { sourceChoices } from './sources.js';
import { QUARANTINE_REASONS, quarantineReasonInWords } from './words.js';

const PAGE_SIZE = 50;
/** Problem errors shown per row; a body breaking the contract everywhere lists the first ones. */
const MAX_ERRORS = 20;

function readFilter(query: PageQuery): ReadFilter<QuarantineFilter> {
  const source = query.source();
  const reason = query.text('reason', 64);
  const status = query.integer('status', 100, 599);
  const reprocessed = query.flag('reprocessed');
  const from = query.instant('from');
  const to = query.instant('to');
  return {
    filter: { source, reason, status, reprocessed, from, to },
    values: {
      source,
      reason,
      status: status === undefined ? undefined : String(status),
      reprocessed: reprocessed === undefined ? undefined : String(reprocessed),
      from: queryInstant(from),
      to: queryInstant(to),
    },
    cursor: query.cursor(),
    query,
  };
}

function filterForm(f: ReadFilter<QuarantineFilter>, sources: string[] | undefined): Html {
  const v = f.values;
  const reasons = [...new Set([...Object.keys(QUARANTINE_REASONS), ...(v.reason ? [v.reason] : [])])];
  return html`<form class="filters" method="get" action="/dashboard/quarantine" id="quarantine-filters">
${sourceField(v.source, sources)}
${selectField('reason', reasons, v.reason, 'Reason')}
${textField('status', 'HTTP status', v.status, html` inputmode="numeric" pattern="[1-5][0-9][0-9]" maxlength="3"`)}
<label for="f-reprocessed">Reprocessed<select id="f-reprocessed" name="reprocessed"><option value="">any</option><option value="true"${v.reprocessed === 'true' ? html` selected` : EMPTY}>yes</option><option value="false"${v.reprocessed === 'false' ? html` selected` : EMPTY}>no</option></select></label>
${dateTimeField('from', 'Received from', f.filter.from)}
${dateTimeField('to', 'Received before', f.filter.to)}
<button type="submit" class="primary">Filter</button> <a href="/dashboard/quarantine" class="button">Clear</a>
</form>`;
}

/** The `errors` of the problem the sender got (RFC 9457 with `errors: [{path, message}]`), and its `detail`. */
function problemOf(detail: unknown): { detail: string | null; errors: Array<{ path: string; message: string }> } {
  if (detail === null || typeof detail !== 'object') return { detail: null, errors: [] };
  const d = detail as { detail?: unknown; errors?: unknown };
  const errors = Array.isArray(d.errors)
    ? d.errors
        .filter((e): e is { path?: unknown; message?: unknown } => e !== null && typeof e === 'object')
        .map((e) => ({ path: String(e.path ?? ''), message: String(e.message ?? '') }))
    : [];
  return { detail: typeof d.detail === 'string' ? d.detail : null, errors };
}

function bodyBlock(entry: QuarantineEntry, storeDocumentData: boolean): Html {
  let text = entry.body;
  let masked = false;
  if (!storeDocumentData) {
    try {
      const shown = shownPayload(JSON.parse(entry.body), false);
      if (shown.masked) ({ text, masked } = { text: shown.text, masked: true });
    } catch {
      // Not JSON (that may be why it is here): shown as it came.
    }
  }
  const size = `${formatNumber(entry.bodySize)} bytes${entry.bodyTruncated ? ', truncated to what was read' : ''}`;
  return html`<details><summary>Body (${size})</summary>${masked ? html`<p class="muted" data-masked="true">Personal data is masked.</p>` : EMPTY}<pre tabindex="0">${text}</pre></details>`;
}

function headersBlock(headers: Record<string, string>): Html {
  const rows = Object.keys(headers)
    .sort()
    .map((name) => [html`<span class="mono">${name}</span>`, html`<span class="mono">${headers[name]}</span>`]);
  return html`<details><summary>Headers (without credentials)</summary>${table(['header', 'value'], rows)}</details>`;
}

function reprocessedLine(entry: QuarantineEntry): Html {
  const r = entry.reprocessed;
  if (r === null) return html`<p class="muted" data-reprocessed="false">Not reprocessed.</p>`;
  const event = r.eventId === null ? EMPTY : html` as event <a href="${eventHref(r.eventId)}">${r.eventId}</a>`;
  return html`<p data-reprocessed="${r.outcome}">Reprocessed ${time(r.at)}: <strong>${r.outcome}</strong> (HTTP ${r.status})${event}.</p>`;
}

function entryCard(
  request: FastifyRequest,
  entry: QuarantineEntry,
  storeDocumentData: boolean,
  manySources: boolean,
): Html {
  const problem = problemOf(entry.detail);
  const errors =
    problem.errors.length === 0
      ? EMPTY
      : html`<ul class="errors">${problem.errors.slice(0, MAX_ERRORS).map((e) => html`<li><code>${e.path || '/'}</code>: ${e.message}</li>`)}${problem.errors.length > MAX_ERRORS ? html`<li class="muted">and ${problem.errors.length - MAX_ERRORS} more</li>` : EMPTY}</ul>`;
  const reprocess = entry.bodyTruncated
    ? html`<p class="muted">The body was cut at the size limit: it cannot be reprocessed.</p>`
    : actionForm(request, `/dashboard/quarantine/${encodeURIComponent(entry.quarantineId)}/reprocess`, 'Reprocess', {
        buttonAttributes: html` data-reprocess="${entry.quarantineId}" aria-label="Reprocess ${entry.quarantineId}"`,
      });
  return html`<li class="card" id="q-${entry.quarantineId}" data-quarantine-id="${entry.quarantineId}">
<h2>${time(entry.receivedAt)} · HTTP ${entry.status} · <span class="badge">${entry.reason}</span>${showsSource(entry.source, manySources) ? html` ${sourceLabel(entry.source)}` : EMPTY}</h2>
<p data-reason-words>${quarantineReasonInWords(entry.reason)}</p>
${problem.detail === null ? EMPTY : html`<p><span class="error">${problem.detail}</span></p>`}${errors}
<p class="muted">${shortId(entry.quarantineId, undefined, { label: 'quarantine id' })}${entry.dialect ? html` · closest dialect ${entry.dialect}` : EMPTY}</p>
${reprocessedLine(entry)}${bodyBlock(entry, storeDocumentData)}${headersBlock(entry.headers)}
<div class="actions">${reprocess}</div>
</li>`;
}

/** `/dashboard/quarantine`: why each body was refused, in words, with its errors; reprocess one or all filtered. */
export function quarantinePage(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  const layout = (request: FastifyRequest) => layoutFor(request, 'quarantine', { adminToken: options.adminToken });

  app.get('/dashboard/quarantine', async (request, reply) => {
    const f = readFilter(new PageQuery(request));
    const sources = sourceChoices(options);
    const list = await store.listQuarantine({ ...f.filter, limit: PAGE_SIZE, cursor: f.cursor });
    const cards = list.items.map((e) => entryCard(request, e, options.storeDocumentData === true, sources.many));
    const bulk =
      list.items.length === 0
        ? EMPTY
        : html`<p class="actions"><a class="button" id="reprocess-all" href="/dashboard/quarantine/reprocess${queryString(f.values)}">Reprocess all shown by this filter…</a></p>`;
    const body = html`<p class="muted">Authenticated deliveries that were refused, kept for inspection (the oldest are dropped first). Reprocessing runs a body through ingest again, as after an upgrade; an event already stored is not stored twice.</p>
${filterForm(f, sources.names)}${ignoredNote(f.query)}${bulk}${
      cards.length === 0
        ? html`<p class="empty">Nothing in quarantine${Object.values(f.values).some(Boolean) ? ' matches this filter' : ''}.</p>`
        : html`<ul class="cards" id="quarantine" data-list="quarantine">${cards}</ul>`
    }${pager('/dashboard/quarantine', f.values, list.nextCursor, f.cursor !== undefined)}`;
    return sendPage(reply, 'Quarantine', body, 200, layout(request));
  });

  app.get('/dashboard/quarantine/reprocess', async (request, reply) => {
    const f = readFilter(new PageQuery(request));
    // Counted up to MAX_REPROCESS_BATCH (one bulk reprocess's bound), reading no body.
    const { count, capped } = await store.countQuarantine(f.filter, MAX_REPROCESS_BATCH);
    const back = `/dashboard/quarantine${queryString(f.values)}`;
    const shown = `${formatNumber(count)}${capped ? '+' : ''}`;
    const body =
      count === 0
        ? html`<p id="reprocess-count" data-reprocess-count="0">Nothing in quarantine matches this filter.</p><p><a href="${back}">Back to the quarantine</a></p>`
        : html`${ignoredNote(f.query)}<p id="reprocess-count" data-reprocess-count="${count}">Reprocess <strong>${shown}</strong> quarantined bod${count === 1 ? 'y' : 'ies'}?${capped ? ` At most ${formatNumber(MAX_REPROCESS_BATCH)} are run at a time, newest first: run it again for the rest.` : ''} Bodies cut at the size limit are skipped.</p>
<div class="actions">${actionForm(request, '/dashboard/quarantine/reprocess', `Reprocess ${shown}`, {
            id: 'reprocess-confirm',
            returnTo: back,
            fields: {
              source: f.values.source,
              reason: f.values.reason,
              status: f.values.status,
              reprocessed: f.values.reprocessed,
              from: f.filter.from?.toISOString(),
              to: f.filter.to?.toISOString(),
            },
          })} <a href="${back}" class="button">Cancel</a></div>`;
    return sendPage(reply, 'Reprocess quarantined bodies', body, 200, layout(request));
  });
}
