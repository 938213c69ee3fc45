/**
 * Refreshes the dashboard screenshots in docs/img/ (shown in the README and docs/operations.md):
 * a receiver on a scratch SQLite file, the console seed sent through its webhook route, a
 * forward destination that refuses one transaction, then Debian's Chromium, headless, signed in
 * with the admin token. Usage: npm run screenshots (after npm run build is not needed: tsx).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { startReceiver } from '../src/server/index.js';
import { seedConsole, startFlakySink } from '../test/helpers/console-seed.js';

const OUT = fileURLToPath(new URL('../docs/img/', import.meta.url));
const TOKEN = 'screenshot-admin-token';
const SECRET = 'screenshot-webhook-secret';

/** Until nothing is pending or failing and the refused transaction's delivery is dead (at most 15 s). */
async function settled(): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const stats = await receiver.store.stats();
    if (stats.deliveries.pending === 0 && stats.deliveries.failed === 0 && stats.deliveries.dead > 0) return;
    if (Date.now() > deadline) throw new Error(`deliveries did not settle: ${JSON.stringify(stats.deliveries)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'docv-screenshots-'));
const sink = await startFlakySink();
sink.refuse.add('txn-offboarded');
const receiver = await startReceiver({
  port: 0,
  host: '127.0.0.1',
  db: `sqlite:${join(dir, 'receiver.db')}`,
  logLevel: 'silent',
  adminToken: TOKEN,
  webhookSecrets: [SECRET],
  dispatch: { forwardUrls: [`${sink.url}/docv`] },
});
const browser = await launchChromium('to take the screenshots');
try {
  const seed = await seedConsole(async (body) => {
    const res = await fetch(receiver.webhookUrl, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    });
    return { status: res.status, json: await res.json() };
  });
  // Let the dispatcher forward what it can and give up on the refused transaction.
  await settled();
  mkdirSync(OUT, { recursive: true });

  const shoot = async (page: Page, path: string, file: string, fullPage = true, scrollTo?: string) => {
    await page.goto(`${receiver.url}${path}`);
    // Pages that follow the live stream show their pause control once it is open: wait for it, so
    // every run draws the same page.
    if ((await page.locator('main[data-live]').count()) > 0)
      await page.locator('main[data-live-state="open"]').waitFor({ timeout: 5_000 });
    if (scrollTo !== undefined)
      await page
        .locator(scrollTo)
        .evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 8));
    await page.screenshot({ path: join(OUT, file), fullPage });
    process.stdout.write(`docs/img/${file}\n`);
  };
  for (const scheme of ['light', 'dark'] as const) {
    // 1,440 px: a laptop's width, where the deliveries list's nine columns fit without scrolling.
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: scheme });
    const page = await context.newPage();
    await page.goto(`${receiver.url}/dashboard/login`);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(/\/dashboard(\?.*)?$/);
    const suffix = scheme === 'dark' ? '-dark' : '';
    await shoot(page, '/dashboard', `dashboard-overview${suffix}.png`);
    if (scheme === 'light') {
      await shoot(page, `/dashboard/transactions/${encodeURIComponent(seed.outOfOrder)}`, 'dashboard-transaction.png');
      // The first screenful: the filters and the newest deliveries, the dead one with its retry button.
      await shoot(page, '/dashboard/deliveries', 'dashboard-deliveries.png', false);
    }
    await context.close();
  }
  const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2 });
  const page = await phone.newPage();
  await page.goto(`${receiver.url}/dashboard/login`);
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL(/\/dashboard(\?.*)?$/);
  // One screenful from the count down: the search's results as cards (the filters above it stack up).
  await shoot(
    page,
    `/dashboard/transactions?q=${encodeURIComponent(seed.customerUserId)}`,
    'dashboard-phone.png',
    false,
    '#transaction-count',
  );
  await phone.close();
} finally {
  await browser.close();
  await receiver.close();
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
