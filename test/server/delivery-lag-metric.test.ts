import { afterEach, describe, expect, it } from 'vitest';
import { startWorker } from '../../src/server/index.js';
import { skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

/**
 * docv_delivery_lag_seconds: from an event's receipt to its destination's success, what a user
 * feels of dispatch. Both processes that deliver expose it: the receiver, and a worker beside
 * `serve --no-dispatch`, whose attempts are counted nowhere else.
 */
const TOKEN = 'delivery-lag-metric-token';
const EVENTS = 15;
const backends = await testBackends();

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.split(' ').at(-1));
}

describe.each(backends)('docv_delivery_lag_seconds ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });
  async function sink(): Promise<HttpSink> {
    const s = await startSink();
    cleanup.push(() => s.close());
    return s;
  }

  it('the receiver observes one lag per event delivered, labelled by destination', async () => {
    const target = await sink();
    const r = await startTestReceiver({
      adminToken: TOKEN,
      dispatch: { forwardUrls: [target.url] },
      database: await backend.create(),
    });
    cleanup.push(() => r.destroy());
    const destination = `destination="forward:${new URL(target.url).host}/"`;
    // Events that came through the single source the flags make.
    const label = `${destination},source="default"`;
    // Not yet delivered anything: the histogram is declared, no series yet.
    expect(await scrape(r.url)).toContain('# TYPE docv_delivery_lag_seconds histogram');

    const sent = Date.now();
    for (let i = 0; i < EVENTS; i++) expect((await r.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => target.requests.length === EVENTS, 'every event at the sink');
    // The attempt is observed when the sink's answer is read, a moment after the sink counts it.
    const text = await waitFor(async () => {
      const t = await scrape(r.url);
      return sample(t, `docv_delivery_lag_seconds_count{${label}}`) === EVENTS ? t : null;
    }, 'the lag of every delivery');
    expect(sample(text, `docv_delivery_attempts_total{${destination},outcome="delivered",source="default"}`)).toBe(
      EVENTS,
    );
    // Each lag lies between 0 and the time since the first event was sent.
    const sum = sample(text, `docv_delivery_lag_seconds_sum{${label}}`)!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThanOrEqual((EVENTS * (Date.now() - sent)) / 1000);
    expect(sample(text, `docv_delivery_lag_seconds_bucket{le="60",${label}}`)).toBe(EVENTS);
    expect(sample(text, `docv_delivery_lag_seconds_bucket{le="+Inf",${label}}`)).toBe(EVENTS);
  });

  it('a failed attempt is not a delivery: only the delivered outcome is observed', async () => {
    let refuse = true;
    const target = await sink();
    target.respond = (_req, res) => res.writeHead(refuse ? 503 : 200).end();
    const r = await startTestReceiver({
      adminToken: TOKEN,
      dispatch: { forwardUrls: [target.url], retry: { schedule: [100], maxAttempts: 5, jitter: 0 } },
      database: await backend.create(),
    });
    cleanup.push(() => r.destroy());
    const destination = `destination="forward:${new URL(target.url).host}/"`;
    // Events that came through the single source the flags make.
    const label = `${destination},source="default"`;
    expect((await r.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => target.requests.length >= 1, 'the first attempt');
    refuse = false;
    const text = await waitFor(async () => {
      const t = await scrape(r.url);
      return sample(t, `docv_delivery_lag_seconds_count{${label}}`) === 1 ? t : null;
    }, 'the delivery after a retry');
    expect(
      sample(text, `docv_delivery_attempts_total{${destination},outcome="failed",source="default"}`),
    ).toBeGreaterThanOrEqual(1);
    // The lag runs from receipt, so it includes the wait for the retry.
    expect(sample(text, `docv_delivery_lag_seconds_bucket{le="0.05",${label}}`)).toBe(0);
  });

  it('a worker beside serve --no-dispatch exposes it on its own /metrics', async () => {
    const target = await sink();
    const db = await backend.create();
    const serve = await startTestReceiver({ database: db, dispatch: { enabled: false } });
    cleanup.push(() => serve.destroy());
    const worker = await startWorker({
      db: db.url,
      logLevel: 'silent',
      adminToken: TOKEN,
      metricsPort: 0,
      dispatch: { forwardUrls: [target.url], pollMs: 50 },
    });
    cleanup.push(() => worker.close());
    const destination = `destination="forward:${new URL(target.url).host}/"`;
    // Events that came through the single source the flags make.
    const label = `${destination},source="default"`;

    for (let i = 0; i < EVENTS; i++) expect((await serve.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => target.requests.length === EVENTS, 'every event at the sink');
    const text = await waitFor(async () => {
      const t = await scrape(worker.url!);
      return sample(t, `docv_delivery_lag_seconds_count{${label}}`) === EVENTS ? t : null;
    }, "the lag of every delivery, at the worker's metrics");
    expect(sample(text, `docv_delivery_attempts_total{${destination},outcome="delivered",source="default"}`)).toBe(
      EVENTS,
    );
  });
});
