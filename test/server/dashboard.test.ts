import { existsSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';

/** A v5 envelope from test/fixtures, to be changed by the test. */
function v5Fixture(eventType: string): { event: Record<string, unknown> } {
  return JSON.parse(readFileSync(new URL(`../fixtures/socure-v5/${eventType}.json`, import.meta.url), 'utf8')) as {
    event: Record<string, unknown>;
  };
}

/** The distinct event pages a page links to. */
function eventLinks(page: string): string[] {
  return [...new Set([...page.matchAll(/href="(\/dashboard\/events\/evt_[^"]+)"/g)].map((m) => m[1]!))];
}

const backends = await testBackends();

describe.each(backends)('dashboard pages ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let sink: HttpSink;
  const hostileId = 'tx-<script>alert(1)</script>';
  beforeAll(async () => {
    sink = await startSink();
    r = await startTestReceiver({
      adminToken: 'dash-token',
      database: await backend.create(),
      dispatch: { forwardUrls: [`${sink.url}/docv`] },
    });
    await r.deliver(docvEvent({ docvTransactionId: hostileId, customerUserId: '<img src=x onerror=alert(2)>' }));
    await r.deliver(
      docvEvent({ docvTransactionId: 'tx-done', eventType: 'VERIFICATION_COMPLETED', decision: 'reject' }),
    );
    await r.deliver(
      docvEvent({
        docvTransactionId: 'tx-done',
        eventType: 'VERIFICATION_COMPLETED',
        decision: 'accept',
        eventTime: '2026-03-01T10:05:00Z',
      }),
    );
  });
  afterAll(async () => {
    await r.destroy();
    await sink.close();
  });

  const basic = `Basic ${Buffer.from('anyone:dash-token').toString('base64')}`;

  it('asks browsers for credentials (Basic with the admin token as password)', async () => {
    const res = await fetch(`${r.url}/dashboard`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    expect(
      (
        await fetch(`${r.url}/dashboard`, {
          headers: { authorization: `Basic ${Buffer.from('x:wrong').toString('base64')}` },
        })
      ).status,
    ).toBe(401);
  });

  it('lists transactions with filters, escapes what senders sent, and sends a strict CSP', async () => {
    const res = await fetch(`${r.url}/dashboard`, { headers: { authorization: basic } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const page = await res.text();
    expect(page).toContain('tx-&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('conflicting_decisions');
    const filtered = await (
      await fetch(`${r.url}/dashboard?status=VERIFICATION_COMPLETED`, { headers: { authorization: basic } })
    ).text();
    expect(filtered).toContain('tx-done');
    expect(filtered).not.toContain('alert(1)');
  });

  it('shows one transaction with its events and anomalies; 404 for an unknown one', async () => {
    const res = await fetch(`${r.url}/dashboard/transactions/tx-done`, { headers: { authorization: basic } });
    const page = await res.text();
    expect(page).toContain('completions arrived with different decisions: accept, reject');
    expect(eventLinks(page)).toHaveLength(2);
    expect(page).not.toContain('/v1/events/');
    expect((await fetch(`${r.url}/dashboard/transactions/nope`, { headers: { authorization: basic } })).status).toBe(
      404,
    );
    for (const path of ['/dashboard/deliveries', '/dashboard/quarantine', '/dashboard/style.css']) {
      expect((await fetch(`${r.url}${path}`, { headers: { authorization: basic } })).status).toBe(200);
    }
  });

  it("links a transaction's events to dashboard pages that take the login (the admin API's do not)", async () => {
    const page = await (
      await fetch(`${r.url}/dashboard/transactions/tx-done`, { headers: { authorization: basic } })
    ).text();
    const links = eventLinks(page);
    expect(links).toHaveLength(2);
    for (const href of links) {
      const withLogin = await fetch(`${r.url}${href}`, { headers: { authorization: basic } });
      expect(withLogin.status).toBe(200);
      expect(withLogin.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(await withLogin.text()).toContain('VERIFICATION_COMPLETED');
      const anonymous = await fetch(`${r.url}${href}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
    }
  });

  it('shows an event: summary, canonical fields, headers without credentials, payload and raw body escaped, its deliveries', async () => {
    const raw = JSON.stringify(
      docvEvent({
        docvTransactionId: 'tx-event-page',
        customerUserId: 'user-ep',
        vendorNote: '<script>alert(3)</script>',
      }),
    );
    const res = await r.deliver(raw, {
      authorization: 'Bearer delivery-credential-xyz',
      'x-trace': '<b>trace-1</b>',
      'webhook-id': 'wh-event-page-1',
    });
    expect(res.status).toBe(200);
    const eventId = res.json.eventId as string;
    await waitFor(
      async () =>
        (await r.store.listDeliveries({ limit: 10, docvTransactionId: 'tx-event-page' })).items.some(
          (d) => d.state === 'delivered',
        ),
      'the forward to be delivered',
    );

    const answer = await fetch(`${r.url}/dashboard/events/${eventId}`, { headers: { authorization: basic } });
    expect(answer.status).toBe(200);
    const page = await answer.text();
    expect(page).toContain(`<h1>${eventId}</h1>`);
    expect(page).toContain('<a href="/dashboard/transactions/tx-event-page">tx-event-page</a>');
    expect(page).toMatch(/<dt>dialect<\/dt><dd>asyncapi<\/dd>/);
    expect(page).toContain('2026-03-01T10:00:00Z (as the sender gave it)');
    expect(page).toMatch(/<dt>customerUserId<\/dt><dd>user-ep<\/dd>/);
    expect(page).toMatch(/<dt>webhook id<\/dt><dd class="mono">wh-event-page-1<\/dd>/);
    expect(page).toMatch(/<dt>eventTimeSource<\/dt><dd>event<\/dd>/);
    expect(page).toContain('&lt;b&gt;trace-1&lt;/b&gt;');
    expect(page).not.toContain('delivery-credential-xyz');
    // The payload pretty-printed, the raw body as it came; both escaped.
    expect(page).toContain('  &quot;vendorNote&quot;: &quot;&lt;script&gt;alert(3)&lt;/script&gt;&quot;');
    expect(page).toContain(
      raw.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'),
    );
    expect(page).not.toContain('<script>');
    expect(page).toContain(
      // Delivered by its first attempt, read back from the log: no row, so no status kept (decision 0012).
      `<td>forward:${new URL(sink.url).host}/docv</td><td><span class="badge delivered">delivered</span></td><td>1</td><td>-</td>`,
    );
    expect(page).not.toContain('Document data');
  });

  it('says when document data was removed, and which events have no transaction or no event time of their own', async () => {
    const completed = await r.deliver(v5Fixture('VERIFICATION_COMPLETED'));
    expect(completed.status).toBe(200);
    const v5Page = await (
      await fetch(`${r.url}/dashboard/events/${completed.json.eventId}`, { headers: { authorization: basic } })
    ).text();
    expect(v5Page).toContain('Document data (names, dates of birth, addresses, document numbers) was removed');
    expect(v5Page).not.toContain('Jordan');
    expect(v5Page).toMatch(/<dt>dialect<\/dt><dd>socure-v5<\/dd>/);
    expect(v5Page).toMatch(/<dt>reasonCodes<\/dt><dd>I831, I836<\/dd>/);
    expect(v5Page).toMatch(/<dt>decision<\/dt><dd><span class="badge accept">accept<\/span><\/dd>/);

    const testEvent = v5Fixture('TEST_WEBHOOK');
    delete testEvent.event.created;
    const delivered = await r.deliver(testEvent);
    expect(delivered.status).toBe(200);
    const testPage = await (
      await fetch(`${r.url}/dashboard/events/${delivered.json.eventId}`, { headers: { authorization: basic } })
    ).text();
    expect(testPage).toMatch(/<dt>transaction<\/dt><dd><span class="empty">test event<\/span><\/dd>/);
    expect(testPage).toContain('(the receipt time: the sender gave no event time)');

    const unknown = await fetch(`${r.url}/dashboard/events/evt_nope%3Cb%3E`, { headers: { authorization: basic } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('text/html');
    expect(await unknown.text()).toContain('No event evt_nope&lt;b&gt;.');
  });

  it('lists recent events with type and dialect filters, each linked to its page', async () => {
    const all = await (await fetch(`${r.url}/dashboard/events`, { headers: { authorization: basic } })).text();
    expect(all).toContain('<a href="/dashboard/events">events</a>');
    const stored = await r.store.listEvents({ limit: 50 });
    expect(eventLinks(all).sort()).toEqual(stored.items.map((e) => `/dashboard/events/${e.eventId}`).sort());
    const completions = await (
      await fetch(`${r.url}/dashboard/events?eventType=VERIFICATION_COMPLETED`, { headers: { authorization: basic } })
    ).text();
    expect(eventLinks(completions)).toHaveLength(
      stored.items.filter((e) => e.eventType === 'VERIFICATION_COMPLETED').length,
    );
    expect(completions).not.toContain('APP_OPENED</span>');
    const v5 = await (
      await fetch(`${r.url}/dashboard/events?dialect=socure-v5`, { headers: { authorization: basic } })
    ).text();
    expect(eventLinks(v5)).toHaveLength(stored.items.filter((e) => e.dialect === 'socure-v5').length);
    expect(v5).not.toContain('<td>asyncapi</td>');
    expect(v5).toContain('<option selected>socure-v5</option>');
    expect((await fetch(`${r.url}/dashboard/events`)).status).toBe(401);
  });

  it('renders in headless Chromium with its stylesheet and no CSP violations', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`).toBe(
      true,
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const context = await browser.newContext({ httpCredentials: { username: 'ops', password: 'dash-token' } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      await page.goto(`${r.url}/dashboard`);
      await page.getByRole('link', { name: 'tx-done' }).click();
      await page.waitForURL(/\/dashboard\/transactions\/tx-done$/);
      expect(await page.locator('h1').textContent()).toBe('tx-done');
      const firstEvent = page.locator('a[href^="/dashboard/events/evt_"]').first();
      const eventId = await firstEvent.textContent({ timeout: 5_000 });
      await firstEvent.click();
      await page.waitForURL(/\/dashboard\/events\/evt_/, { timeout: 5_000 });
      expect(await page.locator('h1').textContent()).toBe(eventId);
      expect(await page.getByRole('heading', { name: 'Raw body' }).isVisible()).toBe(true);
      const headerBackground = await page.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(headerBackground).toBe('rgb(29, 35, 48)');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
