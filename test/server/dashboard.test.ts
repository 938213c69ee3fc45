import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';

const CHROMIUM = '/usr/bin/chromium';

const backends = await testBackends();

describe.each(backends)('dashboard pages ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  const hostileId = 'tx-<script>alert(1)</script>';
  beforeAll(async () => {
    r = await startTestReceiver({ adminToken: 'dash-token', database: await backend.create() });
    await r.deliver(docvEvent({ docvTransactionId: hostileId, customerUserId: '<img src=x onerror=alert(2)>' }));
    await r.deliver(docvEvent({ docvTransactionId: 'tx-done', eventType: 'VERIFICATION_COMPLETED', decision: 'reject' }));
    await r.deliver(docvEvent({ docvTransactionId: 'tx-done', eventType: 'VERIFICATION_COMPLETED', decision: 'accept', eventTime: '2026-03-01T10:05:00Z' }));
  });
  afterAll(async () => r.destroy());

  const basic = `Basic ${Buffer.from('anyone:dash-token').toString('base64')}`;

  it('asks browsers for credentials (Basic with the admin token as password)', async () => {
    const res = await fetch(`${r.url}/dashboard`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    expect((await fetch(`${r.url}/dashboard`, { headers: { authorization: `Basic ${Buffer.from('x:wrong').toString('base64')}` } })).status).toBe(401);
  });

  it('lists transactions with filters, escapes what senders sent, and sends a strict CSP', async () => {
    const res = await fetch(`${r.url}/dashboard`, { headers: { authorization: basic } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const page = await res.text();
    expect(page).toContain('tx-&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('conflicting_decisions');
    const filtered = await (await fetch(`${r.url}/dashboard?status=VERIFICATION_COMPLETED`, { headers: { authorization: basic } })).text();
    expect(filtered).toContain('tx-done');
    expect(filtered).not.toContain('alert(1)');
  });

  it('shows one transaction with its events and anomalies; 404 for an unknown one', async () => {
    const res = await fetch(`${r.url}/dashboard/transactions/tx-done`, { headers: { authorization: basic } });
    const page = await res.text();
    expect(page).toContain('completions arrived with different decisions: accept, reject');
    expect(page.match(/\/v1\/events\/evt_/g)).toHaveLength(2);
    expect((await fetch(`${r.url}/dashboard/transactions/nope`, { headers: { authorization: basic } })).status).toBe(404);
    for (const path of ['/dashboard/deliveries', '/dashboard/quarantine', '/dashboard/style.css']) {
      expect((await fetch(`${r.url}${path}`, { headers: { authorization: basic } })).status).toBe(200);
    }
  });

  it('renders in headless Chromium with its stylesheet and no CSP violations', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`).toBe(true);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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
      const headerBackground = await page.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(headerBackground).toBe('rgb(29, 35, 48)');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
