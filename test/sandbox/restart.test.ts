import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink, type Sink } from './helpers/sink.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('restart', () => {
  it('resumes pending retries and the rest of a flow from its SQLite file, losing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'docv-sandbox-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = `sqlite:${join(dir, 'sandbox.db')}`;
    let receiverUp = false;
    const sink: Sink = await startSink(() => (receiverUp ? { status: 200 } : { status: 503 }));
    cleanup.push(() => sink.close());
    const options = { db, apiKey: 'k', retrySchedule: '40ms,40ms,40ms,40ms,40ms,40ms,40ms,40ms,40ms,40ms' };

    let sb: SandboxHandle = await startSandbox(options);
    let closed = false;
    cleanup.push(() => (closed ? undefined : sb.close()));
    const api = sandboxClient(sb);
    const api1Url = sb.url;
    // Opened at 10 ms, uploaded at 40 ms, completed at 47.5 ms of wall-clock time.
    const { json } = await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'accept', timeScale: 0.0005 } });
    const accepted = json.docvTransactionId as string;
    // This one is only opened before the restart; its expiry (at 1.8 s) happens after it.
    const expiring = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'expire', timeScale: 0.001 } }))
      .json.docvTransactionId as string;
    await eventually(() => sink.received.length >= 3, 'failing attempts before the restart');
    expect((await api.inspect(expiring)).json.plannedSteps).toEqual([
      expect.objectContaining({ eventType: 'SESSION_EXPIRED' }),
    ]);
    await sb.close();
    closed = true;
    const before = sink.received.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received.length).toBe(before);

    receiverUp = true;
    // Same port, as `docv-webhooks sandbox --port` would restart: old session URLs stay valid.
    sb = await startSandbox({ ...options, port: Number(new URL(api1Url).port) });
    closed = false;
    const api2 = sandboxClient(sb);
    await sb.settled(5_000);

    const delivered = (id: string) =>
      sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => r.json.eventType as string);
    const deliveries = (await api2.deliveries('?limit=1000')).json.deliveries as Array<{
      docvTransactionId: string;
      eventType: string;
      status: string;
    }>;
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect(deliveries.filter((d) => d.docvTransactionId === accepted).map((d) => d.eventType)).toEqual([
      'APP_OPENED',
      'DOCUMENTS_UPLOADED',
      'VERIFICATION_COMPLETED',
    ]);
    expect(deliveries.filter((d) => d.docvTransactionId === expiring).map((d) => d.eventType)).toEqual([
      'APP_OPENED',
      'SESSION_EXPIRED',
    ]);
    // What the receiver saw last for each event is a success, and in order.
    const lastOf = (id: string) => [...new Set(delivered(id))];
    expect(lastOf(accepted)).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED']);
    expect((await api2.getDocv(accepted)).json).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: { value: 'accept' },
    });
    expect((await api2.getDocv(expiring)).json).toMatchObject({ status: 'SESSION_EXPIRED' });
    expect((await api2.getDocv(expiring)).json).not.toHaveProperty('decision');
    // The same key still opens the API, and the capture page of the old session still works.
    expect((await fetch(json.sessionUrl as string)).status).toBe(200);
  });
});
