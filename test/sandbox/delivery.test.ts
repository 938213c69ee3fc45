import { afterEach, describe, expect, it } from 'vitest';
import { computeSignature, decodeSigningSecret } from '../../src/auth/standard-webhooks.js';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/sandbox/index.js';
import { startTestReceiver } from '../helpers/receiver.js';
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

type Delivery = {
  status: string;
  attempts: number;
  attemptLog: Array<{ statusCode?: number; error?: string; startedAt: string }>;
};

describe('delivery engine', () => {
  it('retries a receiver that fails the first attempts, with the same webhook-id, and keeps later events waiting', async () => {
    const { sink, sb, api } = await setup((_r, i) => (i < 3 ? { status: 500, body: '{"oops":1}' } : { status: 200 }));
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    await sb.settled(5_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual([
      'APP_OPENED',
      'APP_OPENED',
      'APP_OPENED',
      'APP_OPENED',
      'DOCUMENTS_UPLOADED',
    ]);
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
    const { sink, sb, api } = await setup(
      (r) => (r.json.eventType === 'APP_OPENED' ? { status: 503 } : { status: 204 }),
      {
        retrySchedule: '10ms,10ms',
      },
    );
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
    expect(((await api.deliveries(`?transaction=${id}`)).json.deliveries as Delivery[])[0]).toMatchObject({
      status: 'gone',
      attempts: 1,
    });
  });

  it('honours Retry-After over a shorter schedule', async () => {
    const { sink, sb, api } = await setup(
      (_r, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }),
      {
        retrySchedule: '20ms',
      },
    );
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.at - sink.received[0]!.at).toBeGreaterThanOrEqual(950);
    const log = (
      (await api.deliveries(`?transaction=${id}`)).json.deliveries as Array<
        Delivery & { attemptLog: Array<{ retryAfterMs?: number }> }
      >
    )[0]!;
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
      expect(sigs).toEqual(
        secrets.map((s) => `v1,${computeSignature(decodeSigningSecret(s), webhookId, timestamp, r.body)}`),
      );
    }
  });

  it('delivers each transaction in order while transactions run in parallel', async () => {
    const { sink, sb } = await setup(() => ({ status: 200, delayMs: 20 }), { timeScale: 0 });
    // Created in one go (no HTTP round trips in between), so all five flows are due at once.
    const ids = Array.from(
      { length: 5 },
      () => sb.createTransaction({ webhookUrl: sink.url, scenario: 'accept' }).docvTransactionId,
    );
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
    expect(sink.received.map((r) => r.json.eventType)).toEqual([
      'VERIFICATION_COMPLETED',
      'APP_OPENED',
      'DOCUMENTS_UPLOADED',
    ]);
  });

  it('omitDecision sends VERIFICATION_COMPLETED without decision while Get A DocV Transaction has it', async () => {
    const { sink, sb, api } = await setup(undefined);
    const { json } = await api.create({
      webhookUrl: sink.url,
      sandbox: { scenario: 'reject', timeScale: 0.0005, chaos: { omitDecision: 1 } },
    });
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
    accept: [
      ['APP_OPENED', undefined],
      ['DOCUMENTS_UPLOADED', undefined],
      ['VERIFICATION_COMPLETED', 'accept'],
    ],
    reject: [
      ['APP_OPENED', undefined],
      ['DOCUMENTS_UPLOADED', undefined],
      ['VERIFICATION_COMPLETED', 'reject'],
    ],
    resubmit: [
      ['APP_OPENED', undefined],
      ['DOCUMENTS_UPLOADED', undefined],
      ['VERIFICATION_COMPLETED', 'resubmit'],
    ],
    expire: [
      ['APP_OPENED', undefined],
      ['SESSION_EXPIRED', undefined],
    ],
    abandon: [['SESSION_EXPIRED', undefined]],
  };

  it.each(Object.keys(expected))('%s plays out by the sandbox field and by the magic customerUserId', async (name) => {
    const { sink, sb, api } = await setup(undefined, { timeScale: 0.00005 });
    const byField = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: name } })).json
      .docvTransactionId as string;
    const byUser = (await api.create({ webhookUrl: sink.url, customerUserId: `sandbox-${name}-7` })).json
      .docvTransactionId as string;
    await sb.settled(5_000);
    for (const id of [byField, byUser]) {
      const got = sink.received
        .filter((r) => r.json.docvTransactionId === id)
        .map((r) => [r.json.eventType, r.json.decision]);
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
    for (let n = 0; n < 5; n++)
      ids.push(
        (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'mixed' } })).json.docvTransactionId as string,
      );
    await sb.settled(5_000);
    const scenarios = await Promise.all(ids.map(async (id) => (await api.inspect(id)).json.scenario));
    expect(scenarios).toEqual(['accept', 'reject', 'resubmit', 'expire', 'abandon']);
    expect((await api.inspect(ids[0]!)).json.requestedScenario).toBe('mixed');
  });

  it('the time scale makes a flow take life-like time or milliseconds', async () => {
    const { sink, api } = await setup(undefined, { timeScale: 1 });
    const slow = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'accept' } })).json
      .docvTransactionId as string;
    const fast = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'accept', timeScale: 0.0001 } })).json
      .docvTransactionId as string;
    await eventually(
      () => sink.received.filter((r) => r.json.docvTransactionId === fast).length === 3,
      'the fast flow',
    );
    expect(sink.received.filter((r) => r.json.docvTransactionId === slow)).toHaveLength(0);
    const planned = (await api.inspect(slow)).json.plannedSteps as Array<{ dueAt: number }>;
    expect(planned[0]!.dueAt - Date.now()).toBeGreaterThan(15_000);
  });
});

type Shown = Delivery & {
  id: number;
  eventType: string;
  lastStatusCode?: number;
  nextAttemptAt?: string;
  waitingFor?: number;
  reason?: string;
};

async function deliveriesOf(api: ReturnType<typeof sandboxClient>, id: string): Promise<Shown[]> {
  return (await api.deliveries(`?transaction=${id}`)).json.deliveries as Shown[];
}

describe('what is retried, and what a user can do about a delivery', () => {
  it('the on-demand event of docs/sandbox.md, refused by a real receiver with 422, is not retried and does not hold the next event', async () => {
    const receiver = await startTestReceiver({ webhookSecrets: ['s3cret'] });
    cleanup.push(() => receiver.destroy());
    // The default schedule: a retry of the refused event would hold the next one back 5 s.
    const sb = await startSandbox({ apiKey: 'dev', webhookSecret: 's3cret', timeScale: 0.01 });
    cleanup.push(() => sb.close());
    const api = sandboxClient(sb);
    const id = (await api.create({ webhookUrl: receiver.webhookUrl })).json.docvTransactionId as string;
    const bad = await api.emit(id, {
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'reject',
      set: { extra: 1 },
      unset: ['eventTime'],
    });
    expect(bad.status).toBe(201);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(3_000);
    const [refused, next] = await deliveriesOf(api, id);
    expect(refused).toMatchObject({
      eventType: 'VERIFICATION_COMPLETED',
      status: 'rejected',
      attempts: 1,
      lastStatusCode: 422,
    });
    expect(refused!.reason).toMatch(
      /^HTTP 422: refused by the receiver; only 408, 429, 5xx and network failures are retried$/,
    );
    expect(refused!.nextAttemptAt).toBeUndefined();
    expect(next).toMatchObject({ eventType: 'APP_OPENED', status: 'delivered', attempts: 1, lastStatusCode: 200 });
    // The transaction's own view says the same.
    const inspected = (await api.inspect(id)).json.deliveries as Shown[];
    expect(inspected.map((d) => [d.status, d.reason])).toEqual([
      ['rejected', refused!.reason],
      ['delivered', undefined],
    ]);
    const counts = (await api.deliveries()).json.counts;
    expect(counts).toEqual({ rejected: 1, delivered: 1 });
  });

  it.each([400, 401, 403, 404, 409, 413, 415, 422])('%i is final at once, and the next event goes', async (code) => {
    const { sink, sb, api } = await setup((r) => ({ status: r.json.eventType === 'APP_OPENED' ? code : 200 }), {
      retrySchedule: '30ms,30ms',
    });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    await sb.settled(3_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED']);
    expect((await deliveriesOf(api, id)).map((d) => [d.status, d.attempts])).toEqual([
      ['rejected', 1],
      ['delivered', 1],
    ]);
  });

  it.each([408, 429, 500, 502, 503, 504])(
    '%i is retried on the default schedule, scaled by the time scale',
    async (code) => {
      const { sink, sb, api } = await setup((_r, i) => ({ status: i === 0 ? code : 200 }), {
        retrySchedule: undefined,
        timeScale: 0.001,
      });
      const id = await manualTransaction(sb, sink);
      await api.emit(id, { eventType: 'APP_OPENED' });
      // Not settled(): at this time scale the manual transaction expires after 1.8 s, and that is another event.
      await eventually(
        async () => (await deliveriesOf(api, id))[0]!.status === 'delivered',
        'the retry delivered',
        3_000,
      );
      const opened = sink.received.filter((r) => r.json.eventType === 'APP_OPENED');
      expect(opened).toHaveLength(2);
      // 5 s at time scale 0.001 is 5 ms, below the 10 ms floor that keeps retries from spinning.
      const gap = opened[1]!.at - opened[0]!.at;
      expect(gap).toBeGreaterThanOrEqual(9);
      expect(gap).toBeLessThan(1_000);
      const [d] = await deliveriesOf(api, id);
      expect(d!.attemptLog.map((a) => a.statusCode)).toEqual([code, 200]);
    },
  );

  it('scales Retry-After by the time scale too', async () => {
    const { sink, sb, api } = await setup(
      (_r, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '10' } } : { status: 200 }),
      {
        retrySchedule: '100ms',
        timeScale: 0.02,
      },
    );
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(5_000);
    // 10 s asked for, at time scale 0.02: 200 ms, more than the schedule's 100 ms × 0.02.
    const gap = sink.received[1]!.at - sink.received[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(190);
    expect(gap).toBeLessThan(2_000);
    expect((await deliveriesOf(api, id))[0]!.attemptLog[0]).toMatchObject({ statusCode: 503, retryAfterMs: 10_000 });
  });

  it('shows a delivery behind an unfinished one as held with what it waits for; cancel releases it, retry sends again', async () => {
    let broken = true;
    const { sink, sb, api } = await setup(
      (r) => ({ status: broken && r.json.eventType === 'APP_OPENED' ? 503 : 200 }),
      { retrySchedule: '1h' },
    );
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    await eventually(async () => (await deliveriesOf(api, id))[0]!.attempts === 1, 'the first attempt recorded');

    const [first, second] = await deliveriesOf(api, id);
    expect(first).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: 503,
      reason: 'retrying: the last attempt got HTTP 503',
    });
    expect(Date.parse(first!.nextAttemptAt!) - Date.now()).toBeGreaterThan(30 * 60_000);
    expect(second).toMatchObject({ status: 'held', attempts: 0, waitingFor: first!.id });
    expect(second!.reason).toBe(`waits for delivery ${first!.id}: a transaction's events go one at a time, in order`);
    expect(second!.nextAttemptAt).toBeUndefined();
    expect(((await api.inspect(id)).json.deliveries as Shown[])[1]).toMatchObject({
      status: 'held',
      waitingFor: first!.id,
    });
    // Filters and counts go by what is shown.
    expect(((await api.deliveries('?status=held')).json.deliveries as Shown[]).map((d) => d.id)).toEqual([second!.id]);
    expect(((await api.deliveries('?status=pending')).json.deliveries as Shown[]).map((d) => d.id)).toEqual([
      first!.id,
    ]);
    expect((await api.deliveries()).json.counts).toEqual({ pending: 1, held: 1 });

    const cancelled = await api.call('POST', `/sandbox/deliveries/${first!.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toMatchObject({
      id: first!.id,
      status: 'cancelled',
      attempts: 1,
      reason: 'cancelled: no more attempts',
    });
    await sb.settled(3_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED']);
    expect((await deliveriesOf(api, id)).map((d) => d.status)).toEqual(['cancelled', 'delivered']);

    const again = await api.call('POST', `/sandbox/deliveries/${first!.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.json.detail).toBe(`delivery ${first!.id} is already cancelled: it has no attempts left to cancel`);
    const delivered = await api.call('POST', `/sandbox/deliveries/${second!.id}/cancel`);
    expect(delivered.status).toBe(409);
    expect(delivered.json.detail).toBe(
      `delivery ${second!.id} was delivered: there is nothing to cancel (emit the event again to send it anew)`,
    );
    expect((await api.call('POST', '/sandbox/deliveries/99999/cancel')).status).toBe(404);

    broken = false;
    const retried = await api.call('POST', `/sandbox/deliveries/${first!.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.json).toMatchObject({ id: first!.id, status: 'pending' });
    await sb.settled(3_000);
    expect(sink.received.map((r) => r.json.eventType)).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED', 'APP_OPENED']);
    const [resent] = await deliveriesOf(api, id);
    expect(resent).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(resent!.attemptLog.map((a) => a.statusCode)).toEqual([503, 200]);
    const notAgain = await api.call('POST', `/sandbox/deliveries/${first!.id}/retry`);
    expect(notAgain.status).toBe(409);
    expect(notAgain.json.detail).toBe(`delivery ${first!.id} was delivered: emit the event again to send it anew`);
  });

  it('a retried delivery starts the retry schedule over', async () => {
    const { sink, sb, api } = await setup(() => ({ status: 503 }), { retrySchedule: '10ms' });
    const id = await manualTransaction(sb, sink);
    await api.emit(id, { eventType: 'APP_OPENED' });
    await sb.settled(3_000);
    const [d] = await deliveriesOf(api, id);
    expect(d).toMatchObject({
      status: 'failed',
      attempts: 2,
      reason: 'no attempts left on the retry schedule (the last got HTTP 503)',
    });
    expect((await api.call('POST', `/sandbox/deliveries/${d!.id}/retry`)).status).toBe(200);
    await sb.settled(3_000);
    expect(sink.received).toHaveLength(4);
    expect((await deliveriesOf(api, id))[0]).toMatchObject({ status: 'failed', attempts: 4 });
  });
});
