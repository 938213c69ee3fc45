import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { dashboardRoutes } from '../../src/server/dashboard/routes.js';
import { MAX_LIVE_STREAMS } from '../../src/server/dashboard/live.js';
import { openStore, type Store } from '../../src/store/index.js';
import { sqliteDatabase } from '../helpers/backends.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, tempDir, type TestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'live-token';

interface SseMessage {
  id?: string;
  event: string;
  data: any;
}

/** An open /dashboard/live stream, its messages parsed as they arrive. */
interface LiveStream {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  /** Comments (`: heartbeat`) and the `retry:` line, as they came. */
  raw: string;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

async function openLive(
  base: string,
  path = '/dashboard/live',
  headers: Record<string, string> = {},
): Promise<LiveStream> {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const stream: LiveStream = {
    status: res.status,
    headers: res.headers,
    messages: [],
    raw: '',
    ended: Promise.resolve(),
    close: () => abort.abort(),
  };
  if (res.status !== 200 || !res.body) {
    await res.text();
    return stream;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  stream.ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const text = decoder.decode(value, { stream: true });
        stream.raw += text;
        buffer += text;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(': '))
              .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
          );
          if (fields.event && fields.data)
            stream.messages.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return stream;
}

const eventsOf = (s: LiveStream) => s.messages.filter((m) => m.event === 'event').map((m) => m.data);

describe('dashboard live updates (server-sent events)', () => {
  let r: TestReceiver;
  let sink: HttpSink;
  const open: LiveStream[] = [];
  const live = async (path?: string, headers?: Record<string, string>) => {
    const s = await openLive(r.url, path, headers);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    sink = await startSink((req, res) => res.writeHead(req.body.includes('tx-live-fail') ? 500 : 200).end('x'));
    r = await startTestReceiver({
      adminToken: TOKEN,
      dispatch: {
        forwardUrls: [`${sink.url}/docv`],
        // The failed state lasts 4 s: two of the hub's delivery polls (every 2 s) even on a busy machine.
        retry: { schedule: [4_000], maxAttempts: 2, jitter: 0 },
        pollMs: 20,
      },
    });
    expect((await r.deliver(docvEvent({ docvTransactionId: 'tx-live-before' }))).status).toBe(200);
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await r?.destroy();
    await sink?.close();
  });

  it('sends a new event with its rendered rows and the transaction status after an ingest', async () => {
    const s = await live();
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toContain('text/event-stream');
    expect(s.headers.get('cache-control')).toBe('no-store');
    // Give the poller its starting point, then ingest.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const delivered = await r.deliver(
      docvEvent({ docvTransactionId: 'tx-live-<1>', eventType: 'VERIFICATION_COMPLETED', decision: 'accept' }),
    );
    const eventId = delivered.json.eventId as string;
    const m = await waitFor(() => eventsOf(s).find((e) => e.eventId === eventId), 'the live event', 5_000);
    expect(m).toMatchObject({
      docvTransactionId: 'tx-live-<1>',
      eventType: 'VERIFICATION_COMPLETED',
      status: 'VERIFICATION_COMPLETED',
      decision: 'accept',
    });
    // Rows as the pages render them: escaped, with the row's id for replacing it.
    expect(m.rows.events).toContain(`<tr data-id="${eventId}">`);
    expect(m.rows.transactions).toContain('<tr data-id="tx-live-&lt;1&gt;">');
    expect(m.rows.transactions).not.toContain('<1>');
    expect(m.rows.timeline).toContain(`<li id="event-${eventId}"`);
    expect(s.messages.find((x) => x.event === 'event' && x.data.eventId === eventId)?.id).toBe(eventId);
    // The event that was there before the stream opened is not sent as new.
    expect(eventsOf(s).some((e) => e.docvTransactionId === 'tx-live-before')).toBe(false);
    const counts = await waitFor(
      () => s.messages.filter((x) => x.event === 'counts').find((x) => x.data.counts.events >= 2),
      'counts',
      8_000,
    );
    expect(counts.data.counts['status:VERIFICATION_COMPLETED']).toBe(1);
    expect(counts.data.counts['decision:accept']).toBe(1);
    s.close();
  });

  it('narrows to one transaction, and follows its deliveries as they change state', async () => {
    const one = await live('/dashboard/live?transaction=tx-live-fail');
    const all = await live();
    // Closed whatever happens: a stream left open would count against the next test's limit.
    onTestFinished(() => {
      one.close();
      all.close();
    });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const other = await r.deliver(docvEvent({ docvTransactionId: 'tx-live-other' }));
    const mine = await r.deliver(docvEvent({ docvTransactionId: 'tx-live-fail' }));
    await waitFor(() => eventsOf(one).find((e) => e.eventId === mine.json.eventId), 'its event', 5_000);
    await waitFor(() => eventsOf(all).find((e) => e.eventId === other.json.eventId), 'the other event', 5_000);
    expect(eventsOf(one).map((e) => e.docvTransactionId)).toEqual(['tx-live-fail']);
    // Failing (500), then dead after the second attempt: the stream says so.
    await waitFor(
      () => one.messages.find((x) => x.event === 'delivery' && x.data.state === 'failed'),
      'the delivery failing',
      10_000,
    );
    const dead = await waitFor(
      () => one.messages.find((x) => x.event === 'delivery' && x.data.state === 'dead'),
      'the delivery going dead',
      15_000,
    );
    expect(dead.data).toMatchObject({ state: 'dead', attempts: 2 });
    expect(all.messages.some((x) => x.event === 'delivery')).toBe(false);
    one.close();
    all.close();
  });

  it('resumes from Last-Event-ID: a reconnecting stream gets what it missed', async () => {
    const watcher = await live();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const first = await r.deliver(docvEvent({ docvTransactionId: 'tx-live-resume' }));
    const second = await r.deliver(docvEvent({ docvTransactionId: 'tx-live-resume', eventType: 'DOCUMENTS_UPLOADED' }));
    await waitFor(() => eventsOf(watcher).find((e) => e.eventId === second.json.eventId), 'both events', 5_000);
    const resumed = await live('/dashboard/live', { 'last-event-id': first.json.eventId });
    const got = await waitFor(
      () => eventsOf(resumed).find((e) => e.eventId === second.json.eventId),
      'the missed event',
      3_000,
    );
    expect(got.docvTransactionId).toBe('tx-live-resume');
    expect(eventsOf(resumed).some((e) => e.eventId === first.json.eventId)).toBe(false);
    watcher.close();
    resumed.close();
  });

  it(`refuses more than ${MAX_LIVE_STREAMS} streams at once (503), and takes new ones once some close`, async () => {
    // Streams closed by earlier tests are gone once the server saw them close.
    const streams: LiveStream[] = [];
    await waitFor(async () => {
      const s = await live();
      if (s.status === 200) streams.push(s);
      return s.status === 503 || streams.length > MAX_LIVE_STREAMS;
    }, 'the limit');
    expect(streams).toHaveLength(MAX_LIVE_STREAMS);
    const refused = await live();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    for (const s of streams) s.close();
    await waitFor(async () => {
      const s = await live();
      s.close();
      return s.status === 200;
    }, 'a stream to be taken again');
  });

  it('is behind the admin guard', async () => {
    const res = await fetch(`${r.url}/dashboard/live`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('/dashboard/login');
  });
});

describe('a live stream ends after its lifetime and beats while quiet', () => {
  let app: FastifyInstance;
  let store: Store;
  let base: string;
  /** listEvents calls: the hub's polls. */
  let polls = 0;
  beforeAll(async () => {
    store = await openStore(sqliteDatabase(`${tempDir()}/live.db`).url);
    await store.migrate();
    const counting = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'listEvents') polls++;
        const value = Reflect.get(target, name, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    app = Fastify();
    await app.register(dashboardRoutes, {
      store: counting,
      reprocess: () => Promise.reject(new Error('not here')),
      listeningOnLoopback: true,
      storeDocumentData: false,
      live: { lifetimeMs: 600, heartbeatMs: 150 },
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
  });

  it('sends heartbeats and the retry delay, then closes (the browser reconnects)', async () => {
    const s = await openLive(base);
    expect(s.status).toBe(200);
    const started = Date.now();
    await s.ended;
    const lasted = Date.now() - started;
    expect(lasted).toBeGreaterThanOrEqual(450);
    expect(lasted).toBeLessThan(3_000);
    expect(s.raw.startsWith('retry: 3000\n')).toBe(true);
    expect(s.raw.match(/: heartbeat\n\n/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('stops reading the store once no stream is open', async () => {
    const s = await openLive(base);
    await new Promise((resolve) => setTimeout(resolve, 250));
    s.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = polls;
    expect(after).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(polls).toBe(after);
  });

  it('ends open streams when the server closes', async () => {
    const s = await openLive(base);
    const closing = app.close();
    await s.ended;
    await closing;
  });
});
