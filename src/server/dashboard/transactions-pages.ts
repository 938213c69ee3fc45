import type { FastifyInstance } from 'fastify';
import { CANONICAL_DECISIONS, DIALECTS } from '../../contract/index.js';
import { ANOMALY_CODES, TRANSACTION_STATUSES } from '../../lifecycle/index.js';
import {
  MAX_SEARCH_LENGTH,
  type BoundedCount,
  type Page,
  type TransactionFilter,
  type TransactionSummary,
} from '../../store/index.js';
import { EMPTY, html, table, type Html } from './html.js';
import {
  badge,
  dateTimeField,
  formatNumber,
  layoutFor,
  pager,
  selectField,
  sendPage,
  shortId,
  sourceField,
  textField,
  time,
  transactionHref,
  transactionRowId,
  withSource,
} from './parts.js';
import { ignoredNote, PageQuery, queryInstant, type ReadFilter } from './query.js';
import type { DashboardOptions } from './routes.js';
import { sourceChoices } from './sources.js';

/** Rows per page. */
const PAGE_SIZE = 50;
/** Counting stops here: "10,000+ transactions" reads as well as the exact number and costs a bounded scan. */
export const COUNT_CAP = 10_000;
const MAX_ENVIRONMENT_LENGTH = 64;

export const TRANSACTION_COLUMNS = [
  'transaction',
  'status',
  'decision',
  'customer',
  'events',
  'last activity',
  'anomalies',
] as const;

/**
 * One transaction in the list (also rendered for live updates, so both look the same). Its source
 * is a label beside the id (no column of its own: the table already fills a phone's width).
 */
export function transactionRow(t: TransactionSummary, manySources = false): { cells: Html[]; id: string } {
  return {
    id: transactionRowId(t.docvTransactionId, t.source),
    cells: [
      withSource(
        shortId(t.docvTransactionId, transactionHref(t.docvTransactionId, t.source, manySources), {
          wide: true,
          label: 'transaction id',
        }),
        t.source,
        manySources,
      ),
      badge(t.status),
      badge(t.decision),
      t.customerUserId === null ? html`-` : shortId(t.customerUserId, undefined, { label: 'customer user id' }),
      html`${formatNumber(t.eventCount)}`,
      time(t.lastReceivedAt),
      t.anomalies.length
        ? html`<span class="anomaly" title="${t.anomalies.map((a) => a.message).join('\n')}">${t.anomalies.map((a) => a.code).join(', ')}</span>`
        : html`-`,
    ],
  };
}

/**
 * "12 transactions", "10,000+ transactions", or, when the count examined only the most recent
 * (a dialect, environment or source filter: unindexed-walk.ts), "12 of the 20,000 most recent transactions".
 */
export function countText(count: BoundedCount, noun: string): string {
  const counted = `${formatNumber(count.count)}${count.capped ? '+' : ''}`;
  if (count.examined !== undefined) return `${counted} of the ${formatNumber(count.examined)} most recent ${noun}s`;
  return `${counted} ${noun}${count.count === 1 && !count.capped ? '' : 's'}`;
}

/**
 * What a page whose search stopped at the store's bound says (Page.partial): how far it looked,
 * and that the next page looks further. Null when the page is complete.
 */
export function searchedText(list: Page<TransactionSummary>, laterPage: boolean): string | null {
  if (!list.partial) return null;
  const examined = formatNumber(list.partial.examined);
  const which = laterPage ? `the next ${examined} transactions` : `the ${examined} most recent transactions`;
  const found = list.items.length === 0 ? `No match among ${which}` : `Matches among ${which}`;
  return `${found} — the next page searches older ones.`;
}

function readFilter(query: PageQuery): ReadFilter<TransactionFilter> {
  const source = query.source();
  const search = query.text('q', MAX_SEARCH_LENGTH);
  const status = query.oneOf('status', TRANSACTION_STATUSES);
  const decision = query.oneOf('decision', CANONICAL_DECISIONS);
  const anomaly = query.oneOf('anomaly', ['any', ...ANOMALY_CODES] as const);
  const dialect = query.oneOf('dialect', DIALECTS);
  const environment = query.text('environment', MAX_ENVIRONMENT_LENGTH);
  const from = query.instant('from');
  const to = query.instant('to');
  return {
    filter: { search, source, status, decision, anomaly, dialect, environment, from, to },
    values: {
      q: search,
      source,
      status,
      decision,
      anomaly,
      dialect,
      environment,
      from: queryInstant(from),
      to: queryInstant(to),
    },
    cursor: query.cursor(),
    query,
  };
}

function filterForm(f: ReadFilter<TransactionFilter>, sources: string[] | undefined): Html {
  const v = f.values;
  return html`<form class="filters" method="get" action="/dashboard/transactions" role="search" id="transaction-filters">
<label class="search" for="search">Search: transaction id, customer user id or event id<input id="search" name="q" type="search" value="${v.q ?? ''}" maxlength="${MAX_SEARCH_LENGTH}" autocomplete="off" spellcheck="false"></label>
${sourceField(v.source, sources)}
${selectField('status', TRANSACTION_STATUSES, v.status, 'Status')}
${selectField('decision', CANONICAL_DECISIONS, v.decision, 'Decision')}
${selectField('anomaly', ['any', ...ANOMALY_CODES], v.anomaly, 'Anomaly', 'all transactions')}
${selectField('dialect', DIALECTS, v.dialect, 'Dialect')}
${textField('environment', 'Environment', v.environment, html` placeholder="Sandbox, Production…" maxlength="${MAX_ENVIRONMENT_LENGTH}"`)}
${dateTimeField('from', 'Last activity from', f.filter.from)}
${dateTimeField('to', 'Last activity before', f.filter.to)}
<button type="submit" class="primary">Filter</button> <a href="/dashboard/transactions" class="button">Clear</a>
</form>`;
}

/** `/dashboard/transactions`: search, filters, newest activity first, a count that follows the filter. */
export function transactionsPages(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  app.get('/dashboard/transactions', async (request, reply) => {
    const f = readFilter(new PageQuery(request));
    const sources = sourceChoices(options);
    const [list, count] = await Promise.all([
      store.listTransactions({ ...f.filter, limit: PAGE_SIZE, cursor: f.cursor }),
      store.countTransactions(f.filter, COUNT_CAP),
    ]);
    const filtered = Object.values(f.values).some((v) => v !== undefined);
    // Unfiltered and exact, the count follows the live updates (data-count); a filtered one stays as counted.
    const countShown =
      filtered || count.capped
        ? html`${countText(count, 'transaction')}`
        : html`<span data-count="transactions">${formatNumber(count.count)}</span> transaction${count.count === 1 ? '' : 's'}`;
    const summary = html`<p class="actions"><span class="count" id="transaction-count">${countShown}</span>${filtered ? html`<span class="muted">match this filter</span>` : EMPTY}<span class="muted">· sorted by last activity, newest first</span></p>`;
    const rows = list.items.map((t) => transactionRow(t, sources.many));
    // A dialect, environment or source filter looks at so many transactions per page, and says so.
    const searched = searchedText(list, f.cursor !== undefined);
    const body = html`${filterForm(f, sources.names)}${ignoredNote(f.query)}${summary}${table(
      TRANSACTION_COLUMNS,
      rows,
      {
        list: 'transactions',
        // New activity goes on top only where it belongs there: the unfiltered first page.
        liveInsert: !filtered && f.cursor === undefined,
        empty: searched ?? (filtered ? 'No transaction matches this filter.' : 'No transaction yet.'),
      },
    )}${searched !== null && rows.length > 0 ? html`<p class="muted" id="search-bound">${searched}</p>` : EMPTY}${pager('/dashboard/transactions', f.values, list.nextCursor, f.cursor !== undefined)}`;
    return sendPage(
      reply,
      'Transactions',
      body,
      200,
      layoutFor(request, 'transactions', { live: '/dashboard/live', adminToken: options.adminToken }),
    );
  });
}
