import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, tempDir, type TestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { bannerOf, DashboardBrowser } from './dashboard-browser.js';

const TOKEN = 'dashboard-actions-token-0123456789';
const BEARER = { authorization: `Bearer ${TOKEN}` };
const backends = await testBackends();

async function api(r: TestReceiver, path: string): Promise<any> {
  const res = await r.admin(path, { headers: BEARER });
  expect(res.status, path).toBe(200);
  return res.json;
}

describe.each(backends)('dashboard actions on deliveries and destinations ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let sink: HttpSink;
  let healthy = false;
  let browser: DashboardBrowser;
  let destination: string;
  let deadId: string;

  /** Posts a dashboard form with this browser's CSRF token; returns the banner it redirects to. */
  async function act(path: string, fields: Record<string, string> = {}) {
    const res = await browser.post(path, { _csrf: browser.csrf(TOKEN), ...fields });
    expect(res.status, `${path}: ${res.text}`).toBe(303);
    return bannerOf(res.location);
  }

  const toSink = (tx: string) => sink.requests.filter((q) => q.body.includes(tx));

  beforeAll(async () => {
    sink = await startSink((_req, res) => res.writeHead(healthy ? 200 : 500).end(healthy ? 'ok' : 'down'));
    r = await startTestReceiver({
      adminToken: TOKEN,
      database: await backend.create(),
      dispatch: {
        forwardUrls: [`${sink.url}/docv`],
        retry: { schedule: [10], maxAttempts: 2, jitter: 0 },
        pollMs: 20,
      },
    });
    expect((await r.deliver(docvEvent({ docvTransactionId: 'tx-act-a' }))).status).toBe(200);
    const dead = await waitFor(async () => (await api(r, '/v1/deliveries?state=dead')).items[0], 'a dead delivery');
    deadId = dead.deliveryId;
    destination = dead.destination;
    browser = new DashboardBrowser(r.url);
    expect((await browser.signIn(TOKEN)).status).toBe(303);
  });
  afterAll(async () => {
    await r?.destroy();
    await sink?.close();
  });

  it('retries a dead delivery, which then reaches the destination', async () => {
    expect(toSink('tx-act-a')).toHaveLength(2);
    healthy = true;
    const back = `/dashboard/deliveries/${encodeURIComponent(deadId)}`;
    const banner = await act(`/dashboard/deliveries/${encodeURIComponent(deadId)}/retry`, { returnTo: back });
    expect(banner.path).toBe(back);
    expect(banner.error).toBeNull();
    expect(banner.done).toContain(deadId);
    expect(banner.done).toMatch(/queued for another attempt/);
    await waitFor(
      async () => (await api(r, `/v1/deliveries/${encodeURIComponent(deadId)}`)).state === 'delivered',
      'the retried delivery delivered',
    );
    expect(toSink('tx-act-a')).toHaveLength(3);
    expect(JSON.parse(toSink('tx-act-a')[2]!.body)).toMatchObject({ docvTransactionId: 'tx-act-a' });
  });

  it('says so for an unknown delivery, and goes back to /dashboard when returnTo leaves the dashboard', async () => {
    const banner = await act('/dashboard/deliveries/dlv_nope/retry', { returnTo: 'https://evil.example/' });
    expect(banner.path).toBe('/dashboard');
    expect(banner.error).toMatch(/^No delivery "dlv_nope"/);
  });

  it('replays a transaction to a destination', async () => {
    const before = toSink('tx-act-a').length;
    const back = '/dashboard/transactions/tx-act-a';
    const banner = await act('/dashboard/transactions/tx-act-a/replay', { destination, returnTo: back });
    expect(banner).toEqual({ path: back, done: `Re-queued 1 delivery to ${destination}.`, error: null });
    await waitFor(() => toSink('tx-act-a').length === before + 1, 'the replayed delivery at the sink');

    expect((await act('/dashboard/transactions/tx-act-a/replay', { returnTo: back })).error).toMatch(
      /Choose a destination/,
    );
    expect(
      (await act('/dashboard/transactions/tx-act-a/replay', { destination: 'forward:nowhere', returnTo: back })).error,
    ).toMatch(/^Nothing to replay/);
    expect((await act('/dashboard/transactions/tx-act-nope/replay', { destination, returnTo: back })).error).toMatch(
      /^Nothing to replay/,
    );
  });

  it('replays the filtered deliveries, says how many, and refuses an empty filter or a bad value', async () => {
    await r.deliver(docvEvent({ docvTransactionId: 'tx-act-b' }));
    await r.deliver(docvEvent({ docvTransactionId: 'tx-act-c' }));
    await waitFor(
      async () =>
        (await api(r, `/v1/deliveries?state=delivered&destination=${encodeURIComponent(destination)}`)).items.length ===
        3,
      'three delivered',
    );
    const back = `/dashboard/deliveries?state=delivered&destination=${encodeURIComponent(destination)}`;
    const sent = sink.requests.length;

    const empty = await act('/dashboard/deliveries/replay', { returnTo: back, expected: '3' });
    expect(empty.error).toMatch(/empty filter would replay everything/);
    expect(empty.path).toBe('/dashboard/deliveries');

    for (const [fields, message] of [
      [{ state: 'bogus' }, /^state must be one of pending, failed, delivered, dead/],
      [{ from: 'yesterday' }, /^from must be a date and time/],
      [{ from: '2026-03-02T00:00', to: '2026-03-01T00:00' }, /^from must be before to/],
      [{ state: 'delivered', expected: 'lots' }, /^expected must be a whole number/],
    ] as const) {
      const banner = await act('/dashboard/deliveries/replay', { ...fields, returnTo: back });
      expect(banner.error, JSON.stringify(fields)).toMatch(message);
      expect(banner.done).toBeNull();
    }
    expect((await api(r, '/v1/deliveries?state=pending')).items).toHaveLength(0);
    expect(sink.requests.length).toBe(sent);

    // A time range that holds nothing (datetime-local values, read as UTC).
    const none = await act('/dashboard/deliveries/replay', { from: '2000-01-01T00:00', to: '2000-01-02T00:00' });
    expect(none.done).toBe('Re-queued 0 deliveries.');

    const banner = await act('/dashboard/deliveries/replay', {
      state: 'delivered',
      destination,
      expected: '3',
      returnTo: back,
    });
    expect(banner.done).toBe('Re-queued 3 deliveries.');
    expect(new URL(`http://x${back}`).searchParams.get('state')).toBe('delivered');
    expect(banner.path).toBe('/dashboard/deliveries');
    await waitFor(() => sink.requests.length === sent + 3, 'three replayed deliveries at the sink');
    for (const tx of ['tx-act-b', 'tx-act-c']) expect(toSink(tx)).toHaveLength(2);

    await waitFor(
      async () => (await api(r, '/v1/deliveries?state=pending')).items.length === 0,
      'the replay delivered',
    );
    const changed = await act('/dashboard/deliveries/replay', { state: 'delivered', destination, expected: '2' });
    expect(changed.done).toBe('Re-queued 3 deliveries (the confirmation showed 2: the set changed in between).');
  });

  it('pauses and resumes a destination', async () => {
    const back = '/dashboard/destinations';
    const state = async () =>
      (await api(r, '/v1/destinations')).items.find((d: { name: string }) => d.name === destination).state;
    const paused = await act(`/dashboard/destinations/${encodeURIComponent(destination)}/pause`, { returnTo: back });
    expect(paused).toEqual({ path: back, done: `Destination ${destination} is paused.`, error: null });
    expect(await state()).toBe('disabled');
    const resumed = await act(`/dashboard/destinations/${encodeURIComponent(destination)}/resume`, { returnTo: back });
    expect(resumed.done).toBe(`Destination ${destination} is resumed.`);
    expect(await state()).toBe('active');
    expect((await act('/dashboard/destinations/forward%3Anowhere/pause', { returnTo: back })).error).toBe(
      'No destination "forward:nowhere".',
    );
  });

  it('keeps the query of the page it goes back to, replacing an earlier message', async () => {
    const banner = await browser.post('/dashboard/deliveries/dlv_nope/retry', {
      _csrf: browser.csrf(TOKEN),
      returnTo: '/dashboard/deliveries?state=dead&done=old+news',
    });
    const url = new URL(banner.location, 'http://x');
    expect(url.pathname).toBe('/dashboard/deliveries');
    expect(url.searchParams.get('state')).toBe('dead');
    expect(url.searchParams.get('done')).toBeNull();
    expect(url.searchParams.get('error')).toMatch(/^No delivery/);
  });
});

const SECRET = 'dashboard-actions-webhook-secret-0123';
const AUTH = { authorization: SECRET };

/** A Socure v5 notification: refused by a receiver pinned to the flat contract, accepted by one that reads v5. */
function v5(tx: string) {
  return {
    id: `notif-${tx}`,
    origId: tx,
    eventGroup: 'DocvNotification',
    reason: 'APP_OPENED',
    environmentName: 'Sandbox',
    event: {
      eventType: 'APP_OPENED',
      created: '2026-03-01T10:00:20.114Z',
      message: 'Capture App Opened',
      referenceId: `ref-${tx}`,
      docvTransactionToken: tx,
      customerUserId: 'user-7781',
    },
  };
}

describe.each(backends)('dashboard actions on the quarantine ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let browser: DashboardBrowser;
  const rows: Record<'a' | 'b' | 'invalid', string> = { a: '', b: '', invalid: '' };

  async function act(path: string, fields: Record<string, string> = {}) {
    const res = await browser.post(path, { _csrf: browser.csrf(TOKEN), returnTo: '/dashboard/quarantine', ...fields });
    expect(res.status, `${path}: ${res.text}`).toBe(303);
    const banner = bannerOf(res.location);
    expect(banner.path).toBe('/dashboard/quarantine');
    return banner;
  }

  beforeAll(async () => {
    const dir = tempDir();
    const database = await backend.create();
    // A receiver pinned to the flat contract refuses Socure's v5 shape: the bodies are quarantined.
    const pinned = await startTestReceiver({
      dir,
      database,
      adminToken: TOKEN,
      webhookSecrets: [SECRET],
      dialect: 'asyncapi',
    });
    expect((await pinned.deliver(v5('tx-q-a'), AUTH)).status).toBe(422);
    expect((await pinned.deliver(v5('tx-q-b'), AUTH)).status).toBe(422);
    const invalid = docvEvent({ docvTransactionId: 'tx-q-invalid', eventTime: 'whenever' });
    expect((await pinned.deliver(invalid, AUTH)).status).toBe(422);
    await pinned.close();
    // The same database, now reading every dialect.
    r = await startTestReceiver({
      dir,
      database,
      adminToken: TOKEN,
      webhookSecrets: [SECRET],
      dispatch: { enabled: false },
    });
    const items = (await api(r, '/v1/quarantine')).items as Array<{ quarantineId: string; body: string }>;
    expect(items).toHaveLength(3);
    for (const key of ['a', 'b', 'invalid'] as const)
      rows[key] = items.find((q) => q.body.includes(`tx-q-${key}`))!.quarantineId;
    browser = new DashboardBrowser(r.url);
    expect((await browser.signIn(TOKEN)).status).toBe(303);
  });
  afterAll(async () => r?.destroy());

  it('reprocesses one row: accepted, then a duplicate; a body still invalid says why', async () => {
    const accepted = await act(`/dashboard/quarantine/${rows.a}/reprocess`);
    expect(accepted.error).toBeNull();
    expect(accepted.done).toMatch(/^Reprocessed: accepted as event evt_/);
    expect(await api(r, '/v1/transactions/tx-q-a')).toMatchObject({ status: 'APP_OPENED' });
    expect((await api(r, `/v1/quarantine/${rows.a}`)).reprocessed).toMatchObject({ outcome: 'accepted', status: 200 });

    const again = await act(`/dashboard/quarantine/${rows.a}/reprocess`);
    expect(again.done).toMatch(/^Reprocessed: a duplicate of event evt_.*stored already/);

    const invalid = await act(`/dashboard/quarantine/${rows.invalid}/reprocess`);
    expect(invalid.done).toBeNull();
    expect(invalid.error).toMatch(/^Reprocessed, and still refused \(422 invalid\): /);
    expect((await api(r, `/v1/quarantine/${rows.invalid}`)).reprocessed).toMatchObject({ status: 422 });

    expect((await act('/dashboard/quarantine/qrn_nope/reprocess')).error).toBe('No quarantined delivery "qrn_nope".');
  });

  it('reprocesses the rows a filter selects, counting the outcomes', async () => {
    expect((await act('/dashboard/quarantine/reprocess', { status: 'abc' })).error).toMatch(
      /^status must be a whole number from 100 to 599/,
    );
    expect((await act('/dashboard/quarantine/reprocess', { reprocessed: 'maybe' })).error).toMatch(
      /^reprocessed must be true or false/,
    );
    const bulk = await act('/dashboard/quarantine/reprocess', { reprocessed: 'false', status: '422' });
    expect(bulk.done).toBe('Reprocessed 1 body: 1 accepted, 0 duplicates, 0 still refused.');
    expect(await api(r, '/v1/transactions/tx-q-b')).toMatchObject({ status: 'APP_OPENED' });
    expect((await act('/dashboard/quarantine/reprocess', { reprocessed: 'false' })).error).toBe(
      'Nothing in the quarantine matches this filter.',
    );
    const all = await act('/dashboard/quarantine/reprocess', { reprocessed: 'true' });
    expect(all.done).toBe('Reprocessed 3 bodies: 0 accepted, 2 duplicates, 1 still refused.');
  });
});
