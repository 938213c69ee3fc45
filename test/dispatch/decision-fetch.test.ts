import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { DECISION_FETCH_DESTINATION } from '../../src/store/index.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

const API_KEY = 'decision-fetch-key';

/**
 * Get A DocV Transaction against the real sandbox over HTTP, through a proxy that answers 500
 * to the first request for each transaction: the fetch is retried like any delivery.
 */
const backends = await testBackends();

describe.each(backends)('decision fetch, profile API, against the sandbox ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let sandbox: SandboxHandle;
  let proxy: Server;
  let proxyUrl: string;
  let receiver: TestReceiver;
  let sink: HttpSink;
  const proxied: Array<{ path: string; status: number; auth: string | undefined }> = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ apiKey: API_KEY, timeScale: 0.0001, retrySchedule: '20ms,50ms,100ms' });
    const failedOnce = new Set<string>();
    proxy = createServer(async (req, res) => {
      const path = req.url ?? '/';
      if (!failedOnce.has(path)) {
        failedOnce.add(path);
        proxied.push({ path, status: 500, auth: req.headers.authorization });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream hiccup');
        return;
      }
      const upstream = await fetch(sandbox.url + path, { headers: { authorization: req.headers.authorization ?? '' } });
      proxied.push({ path, status: upstream.status, auth: req.headers.authorization });
      res
        .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
        .end(await upstream.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    sink = await startSink();
    receiver = await startTestReceiver({
      database: await backend.create(),
      // The sandbox answers the profile's Get A DocV Transaction, not ID+'s result.
      socure: { baseUrl: proxyUrl, apiKey: API_KEY, api: 'profile', timeoutMs: 5_000 },
      dispatch: {
        retry: { schedule: [20, 50, 100], maxAttempts: 6, jitter: 0 },
        forwardUrls: [sink.url],
        decisionWaitMs: 10_000,
      },
    });
  });

  afterAll(async () => {
    await receiver?.destroy();
    await sandbox?.close();
    await sink?.close();
    proxy?.closeAllConnections();
    proxy?.close();
  });

  it('fetches the decision after a 500, records it with source api and reason codes, and forwards it', async () => {
    const tx = sandbox.createTransaction({
      webhookUrl: receiver.webhookUrl,
      scenario: 'reject',
      chaos: { omitDecision: 1 },
    });
    const view = await waitFor(
      async () => {
        const r = await receiver.admin(`/v1/transactions/${tx.docvTransactionId}`);
        // The upload's fetch may get the decision before the completion is in: wait for both.
        return r.status === 200 && r.json.decisionSource === 'api' && r.json.status === 'VERIFICATION_COMPLETED'
          ? r.json
          : null;
      },
      'decision from the API',
      15_000,
    );
    expect(view).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: 'reject', decisionSource: 'api' });
    expect(view.reasonCodes.length).toBeGreaterThan(0);
    // The event itself carried no decision: nothing to disagree with.
    expect(view.anomalies).toEqual([]);

    const calls = proxied.filter((p) => p.path === `/api/3.0/documents/${tx.docvTransactionId}`);
    expect(calls.map((c) => c.status)).toEqual([500, 200]);
    expect(calls.every((c) => c.auth === `SocureApiKey ${API_KEY}`)).toBe(true);

    const sandboxView = await (
      await fetch(`${sandbox.url}/api/3.0/documents/${tx.docvTransactionId}`, {
        headers: { authorization: `SocureApiKey ${API_KEY}` },
      })
    ).json();
    expect(sandboxView.decision.value).toBe('reject');
    expect(view.reasonCodes).toEqual(sandboxView.decision.reasonCodes);

    // The forwarded VERIFICATION_COMPLETED waited for the fetch and carries the decision. At this
    // time scale the upload's fetch gets it (after its 500) and the completion's fetch finds it
    // known and makes no call: the forward must then carry the decision fetched for the upload
    // (the store's claim looks it up by transaction, not only by event).
    const forwarded = await waitFor(
      () =>
        sink.requests
          .map((r) => JSON.parse(r.body))
          .find((b) => b.docvTransactionId === tx.docvTransactionId && b.eventType === 'VERIFICATION_COMPLETED'),
      'forwarded completion',
    );
    expect(forwarded.decision).toMatchObject({ value: 'reject', reasonCodes: view.reasonCodes });
    expect(forwarded.decision.details).toBeUndefined();

    // Document data is PII: not kept unless DOCV_STORE_DOCUMENT_DATA=true.
    expect(
      await receiver.database.rows(
        'SELECT decision, details FROM decisions WHERE docv_transaction_id = ?',
        tx.docvTransactionId,
      ),
    ).toEqual([{ decision: 'reject', details: null }]);
  });
});

/** Socure's ID+ result call, played by a local server: answers are scripted per transaction. */
interface FakeSocure {
  url: string;
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }>;
  /** How to answer the n-th call (0-based) for a transaction; unscripted ones have no decision yet. */
  script(docvTransactionId: string, answer: (n: number, res: ServerResponse) => void): void;
  callsFor(docvTransactionId: string): number;
  close(): Promise<void>;
}

async function startFakeSocure(): Promise<FakeSocure> {
  const scripts = new Map<string, (n: number, res: ServerResponse) => void>();
  const calls = new Map<string, number>();
  const requests: FakeSocure['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const id = String(body.docvTransactionToken);
      const n = calls.get(id) ?? 0;
      calls.set(id, n + 1);
      (scripts.get(id) ?? ((_n, r) => answerJson(r, idplusResult(undefined))))(n, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script: (id, answer) => void scripts.set(id, answer),
    callsFor: (id) => calls.get(id) ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answerJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** An ID+ answer as socure-delivery-facts.md describes it; without `decision`, not decided yet. */
function idplusResult(
  decision: { name?: string; value: string } | undefined,
  reasonCodes: string[] = [],
): Record<string, unknown> {
  return {
    referenceId: 'ref-fetch',
    previousReferenceId: 'ref-create',
    documentVerification: {
      reasonCodes,
      documentType: { type: 'Drivers License', country: 'USA', state: 'MD' },
      ...(decision ? { decision } : {}),
      documentData: { firstName: 'Dwayne', surName: 'Denver', documentNumber: 'D-123' },
    },
    customerProfile: { customerUserId: 'user-42' },
  };
}

describe.each(backends)('decision fetch over ID+, the default ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let socure: FakeSocure;
  let sink: HttpSink;
  /** Retries fast, at most 8 attempts, the default 10-minute pending bound. */
  let receiver: TestReceiver;
  /** A pending bound of 300 ms and attempts to spare: the bound ends the fetch, not the budget. */
  let bounded: TestReceiver;

  beforeAll(async () => {
    socure = await startFakeSocure();
    sink = await startSink();
    receiver = await startTestReceiver({
      database: await backend.create(),
      socure: { baseUrl: socure.url, apiKey: API_KEY, timeoutMs: 5_000 },
      dispatch: {
        retry: { schedule: [20, 50, 100], maxAttempts: 8, jitter: 0 },
        forwardUrls: [sink.url],
        decisionWaitMs: 10_000,
      },
    });
    bounded = await startTestReceiver({
      database: await backend.create(),
      socure: { baseUrl: socure.url, apiKey: API_KEY, timeoutMs: 5_000, decisionPendingMaxMs: 300 },
      dispatch: { retry: { schedule: [50], maxAttempts: 1_000, jitter: 0 } },
    });
  });

  afterAll(async () => {
    await receiver?.destroy();
    await bounded?.destroy();
    await sink?.close();
    await socure?.close();
  });

  async function fetchDelivery(r: TestReceiver, docvTransactionId: string, state?: string) {
    return waitFor(
      async () => {
        const list = await r.admin(
          `/v1/deliveries?docvTransactionId=${encodeURIComponent(docvTransactionId)}&destination=${DECISION_FETCH_DESTINATION}`,
        );
        const item = list.json.items?.[0];
        return item && (state === undefined || item.state === state) ? item : null;
      },
      `decision fetch of ${docvTransactionId}${state ? ` in state ${state}` : ''}`,
      15_000,
    );
  }

  async function transactionWhere(
    r: TestReceiver,
    docvTransactionId: string,
    ok: (view: Record<string, unknown>) => boolean,
  ) {
    return waitFor(
      async () => {
        const t = await r.admin(`/v1/transactions/${encodeURIComponent(docvTransactionId)}`);
        return t.status === 200 && ok(t.json) ? t.json : null;
      },
      `transaction ${docvTransactionId}`,
      15_000,
    );
  }

  it('asks ID+ when documents are uploaded: the request, the decision in any case, its logic and reason codes', async () => {
    const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED', customerUserId: 'user-42' });
    const id = String(event.docvTransactionId);
    socure.script(id, (_n, res) =>
      answerJson(res, idplusResult({ name: 'lenient', value: 'ACCEPT' }, ['I831', 'R810'])),
    );
    expect((await receiver.deliver(event)).status).toBe(200);

    const view = await transactionWhere(receiver, id, (v) => v.decisionSource === 'api');
    expect(view).toMatchObject({ decision: 'accept', decisionSource: 'api', reasonCodes: ['I831', 'R810'] });
    const [req, ...more] = socure.requests.filter((r) => r.body.docvTransactionToken === id);
    expect(more).toEqual([]);
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/api/3.0/EmailAuthScore');
    expect(req!.headers.authorization).toBe(`SocureApiKey ${API_KEY}`);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers.accept).toBe('application/json');
    expect(req!.body).toEqual({
      modules: ['documentverification'],
      docvTransactionToken: id,
      customerUserId: 'user-42',
    });
    expect(await fetchDelivery(receiver, id, 'delivered')).toMatchObject({ attempts: 1 });
    // The decision logic is kept; document data (PII) is not, unless asked for.
    expect(
      await receiver.database.rows(
        'SELECT decision, decision_name, details FROM decisions WHERE docv_transaction_id = ?',
        id,
      ),
    ).toEqual([{ decision: 'accept', decision_name: 'lenient', details: null }]);
  });

  it('a completion without its decision: review counts, and the forward waits for it', async () => {
    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED' });
    delete event.customerUserId;
    const id = String(event.docvTransactionId);
    socure.script(id, (_n, res) => answerJson(res, idplusResult({ name: 'standard', value: 'review' }, ['R810'])));
    expect((await receiver.deliver(event)).status).toBe(200);

    const forwarded = await waitFor(
      () =>
        sink.requests
          .map((r) => JSON.parse(r.body))
          .find((b) => b.docvTransactionId === id && b.eventType === 'VERIFICATION_COMPLETED'),
      'forwarded completion',
    );
    expect(forwarded.decision).toMatchObject({ value: 'review', name: 'standard', reasonCodes: ['R810'] });
    expect(await transactionWhere(receiver, id, (v) => v.decision !== null)).toMatchObject({
      decision: 'review',
      decisionSource: 'api',
    });
    // No customerUserId anywhere: none is sent.
    expect(socure.requests.find((r) => r.body.docvTransactionToken === id)!.body).toEqual({
      modules: ['documentverification'],
      docvTransactionToken: id,
    });
  });

  it('asks again while the answer has no decision yet, then records it', async () => {
    const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
    const id = String(event.docvTransactionId);
    socure.script(id, (n, res) => answerJson(res, idplusResult(n < 2 ? undefined : { value: 'reject' }, ['R810'])));
    await receiver.deliver(event);

    await transactionWhere(receiver, id, (v) => v.decision === 'reject');
    const row = await fetchDelivery(receiver, id, 'delivered');
    const history = (await receiver.admin(`/v1/deliveries/${row.deliveryId}`)).json.history;
    expect(history.map((h: { outcome: string; error: string | null }) => [h.outcome, h.error])).toEqual([
      ['failed', 'no decision in the response yet'],
      ['failed', 'no decision in the response yet'],
      ['delivered', null],
    ]);
    expect(socure.callsFor(id)).toBe(3);
  });

  it('a completion that carries its decision is confirmed with the API: a forged accept reaches the service beside the real reject', async () => {
    // A completion saying accept, written by whoever holds the webhook secret; Socure says reject.
    const completion = docvEvent({
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      eventTime: '2026-03-01T10:05:00Z',
    });
    const id = String(completion.docvTransactionId);
    socure.script(id, (_n, res) => answerJson(res, idplusResult({ name: 'standard', value: 'reject' }, ['R827'])));
    await receiver.deliver(completion);

    const view = await transactionWhere(receiver, id, (v) => v.decisionSource === 'api');
    expect(view).toMatchObject({ decision: 'reject', decisionSource: 'api', reasonCodes: ['R827'] });
    expect(view.anomalies).toContainEqual(expect.objectContaining({ code: 'decision_mismatch' }));
    expect(socure.callsFor(id)).toBe(1);
    // The forward waited for the answer: the service sees the event's word and the API's decision.
    const forwarded = await waitFor(
      () =>
        sink.requests
          .map((r) => JSON.parse(r.body))
          .find((b) => b.docvTransactionId === id && b.eventType === 'VERIFICATION_COMPLETED'),
      'forwarded completion',
    );
    expect(forwarded.canonical.decision).toBe('accept');
    expect(forwarded.decision).toMatchObject({ value: 'reject', reasonCodes: ['R827'] });
  });

  it('makes no call once the API has given the transaction its decision', async () => {
    // Out of order: the completion is in, and confirmed, before the upload.
    const completion = docvEvent({
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      eventTime: '2026-03-01T10:05:00Z',
    });
    const id = String(completion.docvTransactionId);
    socure.script(id, (_n, res) => answerJson(res, idplusResult({ value: 'accept' })));
    await receiver.deliver(completion);
    await transactionWhere(receiver, id, (v) => v.decisionSource === 'api');
    await receiver.deliver(
      docvEvent({ eventType: 'DOCUMENTS_UPLOADED', docvTransactionId: id, eventTime: '2026-03-01T10:04:00Z' }),
    );

    await waitFor(async () => {
      const list = await receiver.admin(
        `/v1/deliveries?docvTransactionId=${encodeURIComponent(id)}&destination=${DECISION_FETCH_DESTINATION}&state=delivered`,
      );
      return list.json.items.length === 2 ? list : null;
    }, 'both fetches delivered');
    expect(socure.callsFor(id)).toBe(1);
    expect(await transactionWhere(receiver, id, () => true)).toMatchObject({
      decision: 'accept',
      decisionSource: 'api',
      anomalies: [],
    });
  });

  it("stops an upload's polling once the completion's fetch brings the decision", async () => {
    const upload = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
    const id = String(upload.docvTransactionId);
    let decided = false;
    socure.script(id, (_n, res) => answerJson(res, idplusResult(decided ? { value: 'reject' } : undefined)));
    await receiver.deliver(upload);
    await waitFor(() => socure.callsFor(id) >= 1, 'a first call');
    decided = true;
    await receiver.deliver(
      docvEvent({
        eventType: 'VERIFICATION_COMPLETED',
        docvTransactionId: id,
        decision: 'reject',
        eventTime: '2026-03-01T10:05:00Z',
      }),
    );

    await transactionWhere(receiver, id, (v) => v.decisionSource === 'api');
    await waitFor(async () => {
      const list = await receiver.admin(
        `/v1/deliveries?docvTransactionId=${encodeURIComponent(id)}&destination=${DECISION_FETCH_DESTINATION}&state=delivered`,
      );
      return list.json.items.length === 2 ? list : null;
    }, 'both fetches delivered');
    const calls = socure.callsFor(id);
    await new Promise((r) => setTimeout(r, 300));
    expect(socure.callsFor(id)).toBe(calls);
    expect(await transactionWhere(receiver, id, () => true)).toMatchObject({
      decision: 'reject',
      decisionSource: 'api',
      decisionUnavailable: null,
      anomalies: [],
    });
  });

  it('past the pending bound: the transaction says decision unavailable, and the fetch is dead with the reason', async () => {
    const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
    const id = String(event.docvTransactionId);
    await bounded.deliver(event); // unscripted: never a decision

    const row = await fetchDelivery(bounded, id, 'dead');
    expect(row.lastError).toMatch(
      /^decision unavailable: no decision in the response yet after \d+ attempts over \d+ms \(past the 300ms bound\); the transaction is marked decision-unavailable$/,
    );
    expect(row.attempts).toBeGreaterThan(1);
    const view = await transactionWhere(bounded, id, (v) => Boolean(v.decisionUnavailable));
    expect(view.decision).toBeNull();
    expect(view.decisionUnavailable).toMatchObject({
      reason: expect.stringMatching(/^no decision in the response yet after \d+ attempts/),
    });
    expect(view.anomalies).toContainEqual(expect.objectContaining({ code: 'decision_unavailable' }));
  });

  it('at the last attempt the retry policy allows, the same: marked, and dead with the reason', async () => {
    const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
    const id = String(event.docvTransactionId);
    await receiver.deliver(event); // unscripted: never a decision

    const row = await fetchDelivery(receiver, id, 'dead');
    expect(row.attempts).toBe(8);
    expect(row.lastError).toMatch(
      /after 8 attempts .*\(at the last attempt allowed\); the transaction is marked decision-unavailable$/,
    );
    const view = await transactionWhere(receiver, id, (v) => Boolean(v.decisionUnavailable));
    expect(view.anomalies).toContainEqual(expect.objectContaining({ code: 'decision_unavailable' }));
    expect(socure.callsFor(id)).toBe(8);
  });

  it('stops reading an answer past 1 MiB even without content-length', async () => {
    const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
    const id = String(event.docvTransactionId);
    socure.script(id, (_n, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no content-length
      const chunk = `"${'x'.repeat(64 * 1024)}",`;
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.write('{"padding":[');
      pump();
    });
    await receiver.deliver(event);

    const row = await waitFor(async () => {
      const r = await fetchDelivery(receiver, id);
      return r.lastError ? r : null;
    }, 'a failed attempt');
    expect(row.lastError).toBe('response is over 1048576 bytes (stopped reading there)');
    expect(row.lastStatus).toBe(200);
  });
});
