import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { LatencyRecorder } from './stats.js';
import { transactionIdFor } from './payloads.js';
import type { Row } from './report.js';
import {
  fillStore,
  MB,
  newStore,
  startReaderReceiver,
  stopAll,
  type BenchContext,
  type StoreKind,
} from './sections.js';
import type { RunningChild } from './servers.js';

/** Issue 19's goal: every console page answers within this, server side, with a million events stored. */
export const PAGE_GOAL_MS = 100;

export const DASHBOARD_LABEL = (store: StoreKind, events: number) =>
  `Dashboard pages, ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${events.toLocaleString('en-US')} events stored`;

interface PageCase {
  name: string;
  path: string;
}

/** GET through a receiver's admin surface with the bench's token; the body as text. */
async function get(pool: Pool, path: string, token: string): Promise<{ status: number; text: string }> {
  const res = await pool.request({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, text: await res.body.text() };
}

/**
 * The pages people open, with ids that exist in the filled store: the newest event, delivery and
 * transaction come from the admin API, an older transaction from the payload generator.
 */
async function pageCases(pool: Pool, token: string, runId: string, events: number): Promise<PageCase[]> {
  const newest = JSON.parse((await get(pool, '/v1/events?limit=1', token)).text) as {
    items: Array<{ eventId: string; docvTransactionId: string }>;
  };
  const event = newest.items[0];
  if (!event) throw new Error('the filled store lists no events');
  const deliveries = JSON.parse((await get(pool, '/v1/deliveries?limit=1', token)).text) as {
    items: Array<{ deliveryId: string }>;
  };
  // A transaction from the middle of the fill: the store has to find it, not the newest page.
  const older = transactionIdFor(runId, Math.floor(events / 6));
  const enc = encodeURIComponent;
  const cases: PageCase[] = [
    { name: 'overview', path: '/dashboard' },
    { name: 'transactions', path: '/dashboard/transactions' },
    {
      name: 'transactions ?status=VERIFICATION_COMPLETED',
      path: '/dashboard/transactions?status=VERIFICATION_COMPLETED',
    },
    { name: 'transactions ?decision=reject', path: '/dashboard/transactions?decision=reject' },
    { name: 'transactions ?anomaly=any', path: '/dashboard/transactions?anomaly=any' },
    { name: 'transactions ?dialect=asyncapi', path: '/dashboard/transactions?dialect=asyncapi' },
    { name: 'transactions ?dialect=riskos (none)', path: '/dashboard/transactions?dialect=riskos' },
    { name: 'search: transaction id', path: `/dashboard/transactions?q=${enc(older)}` },
    { name: 'search: id prefix', path: `/dashboard/transactions?q=${enc(older.slice(0, -3))}` },
    { name: 'search: customer', path: `/dashboard/transactions?q=${enc('cust-4242')}` },
    { name: 'search: event id', path: `/dashboard/transactions?q=${enc(event.eventId)}` },
    { name: 'transaction page (older)', path: `/dashboard/transactions/${enc(older)}` },
    { name: 'events', path: '/dashboard/events' },
    { name: 'event page', path: `/dashboard/events/${enc(event.eventId)}` },
    { name: 'deliveries', path: '/dashboard/deliveries' },
    { name: 'deliveries ?state=pending', path: '/dashboard/deliveries?state=pending' },
    { name: 'replay confirmation ?state=dead', path: '/dashboard/deliveries/replay?state=dead' },
    { name: 'destinations', path: '/dashboard/destinations' },
    { name: 'quarantine', path: '/dashboard/quarantine' },
    { name: 'quarantine reprocess confirmation', path: '/dashboard/quarantine/reprocess?status=422' },
  ];
  const delivery = deliveries.items[0];
  if (delivery) cases.push({ name: 'delivery page', path: `/dashboard/deliveries/${enc(delivery.deliveryId)}` });
  return cases;
}

export interface PageTiming {
  name: string;
  status: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * A store filled in-process to `events` events (bench/fill-store.ts, one forward destination that
 * nothing drains: its deliveries wait in the log), a receiver on it without dispatch, then each
 * dashboard page requested one at a time: the time to first byte and body over loopback is the
 * server's render time plus well under a millisecond of HTTP.
 */
export async function dashboardSection(
  ctx: BenchContext,
  options: { store: StoreKind; events: number },
): Promise<{ row: Row; pages: PageTiming[] }> {
  const label = DASHBOARD_LABEL(options.store, options.events);
  ctx.log(`${label}: filling`);
  const name = `dashboard-${options.store}`;
  const store = newStore(ctx, options.store, name);
  const runId = randomBytes(4).toString('hex');
  let receiver: RunningChild | undefined;
  let pool: Pool | undefined;
  try {
    const { filled } = await fillStore(ctx, store, options.store, options.events, runId);
    receiver = await startReaderReceiver(ctx, name, store.url);
    pool = new Pool(receiver.url, { connections: 1, pipelining: 1 });
    const cases = await pageCases(pool, ctx.adminToken, runId, filled.events);
    const rounds = ctx.smoke ? 3 : 20;
    const pages: PageTiming[] = [];
    receiver.rss.reset();
    let measuredMs = 0;
    let measured = 0;
    for (const page of cases) {
      const latencies = new LatencyRecorder();
      let status = 0;
      for (let i = 0; i < 3 + rounds; i++) {
        const t = performance.now();
        const res = await get(pool, page.path, ctx.adminToken);
        const ms = performance.now() - t;
        status = res.status;
        if (res.status !== 200)
          throw new Error(`${page.name} (${page.path}) answered ${res.status}: ${res.text.slice(0, 300)}`);
        // The first requests warm the page's statements and the store's cache, as any page opened twice.
        if (i >= 3) {
          latencies.record(ms);
          measuredMs += ms;
          measured++;
        }
      }
      const s = latencies.summary();
      pages.push({ name: page.name, status, p50: s.p50, p99: s.p99, max: s.max });
    }
    const slowest = pages.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    const row: Row = {
      key: name,
      section: label,
      rate: measured / (measuredMs / 1000),
      rssMb: receiver.rss.peak() / MB,
      errors: 0,
      p50: Math.max(...pages.map((p) => p.p50)),
      p99: slowest.p99,
      max: Math.max(...pages.map((p) => p.max)),
      note:
        `pages/s one at a time; ${pages.length} pages, ${rounds} requests each after 3 to warm up, one at a time; slowest p99: ${slowest.name}; ` +
        `p50/p99 per page: ${pages.map((p) => `${p.name} ${p.p50.toFixed(1)}/${p.p99.toFixed(1)}`).join(', ')} ms`,
      figures: { slowestPageP99: slowest.p99 },
    };
    return { row, pages };
  } finally {
    await pool?.close().catch(() => undefined);
    await stopAll(receiver);
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}

/** One line per page, printed after the tables so each page's figure is readable on its own. */
export function formatPageTimings(store: StoreKind, pages: PageTiming[]): string {
  const width = Math.max(...pages.map((p) => p.name.length));
  const lines = pages.map(
    (p) =>
      `  ${p.name.padEnd(width)}  p50 ${p.p50.toFixed(1).padStart(6)} ms  p99 ${p.p99.toFixed(1).padStart(6)} ms  max ${p.max.toFixed(1).padStart(6)} ms${p.p99 > PAGE_GOAL_MS ? '  over the goal' : ''}`,
  );
  return `Dashboard pages (${store}), server render + loopback HTTP, goal p99 <= ${PAGE_GOAL_MS} ms:\n${lines.join('\n')}`;
}
