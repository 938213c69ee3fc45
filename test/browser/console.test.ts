import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNotification } from '../../src/entries/testing.js';
import { seedConsole, startFlakySink, type ConsoleSeed, type FlakySink } from '../helpers/console-seed.js';
import { startTestReceiver, tempDir, type TestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The operations console as support staff use it, in Debian's Chromium (headless): sign in, find a
 * customer, read a timeline, retry a dead delivery, reprocess a quarantined body, watch a live
 * update arrive; and every page fits a phone, is reachable by keyboard, logs no error, and passes
 * axe's serious and critical checks in light and dark.
 */

/** Debian's Chromium; the test never lets a tool download a browser of its own. */
const TOKEN = 'console-admin-token';
const SECRET = 'console-webhook-secret-1';
const PREFIX = 'txn';
/** Every wait in a page is bounded by this; a failing step fails in seconds, not at the test timeout. */
const STEP_MS = 10_000;
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1280, height: 860 };

/** A v5 notification: quarantined by a receiver pinned to the flat contract, accepted by one reading every dialect. */
const V5_TRANSACTION = `${PREFIX}-v5-after-upgrade`;

let browser: Browser;
let sink: FlakySink;
let r: TestReceiver;
let dir: string;
let seed: ConsoleSeed;
/** The signed-in session (cookies), shared by the contexts of the tests after the first. */
let signedIn: Awaited<ReturnType<BrowserContext['storageState']>>;
/** Ids the page list needs (read once the seed is in). */
const ids = { deadDelivery: '', delivery: '', event: '', v5Quarantine: '' };

const deliver = (body: unknown) => r.deliver(body, { authorization: `Bearer ${SECRET}` });

function flatEvent(eventType: string, docvTransactionId: string, extra: Record<string, unknown> = {}) {
  return { eventType, docvTransactionId, eventTime: new Date().toISOString(), customerUserId: 'cust-live', ...extra };
}

/** Console errors and uncaught page errors of every page opened in `context`, with the page they came from. */
function watchErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${page.url()}: console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${page.url()}: page error: ${e.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return errors;
}

async function newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: DESKTOP, storageState: signedIn, ...options });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  return context;
}

async function open(page: Page, path: string): Promise<void> {
  const res = await page.goto(`${r.url}${path}`);
  expect(res?.status(), `GET ${path}`).toBe(200);
  // A page that redirected to the sign-in is not the page asked for.
  expect(new URL(page.url()).pathname, `GET ${path} stayed on its page`).toBe(path.split('?')[0]);
}

/** Signs in through the form, as a person does. */
async function signInWithForm(page: Page): Promise<void> {
  await page.goto(`${r.url}/dashboard`);
  expect(new URL(page.url()).pathname).toBe('/dashboard/login');
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${r.url}/dashboard`);
}

/** Every page of the console (the sign-in page is checked without a session). */
function consolePages(): Array<{ name: string; path: string }> {
  return [
    { name: 'overview', path: '/dashboard' },
    { name: 'transactions', path: '/dashboard/transactions' },
    { name: 'a transaction', path: `/dashboard/transactions/${encodeURIComponent(seed.duplicated)}` },
    { name: 'events', path: '/dashboard/events' },
    { name: 'an event', path: `/dashboard/events/${encodeURIComponent(ids.event)}` },
    { name: 'deliveries', path: '/dashboard/deliveries' },
    { name: 'a delivery', path: `/dashboard/deliveries/${encodeURIComponent(ids.deadDelivery)}` },
    { name: 'destinations', path: '/dashboard/destinations' },
    { name: 'quarantine', path: '/dashboard/quarantine' },
    { name: 'replay confirmation', path: '/dashboard/deliveries/replay?state=delivered' },
    { name: 'reprocess confirmation', path: '/dashboard/quarantine/reprocess' },
  ];
}

/** Opens every <details> (payloads, bodies, headers, chart tables) so what they hold is measured too. */
async function openAllDetails(page: Page): Promise<void> {
  await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
  // The timeline's payloads load when opened: wait until each shows its <pre> (or says why not).
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll('details[data-payload-src]')).every(
      (d) => d.querySelector('.payload pre') !== null || /could not be loaded/.test(d.textContent ?? ''),
    ),
  );
}

async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; clientWidth: number; widest: string }> {
  return page.evaluate(() => {
    const root = document.documentElement;
    // The element reaching furthest right, to say what to fix when the page is too wide.
    let widest = '';
    let right = 0;
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const box = el.getBoundingClientRect();
      if (box.right > right) {
        right = box.right;
        widest = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${Array.from(el.classList).join('.')} (${Math.round(box.right)} px)`;
      }
    }
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, widest };
  });
}

beforeAll(async () => {
  browser = await launchChromium('to run the console browser tests');
  sink = await startFlakySink();
  // Refused before the seed goes in, so its forward dies (410 Gone) rather than racing the seed.
  sink.refuse.add(`${PREFIX}-offboarded`);

  // A receiver pinned to the flat contract refuses Socure's v5 shape: the body is quarantined,
  // and the receiver reading every dialect (below, same database) accepts it on reprocess.
  dir = tempDir('docv-console-');
  const pinned = await startTestReceiver({
    dir,
    adminToken: TOKEN,
    webhookSecrets: [SECRET],
    dialect: 'asyncapi',
    dispatch: { enabled: false },
  });
  const v5 = sampleNotification('socure-v5', 'APP_OPENED', { docvTransactionId: V5_TRANSACTION }).payload;
  const refused = await pinned.deliver(v5, { authorization: `Bearer ${SECRET}` });
  expect(refused.status, JSON.stringify(refused.json)).toBe(422);
  await pinned.close();

  r = await startTestReceiver({
    dir,
    adminToken: TOKEN,
    webhookSecrets: [SECRET],
    dispatch: { forwardUrls: [`${sink.url}/docv`], pollMs: 20 },
  });
  seed = await seedConsole(deliver, { prefix: PREFIX });
  const dead = await waitFor(
    async () =>
      (await r.store.listDeliveries({ limit: 10, state: 'dead' })).items.find(
        (d) => d.docvTransactionId === seed.deadDelivery,
      ),
    'the offboarded transaction’s delivery to be dead',
  );
  ids.deadDelivery = dead.deliveryId;
  ids.event = (await r.store.listEvents({ limit: 1 })).items[0]!.eventId;
  const quarantined = (await r.store.listQuarantine({ limit: 10 })).items;
  ids.v5Quarantine = quarantined.find((q) => q.body.includes(V5_TRANSACTION))!.quarantineId;

  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  await signInWithForm(page);
  signedIn = await context.storageState();
  await context.close();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await r?.destroy();
  await sink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the operations console in headless Chromium', () => {
  it('signs in with the admin token through the form and finds a customer’s three transactions', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    context.setDefaultTimeout(STEP_MS);
    const errors = watchErrors(context);
    try {
      const page = await context.newPage();
      await page.goto(`${r.url}/dashboard/transactions`);
      expect(new URL(page.url()).pathname).toBe('/dashboard/login');
      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Back where it was going, signed in.
      await page.waitForURL(`${r.url}/dashboard/transactions`);
      await expect.poll(() => page.getByRole('button', { name: 'Sign out' }).count()).toBe(1);

      await page.getByLabel(/^Search: transaction id, customer user id or event id/).fill(seed.customerUserId);
      await page.getByLabel(/^Search/).press('Enter');
      await page.waitForURL(/[?&]q=cust-ana-lima/);
      const rows = page.locator('[data-list="transactions"] tbody tr[data-id]');
      // Newest activity first: the third attempt (the accept) on top.
      expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')))).toEqual([
        `${PREFIX}-ana-3`,
        `${PREFIX}-ana-2`,
        `${PREFIX}-ana-1`,
      ]);
      expect(await page.locator('#transaction-count').innerText()).toMatch(/^3 transactions\b/);

      // Open one: the customer is shown on its page.
      await rows
        .first()
        .getByRole('link', { name: `${PREFIX}-ana-3` })
        .click();
      await page.waitForURL(`${r.url}/dashboard/transactions/${PREFIX}-ana-3`);
      expect(await page.locator('h1').innerText()).toBe(`${PREFIX}-ana-3`);
      expect(await page.locator('#transaction-facts').innerText()).toContain(seed.customerUserId);
      expect(await page.locator('#transaction-facts [data-field="decision"] .badge').innerText()).toBe('accept');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows a transaction’s timeline in event-time order with late and repeated arrivals marked', async () => {
    const context = await newContext();
    const errors = watchErrors(context);
    try {
      const page = await context.newPage();
      // Found by its id in the search box, then opened from the list.
      await open(page, '/dashboard/transactions');
      await page.locator('#search').fill(seed.outOfOrder);
      await page.locator('#search').press('Enter');
      await page.getByRole('link', { name: seed.outOfOrder }).click();
      await page.waitForURL(`${r.url}/dashboard/transactions/${seed.outOfOrder}`);

      const items = page.locator('#timeline > li');
      expect(await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-event-type')))).toEqual([
        'APP_OPENED',
        'DOCUMENTS_UPLOADED',
        'VERIFICATION_COMPLETED',
      ]);
      // The completion came first; the opening and the upload were received after it.
      const late = await items.evaluateAll((lis) =>
        lis.map((li) => li.querySelector('[data-mark="out-of-order"]')?.textContent ?? null),
      );
      expect(late).toEqual(['arrived out of order', 'arrived out of order', null]);
      expect(await items.first().locator('.times').innerText()).toMatch(/^event time .+ · received .+/);

      // The payload on demand: opening its details loads it (masked where personal).
      await items.first().locator('summary', { hasText: 'Payload' }).click();
      await expect.poll(() => items.first().locator('.payload pre').count(), { timeout: STEP_MS }).toBe(1);
      expect(await items.first().locator('.payload pre').innerText()).toContain(
        `"docvTransactionId": "${seed.outOfOrder}"`,
      );

      await open(page, `/dashboard/transactions/${encodeURIComponent(seed.duplicated)}`);
      const opened = page.locator('#timeline > li[data-event-type="APP_OPENED"]');
      expect(await opened.locator('[data-mark="duplicates"]').innerText()).toMatch(
        /^arrived 2 more times \(last .+\)$/,
      );
      expect(await page.locator('#timeline [data-mark="out-of-order"]').count()).toBe(0);

      // Anomalies in words on the transaction with two verdicts.
      await open(page, `/dashboard/transactions/${encodeURIComponent(seed.conflicting)}`);
      expect(await page.locator('#anomalies li').count()).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('retries a dead delivery from its page and shows it delivered', async () => {
    const context = await newContext();
    const errors = watchErrors(context);
    try {
      const page = await context.newPage();
      await open(page, '/dashboard/deliveries?state=dead');
      const row = page.locator(`[data-list="deliveries"] tbody tr[data-id="${ids.deadDelivery}"]`);
      await row.locator('td[data-label="delivery"] a').click();
      await page.waitForURL(`${r.url}/dashboard/deliveries/${ids.deadDelivery}`);
      const state = page.locator(`#delivery-facts [data-delivery-state]`);
      expect(await state.getAttribute('data-delivery-state')).toBe('dead');
      // The attempt that killed it, with what the destination said.
      const attempts = page.locator('[data-list="attempts"] tbody tr');
      expect(await attempts.first().innerText()).toMatch(/410/);
      expect(await attempts.first().innerText()).toContain('this customer was offboarded');

      sink.accept();
      await page.getByRole('button', { name: `Retry delivery ${ids.deadDelivery}` }).click();
      await page.waitForURL(/[?&]done=/);
      expect(await page.locator('#banner[data-banner="done"]').innerText()).not.toBe('');

      // Delivered within a bounded wait: reload until the page says so.
      const deadline = Date.now() + STEP_MS;
      let shown = await state.getAttribute('data-delivery-state');
      while (shown !== 'delivered' && Date.now() < deadline) {
        await page.waitForTimeout(200);
        await page.reload();
        shown = await state.getAttribute('data-delivery-state');
      }
      expect(shown).toBe('delivered');
      expect(await state.innerText()).toBe('delivered');
      expect(await page.locator('#delivery-facts').innerText()).toMatch(/delivered\s+\d{4}-\d\d-\d\d /);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('reprocesses a quarantined body and shows it accepted', async () => {
    const context = await newContext();
    const errors = watchErrors(context);
    try {
      const page = await context.newPage();
      await open(page, '/dashboard/quarantine');
      const card = page.locator(`#q-${ids.v5Quarantine}`);
      expect(await card.locator('[data-reprocessed]').getAttribute('data-reprocessed')).toBe('false');
      // Why it was refused, in words.
      expect(await card.locator('[data-reason-words]').innerText()).not.toBe('');
      await card.getByRole('button', { name: `Reprocess ${ids.v5Quarantine}` }).click();
      await page.waitForURL(/[?&]done=/);
      expect(await page.locator('#banner').innerText()).toMatch(/^Reprocessed: accepted as event evt_/);
      expect(await card.locator('[data-reprocessed]').getAttribute('data-reprocessed')).toBe('accepted');

      // The event it became belongs to its transaction now.
      await card.locator('[data-reprocessed] a').click();
      await page.waitForURL(/\/dashboard\/events\/evt_/);
      expect(await page.locator('#event-facts').innerText()).toContain(V5_TRANSACTION);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('puts a new transaction on top of the list without a reload, and holds it back while paused', async () => {
    const context = await newContext();
    const errors = watchErrors(context);
    try {
      const page = await context.newPage();
      await open(page, '/dashboard/transactions');
      await page.waitForSelector('main[data-live-state="open"]');
      // The stream's first read marks where it starts; what is ingested before it is "already shown".
      await page.waitForTimeout(1_500);
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
      const rows = page.locator('tbody[data-live-rows="transactions"] > tr[data-id]');
      const firstId = () => rows.first().getAttribute('data-id');

      const live1 = `${PREFIX}-live-1`;
      expect((await deliver(flatEvent('APP_OPENED', live1))).status).toBe(200);
      await expect.poll(firstId, { timeout: STEP_MS }).toBe(live1);
      expect(await rows.first().locator('td[data-label="status"]').innerText()).toBe('APP_OPENED');

      // Paused: the next one is held back and counted; resuming shows it.
      const toggle = page.locator('[data-live-toggle]');
      await toggle.click();
      expect(await toggle.getAttribute('aria-pressed')).toBe('true');
      expect(await toggle.innerText()).toBe('Resume live updates');
      const live2 = `${PREFIX}-live-2`;
      expect((await deliver(flatEvent('APP_OPENED', live2))).status).toBe(200);
      const pending = page.locator('[data-live-show]');
      await pending.waitFor({ state: 'visible' });
      expect(await pending.innerText()).toMatch(/^\d+ new — show$/);
      expect(await page.locator(`tbody[data-live-rows="transactions"] > tr[data-id="${live2}"]`).count()).toBe(0);
      expect(await firstId()).toBe(live1);

      await toggle.click();
      expect(await toggle.getAttribute('aria-pressed')).toBe('false');
      await expect.poll(firstId, { timeout: STEP_MS }).toBe(live2);
      expect(await pending.isHidden()).toBe(true);
      // Both rows arrived in this document: it was never reloaded.
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('has no sideways scrolling at 375 px on any page, its <details> open', async () => {
    const context = await newContext({ viewport: PHONE });
    const anonymous = await browser.newContext({ viewport: PHONE });
    const errors = watchErrors(context);
    const anonymousErrors = watchErrors(anonymous);
    try {
      const page = await context.newPage();
      const tooWide: string[] = [];
      for (const { name, path } of consolePages()) {
        await open(page, path);
        await openAllDetails(page);
        const o = await horizontalOverflow(page);
        if (o.scrollWidth > o.clientWidth)
          tooWide.push(`${name}: ${o.scrollWidth} px > ${o.clientWidth} px; widest ${o.widest}`);
      }
      const login = await anonymous.newPage();
      await login.goto(`${r.url}/dashboard/login`);
      const o = await horizontalOverflow(login);
      if (o.scrollWidth > o.clientWidth)
        tooWide.push(`login: ${o.scrollWidth} px > ${o.clientWidth} px; widest ${o.widest}`);
      expect(tooWide).toEqual([]);
      expect([...errors, ...anonymousErrors]).toEqual([]);
    } finally {
      await context.close();
      await anonymous.close();
    }
  }, 60_000);

  it('draws the overview’s charts with every label inside them', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await open(page, '/dashboard');
      const outside = await page.evaluate(() =>
        Array.from(document.querySelectorAll<SVGSVGElement>('svg.chart')).flatMap((svg) => {
          const view = svg.viewBox.baseVal;
          return Array.from(svg.querySelectorAll('text'))
            .map((t) => ({ text: t.textContent, box: t.getBBox() }))
            .filter(({ box }) => box.x < view.x || box.x + box.width > view.x + view.width || box.y < view.y)
            .map(({ text, box }) => `${svg.id} "${text}" at x ${box.x.toFixed(1)}..${(box.x + box.width).toFixed(1)}`);
        }),
      );
      expect(await page.locator('svg.chart text').count()).toBeGreaterThan(4);
      expect(outside).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is keyboard accessible: Tab reaches the skip link first, then the search box with a visible focus', async () => {
    const context = await newContext();
    const errors = watchErrors(context);
    try {
      const page = await context.newPage();
      await open(page, '/dashboard/transactions');
      const focused = () =>
        page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          if (!el || el === document.body) return null;
          const style = getComputedStyle(el);
          const box = el.getBoundingClientRect();
          return {
            id: el.id,
            className: el.className,
            text: el.textContent?.trim() ?? '',
            outline: `${style.outlineStyle} ${style.outlineWidth}`,
            onScreen: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0 && box.right <= innerWidth,
          };
        });
      await page.keyboard.press('Tab');
      const skip = await focused();
      expect(skip).toMatchObject({ className: 'skip', text: 'Skip to content', onScreen: true });
      expect(skip!.outline).toMatch(/^solid ([2-9]|\d\d)/);

      // Following it lands in the content; from there the search box is the first field.
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
      let search = null;
      for (let i = 0; i < 40 && search === null; i++) {
        await page.keyboard.press('Tab');
        const now = await focused();
        if (now?.id === 'search') search = now;
      }
      expect(search, 'the search box was reached with Tab').not.toBeNull();
      expect(search!.onScreen).toBe(true);
      expect(search!.outline).toMatch(/^solid ([2-9]|\d\d)/);

      // From the top without the skip link, Tab still gets there, through the navigation.
      await open(page, '/dashboard/transactions');
      const order: string[] = [];
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        const now = await focused();
        order.push(now?.id || now?.text || '?');
        if (now?.id === 'search') break;
      }
      expect(order[0]).toBe('Skip to content');
      expect(order.at(-1)).toBe('search');
      expect(order).toContain('Transactions');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('renders every page in dark mode without a console error', async () => {
    const context = await newContext({ colorScheme: 'dark' });
    const anonymous = await browser.newContext({ viewport: DESKTOP, colorScheme: 'dark' });
    const errors = watchErrors(context);
    const anonymousErrors = watchErrors(anonymous);
    try {
      const page = await context.newPage();
      for (const { path } of consolePages()) {
        await open(page, path);
        // The dark palette is in force: a dark background, light text.
        const colours = await page.evaluate(() => ({
          bg: getComputedStyle(document.body).backgroundColor,
          text: getComputedStyle(document.body).color,
        }));
        expect(colours, path).toEqual({ bg: 'rgb(17, 19, 24)', text: 'rgb(230, 232, 236)' });
      }
      const login = await anonymous.newPage();
      await login.goto(`${r.url}/dashboard/login`);
      expect(await login.locator('h1').innerText()).toBe('Sign in');
      expect([...errors, ...anonymousErrors]).toEqual([]);
    } finally {
      await context.close();
      await anonymous.close();
    }
  }, 60_000);

  it('passes axe with no serious or critical violation on every page, 1280 and 375 px, light and dark', async () => {
    const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const found: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      for (const viewport of [DESKTOP, PHONE]) {
        // bypassCSP only here: the pages' CSP (script-src 'self') rightly refuses the injected axe
        // script, and these contexts do nothing else. The other tests run under the real policy.
        const context = await newContext({ viewport, colorScheme, bypassCSP: true });
        const anonymous = await browser.newContext({ viewport, colorScheme, bypassCSP: true });
        try {
          const page = await context.newPage();
          const login = await anonymous.newPage();
          const pages: Array<{ name: string; page: Page; path: string }> = [
            ...consolePages().map((p) => ({ ...p, page })),
            { name: 'login', page: login, path: '/dashboard/login' },
          ];
          for (const { name, page: tab, path } of pages) {
            await tab.goto(`${r.url}${path}`);
            await tab.addScriptTag({ content: axeSource });
            const violations = await tab.evaluate(async () => {
              const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
              interface AxeViolation {
                id: string;
                impact: string | null;
                help: string;
                nodes: Array<{ target: unknown[]; failureSummary?: string }>;
              }
              const result = await axe.run();
              return result.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => ({
                  id: v.id,
                  help: v.help,
                  nodes: v.nodes.slice(0, 3).map((n) => `${JSON.stringify(n.target)}: ${n.failureSummary ?? ''}`),
                }));
            });
            for (const v of violations)
              found.push(
                `${name} (${viewport.width} px, ${colorScheme}): ${v.id}: ${v.help}\n  ${v.nodes.join('\n  ')}`,
              );
          }
        } finally {
          await context.close();
          await anonymous.close();
        }
      }
    }
    expect(found).toEqual([]);
  }, 120_000);
});
