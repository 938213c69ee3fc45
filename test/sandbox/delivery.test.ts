import { afterEach, describe, expect, it } from 'vitest';
import { computeSignature, decodeSigningSecret } from '../../src/auth/standard-webhooks.js';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink, type Sink } from './helpers/sink.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup(respond: Sink['respond'] | undefined, options: SandboxOptions = {}) {
  const sink = await startSink(respond);
  cleanup.push(() => sink.close());
  const sb = await startSandbox({ apiKey: 'k', retrySchedule: '30ms,30ms,30ms,30ms', ...options });
  cleanup.push(() => sb.close());
  return { sink, sb, api: sandboxClient(sb) };
}

async function manualTransaction(sb: SandboxHandle, sink: Sink, extra: Record<string, unknown> = {}) {
  const res = await sandboxClient(sb).create({ webhookUrl: sink.url, sandbox: { scenario: 'manual', ...extra } });
  expect(res.status).toBe(200);
  return res.json.docvTransactionId as string;
}

type Delivery = { status: string; attempts: number; attemptLog: Array<{ statusCode?: number; error?: string; startedAt: string }> };

describe('delivery engine', () => {
  it('retries a receiver that fails the first attempts, with the same webhook-id, and keeps later events waiting', async () => {
    const { sink, sb, api } = await setup((_r, i) => (i < 3 ? { status: 500, body: '{"oops":1}' } : { status: 200 }));
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    await sb.settled(5_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual(['APP_OPENED', 'APP_OPENED', 'APP_OPENED', 'APP_OPENED', 'DOCUMENTS_UPLOADED']);
    const ids = new Set(sink.received.slice(0, 4).map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(sink.received[4]!.headers['webhook-id']).not.toBe(sink.received[0]!.headers['webhook-id']);
    const { json } = await api.deliveries(`?transaction=${id}`);
    const [first, second] = json.deliveries as Delivery[];
    expect(first).toMatchObject({ status: 'delivered', attempts: 4 });
    expect(first!.attemptLog.map((a) => a.statusCode)).toEqual([500, 500, 500, 200]);
    expect(second).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('gives up when the schedule is exhausted, then delivers what came after', async () => {
    const { sink, sb, api } = await setup((r) => (r.json.eventType === 'APP_OPENED' ? { status: 503 } : { status: 204 }), {
      retrySchedule: '10ms,10ms',
    });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    await sb.settled(5_000);
    const [first, second] = (await api.deliveries(`?transaction=${id}`)).json.deliveries as Delivery[];
    expect(first).toMatchObject({ status: 'failed', attempts: 3 });
    expect(second).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('stops at once on 410 Gone', async () => {
    const { sink, sb, api } = await setup(() => ({ status: 410 }));
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received).toHaveLength(1);
    expect(((await api.deliveries(`?transaction=${id}`)).json.deliveries as Delivery[])[0]).toMatchObject({ status: 'gone', attempts: 1 });
  });

  it('honours Retry-After over a shorter schedule', async () => {
    const { sink, sb, api } = await setup((_r, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }), {
      retrySchedule: '20ms',
    });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.at - sink.received[0]!.at).toBeGreaterThanOrEqual(950);
    const log = ((await api.deliveries(`?transaction=${id}`)).json.deliveries as Array<Delivery & { attemptLog: Array<{ retryAfterMs?: number }> }>)[0]!;
    expect(log.attemptLog[0]!.retryAfterMs).toBe(1000);
  });

  it('times out a slow attempt and retries it', async () => {
    const { sink, sb, api } = await setup((_r, i) => (i === 0 ? { status: 200, delayMs: 2_000 } : { status: 200 }), {
      attemptTimeoutMs: 150,
    });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    const d = ((await api.deliveries(`?transaction=${id}`)).json.deliveries as Delivery[])[0]!;
    expect(d.status).toBe('delivered');
    expect(d.attemptLog[0]!.error).toMatch(/timed out after 150 ms/);
    expect(d.attemptLog[1]!.statusCode).toBe(200);
  });

  it('records a refused connection as an attempt and keeps retrying', async () => {
    const { sink, sb, api } = await setup(undefined, { retrySchedule: '10ms' });
    await sink.close();
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    const d = ((await api.deliveries(`?transaction=${id}`)).json.deliveries as Delivery[])[0]!;
    expect(d).toMatchObject({ status: 'failed', attempts: 2 });
    expect(d.attemptLog[0]!.error).toMatch(/ECONNREFUSED/);
  });

  it('authenticates with the shared secret and Standard Webhooks signatures, fresh per attempt', async () => {
    const secrets = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'plain-rotation-secret'];
    const { sink, sb, api } = await setup((_r, i) => ({ status: i === 0 ? 500 : 200 }), {
      webhookSecret: 'socure-dashboard-secret',
      signingSecrets: secrets,
    });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    expect(sink.received).toHaveLength(2);
    for (const r of sink.received) {
      expect(r.headers.authorization).toBe('socure-dashboard-secret');
      expect(r.headers['content-type']).toBe('application/json');
      const webhookId = r.headers['webhook-id'] as string;
      const timestamp = r.headers['webhook-timestamp'] as string;
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(5);
      const sigs = (r.headers['webhook-signature'] as string).split(' ');
      expect(sigs).toEqual(secrets.map((s) => `v1,${computeSignature(decodeSigningSecret(s), webhookId, timestamp, r.body)}`));
    }
  });

  it('delivers each transaction in order while transactions run in parallel', async () => {
    const { sink, sb } = await setup(() => ({ status: 200, delayMs: 20 }), { timeScale: 0 });
    // Created in one go (no HTTP round trips in between), so all five flows are due at once.
    const ids = Array.from({ length: 5 }, () => sb.createTransaction({ webhookUrl: sink.url, scenario: 'accept' }).docvTransactionId);
    await sb.settled(5_000);
    for (const id of ids) {
      expect(sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => r.json.eventType)).toEqual([
        'APP_OPENED',
        'DOCUMENTS_UPLOADED',
        'VERIFICATION_COMPLETED',
      ]);
    }
    // Parallel, not one transaction after another: the first request of some later transaction
    // arrived before the last request of the first one.
    const lastOfFirst = sink.received.findLastIndex((r) => r.json.docvTransactionId === ids[0]);
    const firstOfLast = sink.received.findIndex((r) => r.json.docvTransactionId === ids[4]);
    expect(firstOfLast).toBeLessThan(lastOfFirst);
  });
});

describe('chaos', () => {
  const scenario = { scenario: 'accept', timeScale: 0.0005 };

  it('duplicates deliver the same webhook-id and body twice', async () => {
    const { sink, sb, api } = await setup(undefined);
    const { json } = await api.create({ webhookUrl: sink.url, sandbox: { ...scenario, chaos: { duplicates: 1 } } });
    await sb.settled(5_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual([
      'APP_OPENED',
      'APP_OPENED',
      'DOCUMENTS_UPLOADED',
      'DOCUMENTS_UPLOADED',
      'VERIFICATION_COMPLETED',
      'VERIFICATION_COMPLETED',
    ]);
    for (let i = 0; i < 6; i += 2) {
      expect(sink.received[i]!.headers['webhook-id']).toBe(sink.received[i + 1]!.headers['webhook-id']);
      expect(sink.received[i]!.body).toBe(sink.received[i + 1]!.body);
    }
    expect(json.docvTransactionId).toBeDefined();
  });

  it('out-of-order holds events until a later one has gone first', async () => {
    const { sink, sb, api } = await setup(undefined);
    await api.create({ webhookUrl: sink.url, sandbox: { ...scenario, chaos: { outOfOrder: 1 } } });
    await sb.settled(5_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual(['VERIFICATION_COMPLETED', 'APP_OPENED', 'DOCUMENTS_UPLOADED']);
  });

  it('omitDecision sends VERIFICATION_COMPLETED without decision while Get A DocV Transaction has it', async () => {
    const { sink, sb, api } = await setup(undefined);
    const { json } = await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'reject', timeScale: 0.0005, chaos: { omitDecision: 1 } } });
    await sb.settled(5_000);
    const completed = sink.received.find((r) => r.json.eventType === 'VERIFICATION_COMPLETED')!;
    expect(completed.json).not.toHaveProperty('decision');
    expect((await api.getDocv(json.docvTransactionId as string)).json).toMatchObject({ decision: { value: 'reject' } });
  });

  it('delays hold a delivery back, and the ones after it wait', async () => {
    const { sink, sb, api } = await setup(undefined);
    const id = await manualTransaction(sb, sink, { chaos: { delay: 1, delayMs: 300 } });
    const t0 = Date.now();
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED', chaos: { delay: 0 } });
    await sb.settled(5_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED']);
    expect(sink.received[0]!.at - t0).toBeGreaterThanOrEqual(290);
  });

  it('global chaos applies to transactions that set none', async () => {
    const { sink, sb, api } = await setup(undefined, { chaos: 'duplicates=1' });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    expect(sink.received).toHaveLength(2);
    await api.call('PUT', '/sandbox/chaos', {});
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    await sb.settled(5_000);
    expect(sink.received).toHaveLength(3);
  });
});

describe('scenarios', () => {
  const expected: Record<string, Array<[string, string | undefined]>> = {
    accept: [['APP_OPENED', undefined], ['DOCUMENTS_UPLOADED', undefined], ['VERIFICATION_COMPLETED', 'accept']],
    reject: [['APP_OPENED', undefined], ['DOCUMENTS_UPLOADED', undefined], ['VERIFICATION_COMPLETED', 'reject']],
    resubmit: [['APP_OPENED', undefined], ['DOCUMENTS_UPLOADED', undefined], ['VERIFICATION_COMPLETED', 'resubmit']],
    expire: [['APP_OPENED', undefined], ['SESSION_EXPIRED', undefined]],
    abandon: [['SESSION_EXPIRED', undefined]],
  };

  it.each(Object.keys(expected))('%s plays out by the sandbox field and by the magic customerUserId', async (name) => {
    const { sink, sb, api } = await setup(undefined, { timeScale: 0.00005 });
    const byField = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: name } })).json.docvTransactionId as string;
    const byUser = (await api.create({ webhookUrl: sink.url, customerUserId: `sandbox-${name}-7` })).json.docvTransactionId as string;
    await sb.settled(5_000);
    for (const id of [byField, byUser]) {
      const got = sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => [r.json.eventType, r.json.decision]);
      expect(got).toEqual(expected[name]);
      const last = expected[name]!.at(-1)!;
      const docv = (await api.getDocv(id)).json;
      expect(docv.status).toBe(last[0]);
      expect((docv.decision as { value?: string } | undefined)?.value).toBe(last[1]);
    }
  });

  it('mixed rolls a scenario per transaction', async () => {
    let i = 0;
    const rolls = [0.1, 0.6, 0.7, 0.85, 0.95];
    const { sink, sb, api } = await setup(undefined, { timeScale: 0.00005, random: () => rolls[i++ % rolls.length]! });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'mixed' } })).json.docvTransactionId as string);
    await sb.settled(5_000);
    const scenarios = await Promise.all(ids.map(async (id) => (await api.inspect(id)).json.scenario));
    expect(scenarios).toEqual(['accept', 'reject', 'resubmit', 'expire', 'abandon']);
    expect((await api.inspect(ids[0]!)).json.requestedScenario).toBe('mixed');
  });

  it('the time scale makes a flow take life-like time or milliseconds', async () => {
    const { sink, api } = await setup(undefined, { timeScale: 1 });
    const slow = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'accept' } })).json.docvTransactionId as string;
    const fast = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'accept', timeScale: 0.0001 } })).json.docvTransactionId as string;
    await eventually(() => sink.received.filter((r) => r.json.docvTransactionId === fast).length === 3, 'the fast flow');
    expect(sink.received.filter((r) => r.json.docvTransactionId === slow)).toHaveLength(0);
    const planned = (await api.inspect(slow)).json.plannedSteps as Array<{ dueAt: number }>;
    expect(planned[0]!.dueAt - Date.now()).toBeGreaterThan(15_000);
  });
});
