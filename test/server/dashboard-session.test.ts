import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession, sessionKey, SESSION_TTL_SECONDS } from '../../src/server/dashboard/session.js';
import { startSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { memoryLogger } from '../security/helpers.js';
import { DashboardBrowser } from './dashboard-browser.js';

const TOKEN = 'dashboard-session-token-0123456789';

/** The attributes of a Set-Cookie line, lower-cased names. */
function attributes(line: string): Map<string, string> {
  const [, ...rest] = line.split(';').map((p) => p.trim());
  return new Map(
    rest.map((a) => {
      const at = a.indexOf('=');
      return at < 0 ? [a.toLowerCase(), ''] : [a.slice(0, at).toLowerCase(), a.slice(at + 1)];
    }),
  );
}

describe('dashboard sign-in with the admin token', () => {
  let r: TestReceiver;
  const log = memoryLogger('info');
  beforeAll(async () => {
    r = await startTestReceiver({ adminToken: TOKEN, logger: log.logger, dispatch: { enabled: false } });
    await r.deliver(docvEvent({ docvTransactionId: 'tx-session-1' }));
  });
  afterAll(async () => r?.destroy());

  it('sends a browser without a session to the sign-in form, which asks for the admin token', async () => {
    const browser = new DashboardBrowser(r.url);
    const page = await browser.get('/dashboard/transactions/tx-session-1?tab=events');
    expect(page.status).toBe(303);
    expect(page.location).toBe(
      `/dashboard/login?returnTo=${encodeURIComponent('/dashboard/transactions/tx-session-1?tab=events')}`,
    );
    const login = await browser.get(page.location);
    expect(login.status).toBe(200);
    expect(login.headers.get('content-type')).toContain('text/html');
    expect(login.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(login.headers.get('content-security-policy')).toContain("style-src 'self'");
    expect(login.text).toMatch(/<label for="admin-token">Admin token<\/label>/);
    expect(login.text).toMatch(/<input id="admin-token" name="token" type="password"/);
    expect(login.text).toContain('name="returnTo" value="/dashboard/transactions/tx-session-1?tab=events"');
    // Under no-referrer browsers post forms with `Origin: null`; same-origin keeps the real one.
    expect(login.headers.get('referrer-policy')).toBe('same-origin');
    // What the sign-in page loads is reachable without a session; nothing else is.
    expect((await browser.get('/dashboard/style.css')).status).toBe(200);
    expect((await browser.get('/favicon.ico')).status).toBeLessThan(300);
    expect((await browser.get('/dashboard/deliveries')).status).toBe(303);
    expect(browser.session).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite=Strict session cookie for 12 hours and goes back to the page asked for', async () => {
    const browser = new DashboardBrowser(r.url);
    const signedIn = await browser.signIn(TOKEN, '/dashboard/transactions/tx-session-1?tab=events');
    expect(signedIn.status).toBe(303);
    expect(signedIn.location).toBe('/dashboard/transactions/tx-session-1?tab=events');
    expect(signedIn.setCookies).toHaveLength(1);
    const cookie = signedIn.setCookies[0]!;
    expect(cookie).toMatch(/^docv_session=[A-Za-z0-9_.-]+;/);
    const attrs = attributes(cookie);
    expect(attrs.has('httponly')).toBe(true);
    expect(attrs.get('samesite')).toBe('Strict');
    expect(attrs.get('path')).toBe('/dashboard');
    expect(attrs.get('max-age')).toBe(String(12 * 60 * 60));
    // Plain HTTP: a Secure cookie would never come back.
    expect(attrs.has('secure')).toBe(false);
    expect(cookie).not.toContain(TOKEN);

    const page = await browser.get('/dashboard/transactions/tx-session-1');
    expect(page.status).toBe(200);
    expect(page.text).toContain('tx-session-1');
    // Signed in, the sign-in page has nothing to ask.
    expect((await browser.get('/dashboard/login?returnTo=/dashboard/deliveries')).location).toBe(
      '/dashboard/deliveries',
    );
    // The cookie is for pages: the admin API still wants the bearer token.
    const api = await fetch(`${r.url}/v1/transactions`, { headers: { cookie: `docv_session=${browser.session}` } });
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    // The token reached no log line, the sign-in did.
    expect(log.text()).not.toContain(TOKEN);
    expect(log.text()).toContain('dashboard sign-in');
  });

  it('puts the session’s CSRF token in the sign-out form of its pages', async () => {
    const browser = new DashboardBrowser(r.url);
    await browser.signIn(TOKEN);
    const page = await browser.get('/dashboard/deliveries');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`name="_csrf" value="${browser.csrf(TOKEN)}"`);
  });

  it('never sends the browser outside the dashboard after signing in', async () => {
    for (const returnTo of [
      'https://evil.example/dashboard',
      '//evil.example/dashboard',
      '/dashboard/../v1/transactions',
      '/dashboard\\..\\v1',
      '/v1/transactions',
      '/dashboardx',
      '/dashboard/logout',
    ]) {
      const browser = new DashboardBrowser(r.url);
      const res = await browser.signIn(TOKEN, returnTo);
      expect(res.status, returnTo).toBe(303);
      expect(res.location, returnTo).toBe('/dashboard');
    }
  });

  it('answers a wrong token with 401 and the form again, and sets no cookie', async () => {
    const browser = new DashboardBrowser(r.url);
    const res = await browser.signIn('not-the-token', '/dashboard/deliveries');
    expect(res.status).toBe(401);
    expect(res.text).toMatch(/that token is not right/i);
    expect(res.text).toContain('id="login-form"');
    expect(res.text).toContain('value="/dashboard/deliveries"');
    expect(res.setCookies).toHaveLength(0);
    expect((await browser.signIn('')).status).toBe(401);
    expect(log.text()).not.toContain('not-the-token');
    expect(log.text()).toContain('dashboard sign-in with a wrong token');
  });

  it('refuses a sign-in form posted by another site', async () => {
    const browser = new DashboardBrowser(r.url);
    const res = await browser.post(
      '/dashboard/login',
      { token: TOKEN },
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    );
    expect(res.status).toBe(403);
    expect(res.setCookies).toHaveLength(0);
  });

  it('sends a forged, expired or foreign-key cookie back to the sign-in form', async () => {
    const browser = new DashboardBrowser(r.url);
    await browser.signIn(TOKEN);
    const valid = browser.session!;
    const [id, expiry, signature] = valid.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    const later = String(Number(expiry) + 3600);
    const expired = issueSession(sessionKey(TOKEN), Date.now() - (SESSION_TTL_SECONDS + 60) * 1000).cookieValue;
    const otherToken = issueSession(sessionKey('another-admin-token-0123456789')).cookieValue;
    for (const [label, value] of [
      ['a changed signature', `${id}.${expiry}.${flipped}`],
      ['a longer expiry', `${id}.${later}.${signature}`],
      ['an expired session', expired],
      ['a session of another token', otherToken],
      ['garbage', 'x'],
    ] as const) {
      const res = await fetch(`${r.url}/dashboard`, {
        redirect: 'manual',
        headers: { cookie: `docv_session=${value}` },
      });
      expect(res.status, label).toBe(303);
      expect(res.headers.get('location'), label).toBe('/dashboard/login?returnTo=%2Fdashboard');
    }
    // The genuine one still works.
    const ok = await fetch(`${r.url}/dashboard`, { redirect: 'manual', headers: { cookie: `docv_session=${valid}` } });
    expect(ok.status).toBe(200);
  });

  it('still admits scripts with the bearer token, and no longer takes Basic', async () => {
    expect((await fetch(`${r.url}/dashboard`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const wrongBearer = await fetch(`${r.url}/dashboard`, {
      redirect: 'manual',
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    expect(wrongBearer.status).toBe(401);
    expect(wrongBearer.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    // A browser still sending the Basic login of an older version is sent to the form, not let in.
    const basic = await fetch(`${r.url}/dashboard`, {
      redirect: 'manual',
      headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
    });
    expect(basic.status).toBe(303);
    expect(basic.headers.get('location')).toMatch(/^\/dashboard\/login\b/);
    expect(basic.headers.get('www-authenticate')).toBeNull();
  });

  it('lets a signed-in browser arriving from a link on another site in by loading the page again from here', async () => {
    // SameSite=Strict: a cross-site navigation comes without the cookie.
    const res = await fetch(`${r.url}/dashboard/transactions/tx-session-1`, {
      redirect: 'manual',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('<meta http-equiv="refresh" content="0;url=/dashboard/transactions/tx-session-1">');
    expect(page).not.toContain('tx-session-1</h1>');
  });

  it('refuses a POST without the CSRF token, with another session’s, from another origin, or with no session', async () => {
    const browser = new DashboardBrowser(r.url);
    await browser.signIn(TOKEN);
    const other = new DashboardBrowser(r.url);
    await other.signIn(TOKEN);
    const path = '/dashboard/destinations/nope/pause';
    const refusals: Array<[string, Promise<{ status: number; text: string; location: string }>]> = [
      ['no token', browser.post(path, {})],
      ['an empty token', browser.post(path, { _csrf: '' })],
      ['another session’s token', browser.post(path, { _csrf: other.csrf(TOKEN) })],
      ['another origin', browser.post(path, { _csrf: browser.csrf(TOKEN) }, { origin: 'https://evil.example' })],
      ['a null origin', browser.post(path, { _csrf: browser.csrf(TOKEN) }, { origin: 'null' })],
      ['a cross-site fetch', browser.post(path, { _csrf: browser.csrf(TOKEN) }, { 'sec-fetch-site': 'cross-site' })],
      ['a same-site fetch', browser.post(path, { _csrf: browser.csrf(TOKEN) }, { 'sec-fetch-site': 'same-site' })],
      [
        'a bearer token without a session',
        new DashboardBrowser(r.url).post(path, { _csrf: browser.csrf(TOKEN) }, { authorization: `Bearer ${TOKEN}` }),
      ],
    ];
    for (const [label, pending] of refusals) {
      const res = await pending;
      expect(res.status, label).toBe(403);
      expect(res.text, label).toMatch(/refused/);
      expect(res.location, label).toBe('');
    }
    // The right token from this page: the action runs (and says the destination is unknown).
    const ok = await browser.post(path, { _csrf: browser.csrf(TOKEN), returnTo: '/dashboard/destinations' });
    expect(ok.status).toBe(303);
    expect(ok.location).toMatch(/^\/dashboard\/destinations\?error=No\+destination/);
    // Without a session at all a browser is sent to sign in first.
    const anonymous = await new DashboardBrowser(r.url).post(path, { _csrf: browser.csrf(TOKEN) });
    expect(anonymous.status).toBe(303);
    expect(anonymous.location).toBe('/dashboard/login');
  });

  it('signs out: the cookie is cleared (after the CSRF check) and the pages ask for the token again', async () => {
    const browser = new DashboardBrowser(r.url);
    await browser.signIn(TOKEN);
    expect((await browser.post('/dashboard/logout', {})).status).toBe(403);
    expect(browser.session).toBeDefined();
    const out = await browser.post('/dashboard/logout', { _csrf: browser.csrf(TOKEN) });
    expect(out.status).toBe(303);
    expect(out.location).toBe('/dashboard/login');
    expect(out.setCookies).toHaveLength(1);
    expect(attributes(out.setCookies[0]!).get('max-age')).toBe('0');
    expect(browser.session).toBeUndefined();
    expect((await browser.get('/dashboard')).status).toBe(303);
  });
});

describe('the sign-in failure limiter', () => {
  let r: TestReceiver;
  beforeAll(async () => {
    r = await startTestReceiver({ adminToken: TOKEN, dispatch: { enabled: false } });
  });
  afterAll(async () => r?.destroy());

  it('refuses an address for a while after ten wrong tokens in a minute, the right one included', async () => {
    const browser = new DashboardBrowser(r.url);
    for (let i = 0; i < 10; i++) expect((await browser.signIn(`guess-${i}`)).status).toBe(401);
    const blocked = await browser.signIn('guess-10');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(blocked.text).toMatch(/too many wrong tokens/i);
    const right = await browser.signIn(TOKEN);
    expect(right.status).toBe(429);
    expect(right.setCookies).toHaveLength(0);
    // Scripts with the bearer token are not the sign-in form's business.
    expect((await fetch(`${r.url}/v1/transactions`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
  });
});

describe('the session cookie behind a TLS-terminating proxy', () => {
  let proxied: TestReceiver;
  let direct: TestReceiver;
  beforeAll(async () => {
    proxied = await startTestReceiver({ adminToken: TOKEN, auth: { trustProxy: true }, dispatch: { enabled: false } });
    direct = await startTestReceiver({ adminToken: TOKEN, dispatch: { enabled: false } });
  });
  afterAll(async () => {
    await proxied?.destroy();
    await direct?.destroy();
  });

  // fetch cannot set Host: the proxy says which host the browser asked for in X-Forwarded-Host.
  const viaProxy = {
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-host': 'docv.example.com',
    origin: 'https://docv.example.com',
  };

  it('is Secure when the trusted proxy says the browser came over https, and not otherwise', async () => {
    const https = await new DashboardBrowser(proxied.url).post(
      '/dashboard/login',
      { token: TOKEN },
      { ...viaProxy, 'x-forwarded-proto': 'https' },
    );
    expect(https.status).toBe(303);
    expect(attributes(https.setCookies[0]!).has('secure')).toBe(true);
    const http = await new DashboardBrowser(proxied.url).post(
      '/dashboard/login',
      { token: TOKEN },
      { ...viaProxy, origin: 'http://docv.example.com', 'x-forwarded-proto': 'http' },
    );
    expect(attributes(http.setCookies[0]!).has('secure')).toBe(false);
    // Without --trust-proxy anyone can send the header: it is not believed.
    const spoofed = await new DashboardBrowser(direct.url).post(
      '/dashboard/login',
      { token: TOKEN },
      { 'x-forwarded-proto': 'https' },
    );
    expect(spoofed.status).toBe(303);
    expect(attributes(spoofed.setCookies[0]!).has('secure')).toBe(false);
  });

  it('counts wrong tokens per client behind the proxy, not per proxy', async () => {
    const browser = new DashboardBrowser(proxied.url);
    const guesser = { ...viaProxy, 'x-forwarded-for': '198.51.100.9', 'x-forwarded-proto': 'https' };
    for (let i = 0; i < 11; i++) await browser.post('/dashboard/login', { token: `guess-${i}` }, guesser);
    expect((await browser.post('/dashboard/login', { token: TOKEN }, guesser)).status).toBe(429);
    const someoneElse = await browser.post(
      '/dashboard/login',
      { token: TOKEN },
      { ...viaProxy, 'x-forwarded-proto': 'https' },
    );
    expect(someoneElse.status).toBe(303);
  });
});

describe('the open dashboard on loopback (no admin token)', () => {
  let r: TestReceiver;
  beforeAll(async () => {
    r = await startTestReceiver({ dispatch: { enabled: false } });
  });
  afterAll(async () => r?.destroy());

  it('has no sign-in, and gives each browser an anonymous session its forms are bound to', async () => {
    const browser = new DashboardBrowser(r.url);
    expect((await browser.get('/dashboard/login?returnTo=/dashboard/deliveries')).location).toBe(
      '/dashboard/deliveries',
    );
    // The stylesheet does not hand out sessions (it would replace the page's one).
    expect((await browser.get('/dashboard/style.css')).setCookies).toHaveLength(0);
    const page = await browser.get('/dashboard/deliveries');
    expect(page.status).toBe(200);
    expect(page.setCookies).toHaveLength(1);
    const attrs = attributes(page.setCookies[0]!);
    expect(attrs.has('httponly')).toBe(true);
    expect(attrs.get('samesite')).toBe('Strict');
    expect(attrs.get('path')).toBe('/dashboard');
    // Kept: the next page does not replace it.
    expect((await browser.get('/dashboard/deliveries')).setCookies).toHaveLength(0);

    const path = '/dashboard/destinations/nope/resume';
    expect((await new DashboardBrowser(r.url).post(path, { _csrf: browser.csrf(undefined) })).status).toBe(403);
    expect((await browser.post(path, {})).status).toBe(403);
    const ok = await browser.post(path, { _csrf: browser.csrf(undefined) });
    expect(ok.status).toBe(303);
    expect(ok.location).toMatch(/^\/dashboard\?error=/);
    // Another site's page cannot post to it (refused before the CSRF check, as the admin API's open mode does).
    expect(
      (await browser.post(path, { _csrf: browser.csrf(undefined) }, { origin: 'http://evil.example' })).status,
    ).toBe(403);
  });
});

describe('signing in with a real browser (headless Chromium)', () => {
  let r: TestReceiver;
  beforeAll(async () => {
    r = await startTestReceiver({ adminToken: TOKEN, dispatch: { enabled: false } });
  });
  afterAll(async () => r?.destroy());

  it('signs in with the form, stays signed in after a link from another site, and signs out', async () => {
    const target = `${r.url}/dashboard/deliveries`;
    // Another site (localhost is not 127.0.0.1's site) linking to the dashboard.
    const elsewhere = await startSink((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<a id="go" href="${target}">dashboard</a>`),
    );
    const browser = await launchChromium('to run the dashboard sign-in browser test');
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(`${r.url}/dashboard/transactions`);
      expect(new URL(page.url()).pathname).toBe('/dashboard/login');
      await page.getByLabel('Admin token').fill('not-the-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/that token is not right/i);
      // The browser logs the 401 of that answer as a console error: the one error expected.
      expect(errors).toEqual([expect.stringContaining('401')]);
      errors.length = 0;
      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${r.url}/dashboard/transactions`);
      const [cookie] = await page.context().cookies();
      expect(cookie).toMatchObject({ name: 'docv_session', httpOnly: true, sameSite: 'Strict', path: '/dashboard' });

      // SameSite=Strict: the link's navigation comes without the cookie; the page loads itself again from here.
      await page.goto(elsewhere.url.replace('127.0.0.1', 'localhost'));
      await page.click('#go');
      await page.waitForURL(target);
      await expect.poll(() => page.title()).toMatch(/^Deliveries/);

      // Sign out is a CSRF-checked POST from the page (its Origin is sent: referrer policy same-origin).
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${r.url}/dashboard/login`);
      expect(await page.context().cookies()).toHaveLength(0);
      await page.goto(target);
      expect(new URL(page.url()).pathname).toBe('/dashboard/login');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await elsewhere.close();
    }
  }, 60_000);
});
