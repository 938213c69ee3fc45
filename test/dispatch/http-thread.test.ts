import { setMaxListeners } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpThread, type HttpPoster } from '../../src/dispatch/index.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';

describe('forward thread: POSTs made on a worker thread', () => {
  let sink: HttpSink | undefined;
  let poster: HttpPoster | undefined;
  afterEach(async () => {
    await poster?.close();
    await sink?.close();
  });

  it('delivers each post with its headers and body, and maps the answers like an inline POST', async () => {
    sink = await startSink((req, res) => {
      const wanted = Number(new URL(req.url, 'http://x').searchParams.get('status'));
      if (wanted === 503) return res.writeHead(503, { 'retry-after': '7' }).end('busy');
      res.writeHead(wanted).end(wanted >= 400 ? 'gone for good' : 'ok');
    });
    poster = createHttpThread();
    const signal = new AbortController().signal;
    setMaxListeners(100, signal);
    const post = (status: number, i: number) =>
      poster!.post(
        {
          url: `${sink!.url}/in?status=${status}`,
          headers: { 'content-type': 'application/json', 'webhook-id': `dlv_${i}` },
          body: JSON.stringify({ i }),
          timeoutMs: 5_000,
        },
        signal,
      );
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => post(i % 3 === 0 ? 200 : i % 3 === 1 ? 503 : 410, i)),
    );

    expect(sink.requests).toHaveLength(60);
    const byId = new Map(sink.requests.map((r) => [r.headers['webhook-id'], r]));
    for (let i = 0; i < 60; i++) {
      expect(JSON.parse(byId.get(`dlv_${i}`)!.body)).toEqual({ i });
      expect(byId.get(`dlv_${i}`)!.headers['content-type']).toBe('application/json');
    }
    expect(outcomes[0]).toEqual({ outcome: 'delivered', status: 200 });
    expect(outcomes[1]).toEqual({ outcome: 'failed', status: 503, error: 'HTTP 503: busy', retryAfterMs: 7_000 });
    expect(outcomes[2]).toEqual({ outcome: 'dead', status: 410, error: 'HTTP 410: gone for good' });
  });

  it('gives up on a post when its signal aborts, and when its own timeout passes', async () => {
    sink = await startSink(() => undefined); // never answers
    poster = createHttpThread();
    const controller = new AbortController();
    const started = Date.now();
    const aborted = poster.post(
      { url: `${sink.url}/slow`, headers: {}, body: '{}', timeoutMs: 30_000 },
      controller.signal,
    );
    const timedOut = poster.post(
      { url: `${sink.url}/slow`, headers: {}, body: '{}', timeoutMs: 300 },
      new AbortController().signal,
    );
    setTimeout(() => controller.abort(), 200);
    expect((await aborted).outcome).toBe('failed');
    expect(await timedOut).toEqual({ outcome: 'failed', error: 'timed out after 300 ms' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('close fails the posts still out (they are retried like any failure) and later posts run inline', async () => {
    sink = await startSink((req, res) => {
      if (req.url === '/slow') return;
      res.writeHead(200).end('ok');
    });
    poster = createHttpThread();
    const signal = new AbortController().signal;
    const first = await poster.post({ url: `${sink.url}/fast`, headers: {}, body: '{}', timeoutMs: 5_000 }, signal);
    expect(first.outcome).toBe('delivered');
    const pending = poster.post({ url: `${sink.url}/slow`, headers: {}, body: '{}', timeoutMs: 30_000 }, signal);
    await new Promise((r) => setTimeout(r, 100));
    await poster.close();
    expect(await pending).toEqual({ outcome: 'failed', error: 'the forward thread was stopped during the attempt' });
    expect(
      (await poster.post({ url: `${sink.url}/after`, headers: {}, body: '{}', timeoutMs: 5_000 }, signal)).outcome,
    ).toBe('delivered');
    expect(sink.requests.map((r) => r.url)).toEqual(['/fast', '/slow', '/after']);
  });

  it.runIf(process.platform === 'linux')(
    'runs at a lower CPU priority than the threads that acknowledge (Linux nice 10)',
    async () => {
      sink = await startSink();
      const nice = () =>
        readdirSync('/proc/self/task').map((tid) => {
          const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
        });
      const before = nice().filter((n) => n === 10).length;
      poster = createHttpThread();
      expect(
        (await poster.post({ url: sink.url, headers: {}, body: '{}', timeoutMs: 5_000 }, new AbortController().signal))
          .outcome,
      ).toBe('delivered');
      expect(nice().filter((n) => n === 10).length).toBe(before + 1);
      const own = readFileSync('/proc/thread-self/stat', 'utf8');
      expect(Number(own.slice(own.lastIndexOf(')') + 2).split(' ')[16])).toBe(0); // the calling thread keeps its priority
    },
  );
});
