import { readFileSync } from 'node:fs';
import { Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASKED, maskPersonalData } from '../../src/server/dashboard/masking.js';
import { percentilesOf } from '../../src/server/metrics.js';
import { setUnindexedWalkForTests } from '../../src/store/unindexed-walk.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { DashboardBrowser } from './dashboard-browser.js';

const TOKEN = 'dash-token';
const SECRET = 'dashboard-hook-secret-1';
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A v5 envelope from test/fixtures, to be changed by the test. */
function v5Fixture(eventType: string): { event: Record<string, unknown> } {
  return JSON.parse(readFileSync(new URL(`../fixtures/socure-v5/${eventType}.json`, import.meta.url), 'utf8')) as {
    event: Record<string, unknown>;
  };
}

/** The distinct event pages a page links to. */
function eventLinks(page: string): string[] {
  return [...new Set([...page.matchAll(/href="(\/dashboard\/events\/evt_[^"/]+)"/g)].map((m) => m[1]!))];
}

/** The `data-id`s of a list's rows, in order. */
function rowIds(page: string, list: string): string[] {
  const at = page.indexOf(`data-list="${list}"`);
  if (at < 0) return [];
  const body = page.slice(at, page.indexOf('</table>', at));
  return [...body.matchAll(/<tr data-id="([^"]*)"/g)].map((m) => decode(m[1]!));
}

function decode(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The text of the element with this id (tags stripped), its nested elements of the same name included. */
function textOf(page: string, id: string): string {
  const open = new RegExp(`<(\\w+)[^>]*\\sid="${id}"[^>]*>`).exec(page);
  if (!open) return '';
  const tag = open[1]!;
  const token = new RegExp(`<${tag}[\\s>]|</${tag}>`, 'g');
  token.lastIndex = open.index + open[0].length;
  let depth = 1;
  for (let m = token.exec(page); m; m = token.exec(page)) {
    depth += m[0].startsWith('</') ? -1 : 1;
    if (depth === 0) return decode(page.slice(open.index + open[0].length, m.index).replace(/<[^>]+>/g, ''));
  }
  return '';
}

const backends = await testBackends();

describe.each(backends)('dashboard pages ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let sink: HttpSink;
  const hostileId = 'tx-<script>alert(1)</script>';
  const auth = { authorization: `Bearer ${TOKEN}` };
  const deliver = (body: unknown, headers: Record<string, string> = {}) =>
    r.deliver(body, { authorization: `Bearer ${SECRET}`, ...headers });
  const page = async (path: string) => {
    const res = await fetch(`${r.url}${path}`, { headers: auth, redirect: 'manual' });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  let orderEvents: { late: string; early: string };

  beforeAll(async () => {
    // Deliveries of transactions named tx-fail… fail with a body worth reading; the rest succeed.
    sink = await startSink((req, res) =>
      req.body.includes('tx-fail')
        ? res.writeHead(502, { 'content-type': 'text/html' }).end('upstream <b>down</b> for maintenance')
        : res.writeHead(200).end('ok'),
    );
    r = await startTestReceiver({
      adminToken: TOKEN,
      webhookSecrets: [SECRET],
      database: await backend.create(),
      dispatch: { forwardUrls: [`${sink.url}/docv`], retry: { schedule: [10], maxAttempts: 2, jitter: 0 }, pollMs: 20 },
    });
    const ok = async (body: unknown, headers: Record<string, string> = {}) => {
      const res = await deliver(body, headers);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return res.json.eventId as string;
    };
    await ok(docvEvent({ docvTransactionId: hostileId, customerUserId: '<img src=x onerror=alert(2)>' }));
    await ok(docvEvent({ docvTransactionId: 'tx-done', eventType: 'VERIFICATION_COMPLETED', decision: 'reject' }));
    await ok(
      docvEvent({
        docvTransactionId: 'tx-done',
        eventType: 'VERIFICATION_COMPLETED',
        decision: 'accept',
        eventTime: '2026-03-01T10:05:00Z',
      }),
    );
    // Received first but later in event time, then the earlier one; then the first again (a duplicate).
    const late = await ok(
      docvEvent({ docvTransactionId: 'tx-order', eventType: 'APP_OPENED', eventTime: '2026-03-01T10:10:00Z' }),
      { 'webhook-id': 'wh-order-1' },
    );
    const early = await ok(
      docvEvent({
        docvTransactionId: 'tx-order',
        eventType: 'APP_OPENED',
        eventTime: '2026-03-01T10:00:00Z',
      }),
    );
    orderEvents = { late, early };
    const again = await deliver(
      docvEvent({ docvTransactionId: 'tx-order', eventType: 'APP_OPENED', eventTime: '2026-03-01T10:10:00Z' }),
      { 'webhook-id': 'wh-order-1' },
    );
    expect(again.json.status).toBe('duplicate');
    await ok(
      docvEvent({
        docvTransactionId: 'tx-pii',
        customerUserId: 'cust-pii',
        applicant: { firstName: 'Janet', email: 'janet@example.com', dateOfBirth: '1990-01-02', note: 'keep me' },
      }),
    );
    await ok(docvEvent({ docvTransactionId: 'tx-search-1', customerUserId: 'cust-search-42' }));
    await ok(docvEvent({ docvTransactionId: 'tx-fail-1', customerUserId: 'cust-fail' }));
    // Quarantined: authenticated but refused (not the contract; not JSON).
    expect((await deliver({ eventType: 'APP_OPENED', docvTransactionId: 'tx-bad' })).status).toBe(422);
    expect((await deliver('not json at all <b>')).status).toBe(400);
    await waitFor(
      async () => (await r.store.listDeliveries({ limit: 10, state: 'dead' })).items.length > 0,
      'the failing delivery to be dead',
    );
  });
  afterAll(async () => {
    await r?.destroy();
    await sink?.close();
  });

  it('serves every page with the strict CSP, the stylesheet and script, and nothing inline', async () => {
    const dead = (await r.store.listDeliveries({ limit: 1, state: 'dead' })).items[0]!;
    const eventId = (await r.store.listEvents({ limit: 1 })).items[0]!.eventId;
    const paths = [
      '/dashboard',
      '/dashboard/transactions',
      '/dashboard/transactions/tx-done',
      '/dashboard/events',
      `/dashboard/events/${eventId}`,
      '/dashboard/deliveries',
      `/dashboard/deliveries/${encodeURIComponent(dead.deliveryId)}`,
      '/dashboard/deliveries/replay?state=dead',
      '/dashboard/destinations',
      '/dashboard/quarantine',
      '/dashboard/quarantine/reprocess',
    ];
    for (const path of paths) {
      const res = await page(path);
      expect(res.status, `${path}: ${res.text.slice(0, 500)}`).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.headers.get('content-security-policy'), path).toBe(PAGE_CSP);
      expect(res.text).toContain('<link rel="stylesheet" href="/dashboard/style.css">');
      expect(res.text).toContain('<script src="/dashboard/app.js" defer></script>');
      // Nothing the CSP would block: no inline script, style attribute or event handler.
      expect(res.text.match(/<script/g), path).toHaveLength(1);
      const tags = res.text.replace(/"[^"]*"/g, '""').match(/<[a-z][^>]*>/gi) ?? [];
      expect(
        tags.filter((t) => /\s(style|on[a-z]+)=/i.test(t)),
        path,
      ).toEqual([]);
      expect(res.text, path).not.toContain('javascript:');
      expect(res.text).toContain('<a class="skip" href="#main">');
    }
    const css = await fetch(`${r.url}/dashboard/style.css`);
    expect(css.headers.get('content-type')).toContain('text/css');
    expect(await css.text()).toContain('prefers-color-scheme: dark');
    const js = await fetch(`${r.url}/dashboard/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(await js.text()).toContain('EventSource');
  });

  it('sends old list links (/dashboard?status=…) to the transactions page', async () => {
    const res = await page('/dashboard?status=VERIFICATION_COMPLETED');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/dashboard/transactions?status=VERIFICATION_COMPLETED');
  });

  it('overview: counts linked to their lists, charts with text alternatives, deliveries per destination, latency', async () => {
    const res = await page('/dashboard');
    const text = res.text;
    const stats = await r.store.stats();
    expect(text).toContain(
      `<a href="/dashboard/transactions?status=VERIFICATION_COMPLETED" data-count="status:VERIFICATION_COMPLETED">${stats.transactionsByStatus.VERIFICATION_COMPLETED}</a>`,
    );
    expect(text).toContain(`<a href="/dashboard/transactions?decision=accept" data-count="decision:accept">1</a>`);
    expect(text).toContain(`<a href="/dashboard/deliveries?state=dead" data-count="deliveries:dead">1</a>`);
    expect(text).toContain(`<a href="/dashboard/quarantine" data-count="quarantine">2</a>`);
    expect(text).toContain(`data-count="events">${stats.events}</a>`);
    // Both charts: the last hour in 60 bars, the last day in 96, each with a title and a table.
    for (const [id, bars] of [
      ['chart-hour', 60],
      ['chart-day', 96],
    ] as const) {
      const svg = text.slice(text.indexOf(`id="${id}"`), text.indexOf('</svg>', text.indexOf(`id="${id}"`)));
      expect(svg.match(/<rect class="bar"/g)).toHaveLength(bars);
      expect(svg).toMatch(new RegExp(`<title id="${id}-title">[^<]*${bars} bars`));
    }
    expect(text).toMatch(/\d+ events in the hour/);
    expect(text).toContain('<summary>The numbers (table)</summary>');
    // Every event here was received just now: the last hour's total is all of them.
    expect(text).toContain(`${stats.events} events in the hour`);
    const destination = `forward:${new URL(sink.url).host}/docv`;
    expect(text).toContain(
      `href="/dashboard/deliveries?destination=${encodeURIComponent(destination)}&amp;state=dead" data-count="deliveries:${destination}:dead">1</a>`,
    );
    // This receiver acknowledged deliveries: measured; it also delivered some.
    expect(textOf(text, 'ack-latency')).toMatch(/ms p50/);
    expect(textOf(text, 'delivery-lag')).toMatch(/ms p50/);
    expect(text).toContain('data-live="/dashboard/live"');
  });

  it('transactions: search by transaction id, customer user id or event id, exact or prefix', async () => {
    const search = async (q: string) =>
      rowIds((await page(`/dashboard/transactions?q=${encodeURIComponent(q)}`)).text, 'transactions');
    expect(await search('tx-search-1')).toEqual(['tx-search-1']);
    expect(await search('tx-sear')).toEqual(['tx-search-1']);
    expect(await search('cust-search-42')).toEqual(['tx-search-1']);
    expect(await search('cust-sea')).toEqual(['tx-search-1']);
    expect(await search(orderEvents.early)).toEqual(['tx-order']);
    expect(await search('nothing-like-this')).toEqual([]);
    const res = await page('/dashboard/transactions?q=cust-sea');
    expect(textOf(res.text, 'transaction-count')).toBe('1 transaction');
    expect(res.text).toContain('match this filter');
    expect(res.text).toContain('value="cust-sea"');
    expect(res.text).toContain(
      '<label class="search" for="search">Search: transaction id, customer user id or event id<input id="search" name="q"',
    );
    // A filtered list is not where live rows go on top.
    expect(res.text).toContain('data-live-rows="transactions" data-live-insert="false"');
  });

  it('transactions: filters by status, decision, anomaly, dialect, environment and time; counts follow', async () => {
    const ids = async (query: string) => rowIds((await page(`/dashboard/transactions?${query}`)).text, 'transactions');
    expect(await ids('anomaly=conflicting_decisions')).toEqual(['tx-done']);
    expect(await ids('anomaly=any')).toEqual(['tx-done']);
    expect(await ids('decision=accept')).toEqual(['tx-done']);
    expect((await ids('status=WAITING_FOR_USER_TO_REDIRECT')).length).toBe(0);
    expect(await ids('status=APP_OPENED&q=tx-order')).toEqual(['tx-order']);
    expect(await ids('dialect=socure-v5')).toEqual([]);
    expect(await ids('environment=Nowhere')).toEqual([]);
    expect(await ids('from=2099-01-01T00:00')).toEqual([]);
    expect((await ids('to=2099-01-01T00:00')).length).toBeGreaterThan(3);
    const all = await page('/dashboard/transactions');
    const stats = await r.store.stats();
    expect(textOf(all.text, 'transaction-count')).toBe(`${stats.transactions} transactions`);
    expect(all.text).toContain('data-live-rows="transactions" data-live-insert="true"');
    // A bad value is left out, and the page says so instead of failing.
    const bad = await page('/dashboard/transactions?status=NOPE&from=yesterday');
    expect(bad.status).toBe(200);
    expect(textOf(bad.text, 'ignored-filters')).toContain('status: "NOPE" is not one of the choices');
    expect(textOf(bad.text, 'ignored-filters')).toContain('from: "yesterday" is not a date and time');
  });

  it('transactions: a dialect or environment filter says in words how far it searched, and the next page searches older ones', async () => {
    for (let i = 0; i < 5; i++) await deliver(docvEvent({ docvTransactionId: `tx-bound-${i}` }));
    // 3 instead of 20,000 transactions examined per page and count.
    const restore = setUnindexedWalkForTests(3);
    try {
      const none = await page('/dashboard/transactions?q=tx-bound-&environment=Nowhere');
      expect(rowIds(none.text, 'transactions')).toEqual([]);
      expect(none.text).toContain('No match among the 3 most recent transactions — the next page searches older ones.');
      expect(textOf(none.text, 'transaction-count')).toBe('0 of the 3 most recent transactions');
      const next = /href="([^"]+)" id="next-page"/.exec(none.text);
      expect(next?.[1]).toBeDefined();
      const older = await page(decode(next![1]!));
      expect(older.text).toContain('No transaction matches this filter.');
      expect(older.text).not.toContain('id="next-page"');

      const some = await page('/dashboard/transactions?q=tx-bound-&dialect=asyncapi');
      expect(rowIds(some.text, 'transactions')).toEqual(['tx-bound-4', 'tx-bound-3', 'tx-bound-2']);
      expect(textOf(some.text, 'search-bound')).toBe(
        'Matches among the 3 most recent transactions — the next page searches older ones.',
      );
      expect(textOf(some.text, 'transaction-count')).toBe('3 of the 3 most recent transactions');
      const rest = await page(decode(/href="([^"]+)" id="next-page"/.exec(some.text)![1]!));
      expect(rowIds(rest.text, 'transactions')).toEqual(['tx-bound-1', 'tx-bound-0']);
      expect(rest.text).not.toContain('id="search-bound"');
      // The admin API hands scripts the same page, the bound included.
      const api = JSON.parse((await page('/v1/transactions?q=tx-bound-&environment=Nowhere')).text) as {
        items: unknown[];
        nextCursor: string | null;
        partial?: { examined: number };
      };
      expect(api).toEqual({ items: [], nextCursor: expect.any(String), partial: { examined: 3 } });
    } finally {
      restore();
    }
    // At the store's own bound the same filter covers them all, and says nothing more.
    const all = await page('/dashboard/transactions?q=tx-bound-&dialect=asyncapi');
    expect(rowIds(all.text, 'transactions')).toHaveLength(5);
    expect(textOf(all.text, 'transaction-count')).toBe('5 transactions');
    expect(all.text).not.toContain('most recent transactions');
  });

  it('transactions: newest activity first, and stable pages of 50 with next and first page links', async () => {
    for (let i = 0; i < 53; i++)
      await deliver(docvEvent({ docvTransactionId: `tx-page-${String(i).padStart(2, '0')}` }));
    const first = await page('/dashboard/transactions?q=tx-page-');
    const firstIds = rowIds(first.text, 'transactions');
    expect(firstIds).toHaveLength(50);
    expect(firstIds[0]).toBe('tx-page-52');
    expect(textOf(first.text, 'transaction-count')).toBe('53 transactions');
    const next = /id="next-page" rel="next"|href="([^"]+)" id="next-page"/.exec(first.text);
    expect(next?.[1]).toBeDefined();
    const second = await page(decode(next![1]!));
    const secondIds = rowIds(second.text, 'transactions');
    expect(secondIds).toEqual(['tx-page-02', 'tx-page-01', 'tx-page-00']);
    expect(second.text).toContain('id="first-page"');
    expect(second.text).not.toContain('id="next-page"');
    // New activity on an old transaction puts it on top.
    await deliver(docvEvent({ docvTransactionId: 'tx-page-00', eventType: 'DOCUMENTS_UPLOADED' }));
    expect(rowIds((await page('/dashboard/transactions?q=tx-page-')).text, 'transactions')[0]).toBe('tx-page-00');
    expect(rowIds((await page('/dashboard/transactions')).text, 'transactions')[0]).toBe('tx-page-00');
  });

  it('transaction page: timeline in event-time order with out-of-order and duplicate arrivals marked', async () => {
    const res = await page('/dashboard/transactions/tx-order');
    expect(res.status).toBe(200);
    const timeline = res.text.slice(res.text.indexOf('id="timeline"'), res.text.indexOf('</ol>'));
    const order = [...timeline.matchAll(/<li id="event-([^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual([orderEvents.early, orderEvents.late]);
    const item = (id: string) =>
      timeline.slice(
        timeline.indexOf(`id="event-${id}"`),
        timeline.indexOf('</li>', timeline.indexOf(`id="event-${id}"`)),
      );
    expect(item(orderEvents.early)).toContain('data-mark="out-of-order"');
    expect(item(orderEvents.early)).toContain('arrived out of order');
    expect(item(orderEvents.late)).not.toContain('out-of-order');
    expect(item(orderEvents.late)).toMatch(/data-mark="duplicates">arrived 1 more time \(last <time datetime="[^"]+"/);
    expect(item(orderEvents.early)).toContain('event time <time datetime="2026-03-01T10:00:00Z"');
    expect(item(orderEvents.early)).toMatch(/received <time datetime="20\d\d-/);
    expect(res.text).toContain('data-live="/dashboard/live?transaction=tx-order"');
  });

  it('transaction page: decision with its source, anomalies in words, deliveries, retry and replay forms; 404', async () => {
    const done = await page('/dashboard/transactions/tx-done');
    expect(done.text).toContain('completions arrived with different decisions: accept, reject');
    expect(done.text).toContain('Completions of this transaction carried different decisions.');
    expect(done.text).toMatch(
      /data-field="decision"><span class="badge accept">accept<\/span> <span class="muted">from a webhook event/,
    );
    expect(eventLinks(done.text)).toHaveLength(2);
    const destination = `forward:${new URL(sink.url).host}/docv`;
    expect(done.text).toContain(
      '<form class="inline" method="post" action="/dashboard/transactions/tx-done/replay" id="replay-form">',
    );
    expect(done.text).toContain('<input type="hidden" name="returnTo" value="/dashboard/transactions/tx-done">');
    expect(done.text).toContain(`<option>${destination}</option>`);
    expect(done.text).toContain('<label for="replay-destination">Destination');
    expect(done.text).not.toContain('data-retry=');

    const failed = await page('/dashboard/transactions/tx-fail-1');
    const dead = (await r.store.listDeliveries({ limit: 5, docvTransactionId: 'tx-fail-1' })).items[0]!;
    expect(failed.text).toContain(`data-delivery-state="dead" data-delivery-id="${dead.deliveryId}"`);
    expect(failed.text).toContain(`action="/dashboard/deliveries/${encodeURIComponent(dead.deliveryId)}/retry"`);
    expect(failed.text).toContain(`data-retry="${dead.deliveryId}"`);
    expect(failed.text).toContain(`href="/dashboard/deliveries/${encodeURIComponent(dead.deliveryId)}"`);

    const missing = await page('/dashboard/transactions/nope%3Cb%3E');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('No transaction nope&lt;b&gt;.');
  });

  it('masks personal data in payloads unless document data is kept on purpose', async () => {
    const event = (await r.store.listEvents({ limit: 5, docvTransactionId: 'tx-pii' })).items[0]!;
    const shown = await page(`/dashboard/transactions/tx-pii?payload=${event.eventId}`);
    expect(shown.text).toContain('<details data-payload-src');
    expect(shown.text).toMatch(/ open data-loaded="true"><summary>Payload<\/summary>/);
    expect(shown.text).toContain('&quot;email&quot;: &quot;••• masked •••&quot;');
    expect(shown.text).toContain('&quot;note&quot;: &quot;keep me&quot;');
    expect(shown.text).not.toContain('janet@example.com');
    expect(shown.text).not.toContain('Janet');
    expect(shown.text).not.toContain('1990-01-02');
    // Without ?payload=, the payload is a link (and the script's fragment).
    const closed = await page('/dashboard/transactions/tx-pii');
    expect(closed.text).not.toContain('masked');
    expect(closed.text).toContain(
      `href="/dashboard/transactions/tx-pii?payload=${event.eventId}#event-${event.eventId}"`,
    );
    const fragment = await page(`/dashboard/events/${event.eventId}/payload`);
    expect(fragment.status).toBe(200);
    expect(fragment.text).toContain('••• masked •••');
    expect(fragment.text).not.toContain('janet@example.com');
    expect(fragment.text).not.toContain('<html');
    // The event page masks the payload and the raw body too.
    const eventPage = await page(`/dashboard/events/${event.eventId}`);
    expect(eventPage.text).not.toContain('janet@example.com');
    expect(eventPage.text).toContain('data-masked="true"');

    const keeping = await startTestReceiver({ adminToken: TOKEN, socure: { storeDocumentData: true } });
    try {
      const res = await keeping.deliver(
        docvEvent({ docvTransactionId: 'tx-keep', applicant: { email: 'kept@example.com' } }),
      );
      const kept = await fetch(`${keeping.url}/dashboard/transactions/tx-keep?payload=${res.json.eventId}`, {
        headers: auth,
      });
      const text = await kept.text();
      expect(text).toContain('kept@example.com');
      expect(text).not.toContain('masked');
    } finally {
      await keeping.destroy();
    }
  });

  it('deliveries: filters, time columns, truncated ids with copy buttons, replay link', async () => {
    const dead = await page('/dashboard/deliveries?state=dead');
    const deadIds = rowIds(dead.text, 'deliveries');
    const stored = (await r.store.listDeliveries({ limit: 10, state: 'dead' })).items;
    expect(deadIds).toEqual(stored.map((d) => d.deliveryId));
    expect(dead.text).toContain(`class="copy" data-copy="${stored[0]!.deliveryId}"`);
    expect(dead.text).toContain(`<span class="id" title="${stored[0]!.deliveryId}">`);
    expect(dead.text).toContain('data-label="created"');
    expect(dead.text).toContain('<option selected>dead</option>');
    expect(dead.text).toContain('<a class="button" id="replay-these" href="/dashboard/deliveries/replay?state=dead">');
    const destination = stored[0]!.destination;
    expect(dead.text).toContain(`<option>${destination}</option>`);
    const byDestination = await page(
      `/dashboard/deliveries?destination=${encodeURIComponent(destination)}&state=delivered`,
    );
    const delivered = rowIds(byDestination.text, 'deliveries');
    expect(delivered.length).toBeGreaterThan(3);
    expect(delivered).not.toContain(stored[0]!.deliveryId);
    expect(rowIds((await page('/dashboard/deliveries?transaction=tx-fail-1')).text, 'deliveries')).toEqual(deadIds);
    expect(rowIds((await page(`/dashboard/deliveries?event=${stored[0]!.eventId}`)).text, 'deliveries')).toEqual(
      deadIds,
    );
    expect(rowIds((await page('/dashboard/deliveries?from=2099-01-01T00:00')).text, 'deliveries')).toEqual([]);
    const unfiltered = await page('/dashboard/deliveries');
    expect(unfiltered.text).not.toContain('id="replay-these"');
    const find = await page(`/dashboard/deliveries/find?id=${encodeURIComponent(stored[0]!.deliveryId)}`);
    expect(find.status).toBe(303);
    expect(find.headers.get('location')).toBe(`/dashboard/deliveries/${encodeURIComponent(stored[0]!.deliveryId)}`);
  });

  it('delivery page: every attempt with status, latency, error and the response excerpt; a first-attempt success says it has none', async () => {
    const dead = (await r.store.listDeliveries({ limit: 1, state: 'dead' })).items[0]!;
    const res = await page(`/dashboard/deliveries/${encodeURIComponent(dead.deliveryId)}`);
    expect(res.status).toBe(200);
    const attempts = res.text.slice(
      res.text.indexOf('data-list="attempts"'),
      res.text.indexOf('</table>', res.text.indexOf('data-list="attempts"')),
    );
    expect([...attempts.matchAll(/<tr data-id="(\d+)"/g)].map((m) => m[1])).toEqual(['1', '2']);
    expect(attempts).toContain('<td data-label="status">502</td>');
    expect(attempts).toMatch(/<td data-label="latency">\d+ ms<\/td>/);
    expect(attempts).toContain('<span class="error">HTTP 502</span>');
    expect(attempts).toContain('<pre tabindex="0">upstream &lt;b&gt;down&lt;/b&gt; for maintenance</pre>');
    expect(res.text).toContain(`data-retry="${dead.deliveryId}"`);

    const ok = (await r.store.listDeliveries({ limit: 1, state: 'delivered', docvTransactionId: 'tx-done' })).items[0]!;
    const okPage = await page(`/dashboard/deliveries/${encodeURIComponent(ok.deliveryId)}`);
    expect(textOf(okPage.text, 'attempts-none')).toContain('Delivered on its first attempt');
    expect(okPage.text).not.toContain('data-retry=');
    expect((await page('/dashboard/deliveries/dlv_nope')).status).toBe(404);
  });

  it('replay confirmation: the count and a form carrying the filter and the expected count', async () => {
    const dead = (await r.store.listDeliveries({ limit: 1, state: 'dead' })).items[0]!;
    const confirm = await page(
      `/dashboard/deliveries/replay?state=dead&destination=${encodeURIComponent(dead.destination)}`,
    );
    expect(confirm.text).toContain('data-replay-count="1"');
    expect(confirm.text).toContain(
      '<form class="inline" method="post" action="/dashboard/deliveries/replay" id="replay-confirm">',
    );
    expect(confirm.text).toContain('<input type="hidden" name="state" value="dead">');
    expect(confirm.text).toContain(`<input type="hidden" name="destination" value="${dead.destination}">`);
    expect(confirm.text).toContain('<input type="hidden" name="expected" value="1">');
    expect(confirm.text).toContain('<input type="hidden" name="_csrf"');
    const nothing = await page('/dashboard/deliveries/replay');
    expect(nothing.status).toBe(400);
    const none = await page('/dashboard/deliveries/replay?from=2099-01-01T00:00');
    expect(none.text).toContain('data-replay-count="0"');
  });

  it('destinations: health over the last hour, counts linked, and a pause switch', async () => {
    const res = await page('/dashboard/destinations');
    const name = `forward:${new URL(sink.url).host}/docv`;
    const card = res.text.slice(res.text.indexOf(`data-destination="${name}"`));
    expect(card).toContain(`http://${new URL(sink.url).host}/docv`);
    expect(card).toContain('<span class="badge active">active</span>');
    expect(card).toMatch(
      /data-health="failing"><strong data-success-rate>\d+(\.\d)?%<\/strong> of \d+ attempts succeeded/,
    );
    expect(card).toContain('HTTP 502');
    expect(card).toContain(
      `href="/dashboard/deliveries?destination=${encodeURIComponent(name)}&amp;state=dead" data-count="deliveries:${name}:dead">1 dead</a>`,
    );
    expect(card).toContain(`action="/dashboard/destinations/${encodeURIComponent(name)}/pause"`);
    expect(card).toContain('data-destination-switch="pause"');
  });

  it('quarantine: the reason in words, the errors, the body folded away, reprocess one or all', async () => {
    const res = await page('/dashboard/quarantine');
    const entries = (await r.store.listQuarantine({ limit: 10 })).items;
    expect(entries).toHaveLength(2);
    const invalid = entries.find((e) => e.reason === 'invalid')!;
    const card = res.text.slice(res.text.indexOf(`id="q-${invalid.quarantineId}"`));
    expect(card).toContain('fits no dialect of the contract');
    expect(card).toMatch(/<li><code>\/eventTime<\/code>: /);
    expect(card).toContain('<details><summary>Body (');
    expect(card).toContain(`action="/dashboard/quarantine/${encodeURIComponent(invalid.quarantineId)}/reprocess"`);
    expect(res.text).toContain('The body is not JSON');
    expect(res.text).toContain('not json at all &lt;b&gt;');
    expect(res.text).toContain('href="/dashboard/quarantine/reprocess"');
    const filtered = await page('/dashboard/quarantine?reason=invalid');
    expect(filtered.text).not.toContain('The body is not JSON, or');
    expect(filtered.text).toContain('href="/dashboard/quarantine/reprocess?reason=invalid"');
    const confirm = await page('/dashboard/quarantine/reprocess?reason=invalid');
    expect(confirm.text).toContain('data-reprocess-count="1"');
    expect(confirm.text).toContain('action="/dashboard/quarantine/reprocess" id="reprocess-confirm"');
    expect(confirm.text).toContain('<input type="hidden" name="reason" value="invalid">');
    expect((await page('/dashboard/quarantine/reprocess')).text).toContain('data-reprocess-count="2"');
  });

  it('events: the list and an event page with its deliveries, duplicates and the v5 removal note', async () => {
    const all = await page('/dashboard/events');
    const stored = await r.store.listEvents({ limit: 50 });
    expect(rowIds(all.text, 'events')).toEqual(stored.items.map((e) => e.eventId));
    expect(all.text).toContain('data-live-rows="events" data-live-insert="true"');
    const v5 = await deliver(v5Fixture('VERIFICATION_COMPLETED'));
    const v5Page = await page(`/dashboard/events/${v5.json.eventId}`);
    expect(v5Page.text).toContain('Document data (names, dates of birth, addresses, document numbers) was removed');
    expect(v5Page.text).not.toContain('Jordan');
    const late = await page(`/dashboard/events/${orderEvents.late}`);
    expect(late.text).toMatch(/data-mark="duplicates">1 more time/);
    expect(late.text).toContain('data-list="event-deliveries"');
    expect(rowIds(late.text, 'event-deliveries')).toHaveLength(1);
    const filtered = await page('/dashboard/events?dialect=socure-v5');
    expect(rowIds(filtered.text, 'events')).toEqual([v5.json.eventId]);
    expect(filtered.text).toContain('<option selected>socure-v5</option>');
  });

  it('escapes what senders sent, and the banner of an action message', async () => {
    for (const path of [
      '/dashboard/transactions?q=tx-%3C',
      `/dashboard/deliveries?transaction=${encodeURIComponent(hostileId)}`,
      `/dashboard/transactions/${encodeURIComponent(hostileId)}`,
    ]) {
      const text = (await page(path)).text;
      expect(text, path).toContain('tx-&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(text, path).not.toContain('<script>alert');
      expect(text, path).not.toContain('<img src=x');
    }
    const banner = await page('/dashboard/transactions?done=%3Cb%3Eretried%3C%2Fb%3E');
    expect(banner.text).toContain(
      '<p id="banner" class="banner done" role="status" data-banner="done">&lt;b&gt;retried&lt;/b&gt;</p>',
    );
    const error = await page('/dashboard/deliveries?error=no%20such%20delivery');
    expect(error.text).toContain('data-banner="error">no such delivery</p>');
    // The form's way back drops the message, so it is not shown again after the next action.
    expect(error.text).toContain('name="returnTo" value="/dashboard/deliveries"');
  });

  it('signed in with the form: a sign-out button and forms carrying the session CSRF token', async () => {
    const browser = new DashboardBrowser(r.url);
    expect((await browser.signIn(TOKEN)).status).toBe(303);
    const res = await browser.get('/dashboard/transactions/tx-fail-1');
    expect(res.status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
    // base64url: letters, digits, - and _ (a run of \w alone may be cut by a -).
    expect(csrf).toMatch(/^[\w-]{16,}$/);
    expect(res.text).toContain(
      `<form class="sign-out" method="post" action="/dashboard/logout"><input type="hidden" name="_csrf" value="${csrf}">`,
    );
    // Bearer (a script) has no session: no sign-out button.
    expect((await page('/dashboard/transactions/tx-fail-1')).text).not.toContain('id="sign-out"');
  });
});

describe('dashboard pieces', () => {
  it('reads percentiles from a histogram, interpolated within buckets', async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['l'],
      buckets: [0.01, 0.1, 1],
      registers: [registry],
    });
    expect(percentilesOf(await h.get())).toBeNull();
    for (let i = 0; i < 90; i++) h.labels('a').observe(0.005);
    for (let i = 0; i < 10; i++) h.labels('b').observe(0.5);
    const p = percentilesOf(await h.get())!;
    expect(p.count).toBe(100);
    expect(p.p50).toBeCloseTo((50 / 90) * 10, 5);
    expect(p.p95).toBeCloseTo(100 + 0.5 * 900, 5);
    expect(p.p99).toBeCloseTo(100 + 0.9 * 900, 5);
    for (let i = 0; i < 5; i++) h.labels('c').observe(5);
    expect(percentilesOf(await h.get())!.p99).toBe(1000);
  });

  it('masks personal data by key, wherever it is, and leaves the rest', () => {
    expect(
      maskPersonalData({
        decision: { name: 'standard', value: 'accept' },
        customerUserId: 'u-1',
        people: [{ first_name: 'A', Email: 'a@b.c', phone: null }],
        documentData: { dob: '1990-01-01' },
      }),
    ).toEqual({
      decision: { name: 'standard', value: 'accept' },
      customerUserId: 'u-1',
      people: [{ first_name: MASKED, Email: MASKED, phone: null }],
      documentData: MASKED,
    });
  });
});
