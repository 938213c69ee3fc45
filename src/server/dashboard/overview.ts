import type { FastifyInstance } from 'fastify';
import { CANONICAL_DECISIONS } from '../../contract/index.js';
import { TRANSACTION_STATUSES } from '../../lifecycle/index.js';
import { DELIVERY_STATES, type DeliveryState, type ReceiptBucket } from '../../store/index.js';
import type { SourceSummary } from '../../compose/source-summary.js';
import type { Percentiles } from '../metrics.js';
import { barChart, type ChartBar } from './chart.js';
import { EMPTY, html, table, type Html } from './html.js';
import { formatNumber, layoutFor, queryString, sendPage, time } from './parts.js';
import { STATS_MAX_AGE_MS, StatsCache } from './stats-cache.js';
import type { DashboardOptions } from './routes.js';

const MINUTE = 60_000;
const QUARTER_HOUR = 15 * MINUTE;

/** Old links (`/dashboard?status=…`) filtered the transaction list that was the dashboard's first page. */
const LIST_PARAMETERS = ['status', 'decision', 'cursor'];

/**
 * `count` buckets of `bucketMs` ending at the bucket that holds `now`, filled from what the store
 * answered (a store may leave out empty buckets), as events per minute.
 */
export function chartBars(answer: ReceiptBucket[], end: number, bucketMs: number, count: number): ChartBar[] {
  const byStart = new Map(answer.map((b) => [Date.parse(b.start), b.events]));
  const perMinute = MINUTE / bucketMs;
  return Array.from({ length: count }, (_, i) => {
    const start = end - (count - i) * bucketMs;
    return { start: new Date(start).toISOString(), value: (byStart.get(start) ?? 0) * perMinute };
  });
}

function countLink(href: string, n: number, key: string): Html {
  return html`<a href="${href}" data-count="${key}">${formatNumber(n)}</a>`;
}

function byStatus(counts: Record<string, number>): Html {
  const statuses = [...new Set([...TRANSACTION_STATUSES, ...Object.keys(counts)])].filter((s) => (counts[s] ?? 0) > 0);
  const rows = statuses.map((s) => [
    html`${s}`,
    countLink(`/dashboard/transactions${queryString({ status: s })}`, counts[s] ?? 0, `status:${s}`),
  ]);
  return table(['status', 'transactions'], rows, { caption: 'Transactions by status', empty: 'No transaction yet.' });
}

function byDecision(counts: Record<string, number>): Html {
  const rows = [...CANONICAL_DECISIONS, 'none']
    .filter((d) => (counts[d] ?? 0) > 0)
    .map((d) => [
      html`${d === 'none' ? 'no decision yet' : d}`,
      // No filter lists "no decision": the number stands alone.
      d === 'none'
        ? html`<span data-count="decision:none">${formatNumber(counts[d] ?? 0)}</span>`
        : countLink(`/dashboard/transactions${queryString({ decision: d })}`, counts[d] ?? 0, `decision:${d}`),
    ]);
  return table(['decision', 'transactions'], rows, { caption: 'Transactions by decision', empty: 'No decision yet.' });
}

function byDestination(counts: Record<string, Record<DeliveryState, number>>): Html {
  const rows = Object.keys(counts)
    .sort()
    .map((name) => [
      html`<a class="mono" href="/dashboard/deliveries${queryString({ destination: name })}">${name}</a>`,
      ...DELIVERY_STATES.map((s) =>
        countLink(
          `/dashboard/deliveries${queryString({ destination: name, state: s })}`,
          counts[name]?.[s] ?? 0,
          `deliveries:${name}:${s}`,
        ),
      ),
    ]);
  return table(['destination', ...DELIVERY_STATES], rows, {
    caption: 'Deliveries by state, per destination',
    list: 'destination-counts',
    empty: 'No delivery yet.',
  });
}

/**
 * The sources, each with links to its filtered lists, when there are several. No count per source:
 * the store keeps none, and counting by walking (unindexed-walk.ts) on every overview costs too much.
 */
function bySource(sources: SourceSummary[] | undefined): Html {
  if (sources === undefined || sources.length < 2) return EMPTY;
  const rows = sources.map((s) => [
    html`<span class="mono">${s.name}</span>`,
    html`${s.environment ?? '-'}`,
    html`<span class="mono">${s.path}</span>`,
    html`<a href="/dashboard/transactions${queryString({ source: s.name })}">transactions</a> · <a href="/dashboard/deliveries${queryString({ source: s.name })}">deliveries</a> · <a href="/dashboard/quarantine${queryString({ source: s.name })}">quarantine</a>`,
  ]);
  return html`<h2>Sources</h2>${table(['source', 'environment', 'path', 'lists'], rows, { list: 'sources' })}`;
}

function ms(value: number): string {
  return value >= 100 ? `${formatNumber(Math.round(value))} ms` : `${value.toFixed(value >= 10 ? 0 : 1)} ms`;
}

function percentiles(caption: string, p: Percentiles | null | undefined, id: string): Html {
  if (p === null || p === undefined)
    return html`<div class="card" id="${id}"><h3>${caption}</h3><p class="muted">not measured in this process</p></div>`;
  return html`<div class="card" id="${id}"><h3>${caption}</h3><p><span class="big">${ms(p.p50)}</span> p50 · ${ms(p.p95)} p95 · ${ms(p.p99)} p99</p><p class="muted">over ${formatNumber(p.count)} since this process started, to within a histogram bucket</p></div>`;
}

/** `/dashboard`: the state of things at a glance, each number a link to its filtered list. */
export function overviewPage(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  const counts = new StatsCache(() => store.stats());
  app.get('/dashboard', async (request, reply) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    if (LIST_PARAMETERS.some((p) => typeof query[p] === 'string')) {
      const search = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      return reply.redirect(`/dashboard/transactions${search}`, 302);
    }
    const now = Date.now();
    const hourEnd = Math.ceil((now + 1) / MINUTE) * MINUTE;
    const dayEnd = Math.ceil((now + 1) / QUARTER_HOUR) * QUARTER_HOUR;
    const [{ stats, at: countedAt }, lastHour, lastDay, perDestination, latency] = await Promise.all([
      counts.get(),
      store.receiptCounts(new Date(hourEnd - 60 * MINUTE), new Date(hourEnd), MINUTE),
      store.receiptCounts(new Date(dayEnd - 96 * QUARTER_HOUR), new Date(dayEnd), QUARTER_HOUR),
      store.deliveryCountsByDestination(),
      options.metrics?.latencyPercentiles() ?? null,
    ]);
    const hourBars = chartBars(lastHour, hourEnd, MINUTE, 60);
    const dayBars = chartBars(lastDay, dayEnd, QUARTER_HOUR, 96);
    const hourTotal = lastHour.reduce((n, b) => n + b.events, 0);
    const dayTotal = lastDay.reduce((n, b) => n + b.events, 0);
    const totals = html`<div class="stats" id="totals">
<div class="card"><h2>Events</h2><p class="big">${countLink('/dashboard/events', stats.events, 'events')}</p></div>
<div class="card"><h2>Transactions</h2><p class="big">${countLink('/dashboard/transactions', stats.transactions, 'transactions')}</p></div>
<div class="card"><h2>Dead deliveries</h2><p class="big">${countLink('/dashboard/deliveries?state=dead', stats.deliveries.dead, 'deliveries:dead')}</p><p class="muted">gave up; retry or replay them</p></div>
<div class="card"><h2>Failing deliveries</h2><p class="big">${countLink('/dashboard/deliveries?state=failed', stats.deliveries.failed, 'deliveries:failed')}</p><p class="muted">a retry is scheduled</p></div>
<div class="card"><h2>Quarantined</h2><p class="big">${countLink('/dashboard/quarantine', stats.quarantine, 'quarantine')}</p><p class="muted">refused bodies kept for inspection</p></div>
</div>`;
    const latencyCards = html`<h2>Latency</h2><div class="stats" id="latency">${percentiles('Acknowledgement latency', latency?.ack, 'ack-latency')}${percentiles('Delivery lag (receipt to delivered)', latency?.deliveryLag, 'delivery-lag')}</div>`;
    const charts = html`<h2>Events received</h2><div class="stats" id="charts">${barChart({
      id: 'chart-hour',
      title: 'Last hour, events per minute',
      unit: 'events per minute',
      bars: hourBars,
      note: `${formatNumber(hourTotal)} events in the hour`,
    })}${barChart({
      id: 'chart-day',
      title: 'Last day, events per minute (15-minute buckets)',
      unit: 'events per minute',
      bars: dayBars,
      note: `${formatNumber(dayTotal)} events in the day`,
    })}</div>`;
    const asOf = html`<p class="muted" id="counted-at">Counts as of ${time(new Date(countedAt).toISOString())} (read at most every ${STATS_MAX_AGE_MS / 1000} s).</p>`;
    const body = html`${totals}${asOf}${bySource(options.listSources?.())}<h2>Transactions</h2><div class="stats">${byStatus(stats.transactionsByStatus)}${byDecision(stats.transactionsByDecision ?? {})}</div>${charts}<h2>Deliveries</h2>${byDestination(perDestination)}${latencyCards}`;
    return sendPage(
      reply,
      'Overview',
      body,
      200,
      layoutFor(request, 'overview', { live: '/dashboard/live', adminToken: options.adminToken }),
    );
  });
}
