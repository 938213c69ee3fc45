import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

const API_KEY = 'decision-fetch-key';

/**
 * Get A DocV Transaction against the real sandbox over HTTP, through a proxy that answers 500
 * to the first request for each transaction: the fetch is retried like any delivery.
 */
const backends = await testBackends();

describe.each(backends)('decision fetch (Get A DocV Transaction) ($name)', (backend) => {
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
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(await upstream.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    sink = await startSink();
    receiver = await startTestReceiver({
      database: await backend.create(),
      socure: { baseUrl: proxyUrl, apiKey: API_KEY, timeoutMs: 5_000 },
      dispatch: { retry: { schedule: [20, 50, 100], maxAttempts: 6, jitter: 0 }, forwardUrls: [sink.url], decisionWaitMs: 10_000 },
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
    const tx = sandbox.createTransaction({ webhookUrl: receiver.webhookUrl, scenario: 'reject', chaos: { omitDecision: 1 } });
    const view = await waitFor(
      async () => {
        const r = await receiver.admin(`/v1/transactions/${tx.docvTransactionId}`);
        return r.status === 200 && r.json.decisionSource === 'api' ? r.json : null;
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

    const sandboxView = await (await fetch(`${sandbox.url}/api/3.0/documents/${tx.docvTransactionId}`, { headers: { authorization: `SocureApiKey ${API_KEY}` } })).json();
    expect(sandboxView.decision.value).toBe('reject');
    expect(view.reasonCodes).toEqual(sandboxView.decision.reasonCodes);

    // The forwarded VERIFICATION_COMPLETED waited for the fetch and carries the decision.
    const forwarded = await waitFor(
      () => sink.requests.map((r) => JSON.parse(r.body)).find((b) => b.docvTransactionId === tx.docvTransactionId && b.eventType === 'VERIFICATION_COMPLETED'),
      'forwarded completion',
    );
    expect(forwarded.decision).toMatchObject({ value: 'reject', reasonCodes: view.reasonCodes });
    expect(forwarded.decision.details).toBeUndefined();

    // Document data is PII: not kept unless DOCV_STORE_DOCUMENT_DATA=true.
    expect(await receiver.database.rows('SELECT decision, details FROM decisions WHERE docv_transaction_id = ?', tx.docvTransactionId)).toEqual([
      { decision: 'reject', details: null },
    ]);
  });
});
