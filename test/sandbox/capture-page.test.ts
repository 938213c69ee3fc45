import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink, type Sink } from './helpers/sink.js';

/** Debian's Chromium; the test never lets a tool download a browser of its own. */

let browser: Browser;
let sb: SandboxHandle;
let sink: Sink;

beforeAll(async () => {
  browser = await launchChromium('to run the capture page test');
  sink = await startSink();
  sb = await startSandbox({ apiKey: 'k', retrySchedule: '20ms' });
});

afterAll(async () => {
  await browser?.close();
  await sb?.close();
  await sink?.close();
});

describe('capture page', () => {
  it.each(['accept', 'reject', 'resubmit'] as const)(
    'is clicked through to %s, each step sending its event',
    async (outcome) => {
      const api = sandboxClient(sb);
      const { json } = await api.create({
        webhookUrl: sink.url,
        redirectUrl: 'http://127.0.0.1:9/done',
        customerUserId: `page-${outcome}`,
      });
      const id = json.docvTransactionId as string;
      const events = () =>
        sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => [r.json.eventType, r.json.decision]);
      const page = await browser.newPage();
      page.setDefaultTimeout(5_000);
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      const external: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(sb.url)) external.push(r.url());
      });
      try {
        const response = await page.goto(json.sessionUrl as string);
        expect(response?.status()).toBe(200);
        expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
        expect(await page.textContent('#status')).toBe('CREATED');
        expect(await page.isDisabled('#upload-documents')).toBe(true);

        await page.click('#open-app');
        await page.waitForSelector('#status:text("APP_OPENED")');
        await eventually(() => events().length === 1, 'APP_OPENED at the receiver');

        await page.click('#upload-documents');
        await page.waitForSelector('#status:text("DOCUMENTS_UPLOADED")');
        await eventually(() => events().length === 2, 'DOCUMENTS_UPLOADED at the receiver');

        await page.check(`input[name="outcome"][value="${outcome}"]`);
        await page.click('#finish');
        await page.waitForSelector('#result');
        expect(await page.textContent('#result')).toContain(outcome);
        expect(await page.getAttribute('#continue', 'href')).toBe('http://127.0.0.1:9/done');
        await eventually(() => events().length === 3, 'VERIFICATION_COMPLETED at the receiver');
        expect(events()).toEqual([
          ['APP_OPENED', undefined],
          ['DOCUMENTS_UPLOADED', undefined],
          ['VERIFICATION_COMPLETED', outcome],
        ]);
        expect((await api.getDocv(id)).json).toMatchObject({
          status: 'VERIFICATION_COMPLETED',
          decision: { value: outcome },
        });
        // The style loaded under the nonce: the page is styled, and nothing broke the policy.
        expect(await page.$eval('body', (b) => getComputedStyle(b).maxWidth)).not.toBe('none');
        expect(violations).toEqual([]);
        expect(external).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );

  it('answers 404 for an unknown session and refuses a finish before upload', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(5_000);
    try {
      const missing = await page.goto(`${sb.url}/capture/not-a-session`);
      expect(missing?.status()).toBe(404);
      const { json } = await sandboxClient(sb).create({ webhookUrl: sink.url });
      const res = await fetch(`${json.sessionUrl as string}/finish`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'outcome=accept',
        redirect: 'manual',
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('documents are not uploaded yet');
    } finally {
      await page.close();
    }
  });
});
