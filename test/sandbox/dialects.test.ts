import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationIdOf } from '../../src/sandbox/dialects/riskos.js';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink, type ReceivedRequest, type Sink } from './helpers/sink.js';
import { V5_COMPLETED_SESSION } from './helpers/v5-session.js';

/**
 * What each dialect's stream looks like on the wire, as a receiver (the sink) records it: which
 * notifications, in which order, with which envelope, token and decision.
 */

let sb: SandboxHandle;
let sink: Sink;
let api: ReturnType<typeof sandboxClient>;

beforeAll(async () => {
  sink = await startSink();
  sb = await startSandbox({ apiKey: 'k', retrySchedule: '20ms,20ms,20ms', timeScale: 0.0001 });
  api = sandboxClient(sb);
});
afterAll(async () => {
  await sb?.close();
  await sink?.close();
});

type Envelope = {
  id: string;
  origId?: string;
  eventGroup: string;
  reason: string;
  environmentName: string;
  event: Record<string, unknown> & { eventType: string; created: string; data?: Record<string, unknown> };
};
type RiskosBody = { event_id: string; event_at: string; event_type: string; data: Record<string, unknown> };

/** Creates a transaction and waits for every delivery of it to settle. */
async function run(body: Record<string, unknown>): Promise<string> {
  const res = await api.create({ webhookUrl: sink.url, ...body });
  expect(res.status, res.text).toBe(200);
  const id = res.json.docvTransactionId as string;
  await eventually(async () => {
    const { json } = await api.inspect(id);
    const deliveries = json.deliveries as Array<{ status: string }>;
    return (
      (json.plannedSteps as unknown[]).length === 0 &&
      deliveries.length > 0 &&
      deliveries.every((d) => d.status === 'delivered')
    );
  }, `the flow of ${id} to be delivered`);
  return id;
}

const v5Of = (id: string): Array<ReceivedRequest & { env: Envelope }> =>
  sink.received.filter((r) => r.json.origId === id).map((r) => ({ ...r, env: r.json as unknown as Envelope }));
const riskosOf = (id: string): RiskosBody[] =>
  sink.received
    .map((r) => r.json as unknown as RiskosBody)
    .filter((b) => typeof b.event_type === 'string' && b.data.eval_id === evaluationIdOf(id));

describe('socure-v5 stream', () => {
  it('plays the whole session in DocvNotification envelopes, the decision inside documentVerification', async () => {
    const id = await run({ customerUserId: 'v5-user', dialect: 'socure-v5', sandbox: { scenario: 'accept' } });
    const got = v5Of(id);
    expect(got.map((r) => r.env.event.eventType)).toEqual([...V5_COMPLETED_SESSION]);
    for (const { env, headers } of got) {
      expect(env).toMatchObject({
        origId: id,
        eventGroup: 'DocvNotification',
        reason: env.event.eventType,
        environmentName: 'Sandbox',
      });
      expect(env.event).toMatchObject({
        customerUserId: 'v5-user',
        message: expect.any(String),
        referenceId: expect.any(String),
      });
      expect(env.event.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(headers['webhook-id']).toMatch(/^msg_/);
    }
    // One envelope id and one webhook-id per notification.
    expect(new Set(got.map((r) => r.env.id)).size).toBe(got.length);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(got.length);
    // The first event has no token (origId has it); SESSION_COMPLETE spells it the other way; the rest the usual way.
    const token = (r: { env: Envelope }) => [r.env.event.docvTransactionToken, r.env.event.docVTransactionToken];
    expect(token(got[0]!)).toEqual([undefined, undefined]);
    for (const r of got.slice(1, -1)) expect(token(r)).toEqual([id, undefined]);
    expect(token(got.at(-1)!)).toEqual([undefined, id]);
    const completed = got.find((r) => r.env.event.eventType === 'VERIFICATION_COMPLETED')!.env.event.data!;
    expect(completed).toMatchObject({
      referenceId: expect.any(String),
      documentVerification: {
        reasonCodes: expect.arrayContaining([expect.any(String)]),
        documentType: { type: 'Drivers License', country: 'USA', state: expect.stringMatching(/^[A-Z]{2}$/) },
        decision: { name: 'standard', value: 'accept' },
        documentData: {
          firstName: expect.any(String),
          surName: expect.any(String),
          dob: expect.stringMatching(/^\d{4}-\d\d-\d\d$/),
        },
      },
    });
    expect(got.find((r) => r.env.event.eventType === 'DOCUMENTS_UPLOADED')!.env.event.data).toEqual({
      uuid: expect.any(String),
      referenceId: expect.any(String),
    });
  });

  it('uploads a passport as front and selfie, and carries review', async () => {
    const id = await run({
      dialect: 'socure-v5',
      documentType: 'passport',
      country: 'GB',
      userId: 'u-9',
      sandbox: { scenario: 'review' },
    });
    const got = v5Of(id);
    expect(got.map((r) => r.env.event.eventType)).toEqual([
      'WAITING_FOR_USER_TO_REDIRECT',
      'APP_OPENED',
      'DOCUMENT_FRONT_UPLOADED',
      'DOCUMENT_SELFIE_UPLOADED',
      'DOCUMENTS_UPLOADED',
      'VERIFICATION_COMPLETED',
      'SESSION_COMPLETE',
    ]);
    expect(got[0]!.env.event).not.toHaveProperty('customerUserId');
    expect(got[0]!.env.event.userId).toBe('u-9');
    const result = got.find((r) => r.env.event.eventType === 'VERIFICATION_COMPLETED')!.env.event.data!
      .documentVerification;
    expect(result).toMatchObject({ decision: { value: 'review' }, documentType: { type: 'Passport', country: 'GBR' } });
    expect(result).not.toHaveProperty('documentType.state');
    expect((await api.getDocv(id)).json).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: { value: 'review' },
    });
  });

  it('ends an expired session with SESSION_EXPIRED', async () => {
    const id = await run({ dialect: 'socure-v5', sandbox: { scenario: 'expire' } });
    expect(v5Of(id).map((r) => r.env.event.eventType)).toEqual([
      'WAITING_FOR_USER_TO_REDIRECT',
      'APP_OPENED',
      'SESSION_EXPIRED',
    ]);
  });

  it('echoes a numeric customerUserId as a number (and as text in the flat contract)', async () => {
    const v5 = await run({ dialect: 'socure-v5', customerUserId: 121212, sandbox: { scenario: 'abandon' } });
    expect(v5Of(v5).map((r) => r.env.event.customerUserId)).toEqual([121212, 121212]);
    const flat = await run({ customerUserId: 121213, sandbox: { scenario: 'abandon' } });
    expect(sink.received.filter((r) => r.json.docvTransactionId === flat).map((r) => r.json.customerUserId)).toEqual([
      '121213',
    ]);
    expect((await api.inspect(v5)).json).toMatchObject({ dialect: 'socure-v5', customerUserId: 121212 });
  });

  it('leaves the decision out under chaos, and keeps envelope and webhook-id across retries', async () => {
    const failures = new Set<string>();
    const before = sink.respond;
    // Every notification's first attempt fails: each one is sent twice.
    sink.respond = (r, i) => {
      const key = String(r.headers['webhook-id']);
      if (r.json.origId !== undefined && !failures.has(key)) {
        failures.add(key);
        return { status: 503 };
      }
      return before(r, i);
    };
    try {
      const id = await run({ dialect: 'socure-v5', sandbox: { scenario: 'reject', chaos: { omitDecision: 1 } } });
      const got = v5Of(id);
      expect(got).toHaveLength(16);
      const byWebhookId = new Map<string, string[]>();
      for (const r of got)
        byWebhookId.set(String(r.headers['webhook-id']), [
          ...(byWebhookId.get(String(r.headers['webhook-id'])) ?? []),
          r.body,
        ]);
      expect(byWebhookId.size).toBe(8);
      for (const bodies of byWebhookId.values()) expect(new Set(bodies).size).toBe(1);
      const completed = got.find((r) => r.env.event.eventType === 'VERIFICATION_COMPLETED')!.env.event.data!
        .documentVerification as Record<string, unknown>;
      expect(completed).not.toHaveProperty('decision');
      expect(completed.reasonCodes).toEqual([]);
      // The transaction still has its decision: Get A DocV Transaction and the ID+ result say it.
      expect((await api.getDocv(id)).json).toMatchObject({ decision: { value: 'reject' } });
    } finally {
      sink.respond = before;
    }
  });

  it('control events come out in the dialect; review is refused only in the flat contract', async () => {
    const v5 = (await api.create({ webhookUrl: sink.url, dialect: 'socure-v5', sandbox: { scenario: 'manual' } })).json
      .docvTransactionId as string;
    const res = await api.emit(v5, {
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'review',
      set: { 'event.extra': 1 },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      emitted: true,
      payload: {
        reason: 'VERIFICATION_COMPLETED',
        event: { extra: 1, data: { documentVerification: { decision: { value: 'review' } } } },
      },
      notifications: [{ eventType: 'VERIFICATION_COMPLETED' }, { eventType: 'SESSION_COMPLETE' }],
    });
    const flat = (await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'manual' } })).json
      .docvTransactionId as string;
    const refused = await api.emit(flat, { eventType: 'VERIFICATION_COMPLETED', decision: 'review' });
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toContain('review exists in the socure-v5 and riskos dialects');
    expect((await api.emit(flat, { eventType: 'VERIFICATION_COMPLETED', decision: 'nope' })).json.detail).toContain(
      'decision must be accept, reject, resubmit or review',
    );
  });
});

describe('riskos stream', () => {
  it('sends progress as case notes on the evaluation and the result as one evaluation_completed', async () => {
    const id = await run({ customerUserId: 'eval-owner', dialect: 'riskos', sandbox: { scenario: 'accept' } });
    const got = riskosOf(id);
    expect(got.map((b) => [b.event_type, b.data.notes])).toEqual([
      ['case_notes_added', 'Waiting For User To Redirect'],
      ['case_notes_added', 'Capture App Opened'],
      ['case_notes_added', 'Document Front Uploaded'],
      ['case_notes_added', 'Document Back Uploaded'],
      ['case_notes_added', 'Document Selfie Uploaded'],
      ['case_notes_added', 'Documents Uploaded'],
      ['evaluation_completed', undefined],
      ['case_notes_added', 'Session Complete'],
    ]);
    for (const b of got) {
      expect(b.event_at).toMatch(/\.\d{3}Z$/);
      expect(b.data).toMatchObject({ eval_id: evaluationIdOf(id), id: 'eval-owner' });
      if (b.event_type === 'case_notes_added') expect(b.data.reviewer_id).toBe('Webhook');
    }
    expect(new Set(got.map((b) => b.event_id)).size).toBe(got.length);
    const done = got.find((b) => b.event_type === 'evaluation_completed')!;
    const sessionUrl = (await api.inspect(id)).json.sessionUrl as string;
    expect(done.data).toMatchObject({
      decision: 'ACCEPT',
      eval_status: 'closed',
      data_enrichments: [
        {
          enrichment_provider: 'Socure',
          status_code: 200,
          response: { data: { docvTransactionToken: id, url: sessionUrl } },
        },
        {
          enrichment_provider: 'Socure',
          status_code: 200,
          response: { documentVerification: { decision: { value: 'accept' }, reasonCodes: expect.any(Array) } },
        },
      ],
    });
  });

  it.each([
    ['reject', 'REJECT'],
    ['resubmit', 'REVIEW'],
    ['review', 'REVIEW'],
  ])('maps %s to %s', async (scenario, riskos) => {
    const id = await run({ dialect: 'riskos', sandbox: { scenario } });
    const done = riskosOf(id).find((b) => b.event_type === 'evaluation_completed')!;
    expect(done.data.decision).toBe(riskos);
  });
});

describe('dialect in the create request', () => {
  it('defaults to the flat contract, as before', async () => {
    const id = await run({ customerUserId: 'flat-user', sandbox: { scenario: 'accept' } });
    expect(sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => Object.keys(r.json))).toEqual([
      ['eventType', 'docvTransactionId', 'customerUserId', 'eventTime'],
      ['eventType', 'docvTransactionId', 'customerUserId', 'eventTime'],
      ['eventType', 'docvTransactionId', 'customerUserId', 'eventTime', 'decision'],
    ]);
    expect((await api.inspect(id)).json.dialect).toBe('asyncapi');
  });

  it.each([
    [{ dialect: 'v5' }, 'dialect must be one of "asyncapi", "socure-v5", "riskos"'],
    [{ dialect: 5 }, 'dialect must be one of'],
    [{ sandbox: { scenario: 'review' } }, 'scenario review needs dialect socure-v5 or riskos'],
    [{ customerUserId: 'sandbox-review' }, 'scenario review needs dialect socure-v5 or riskos'],
    [{ customerUserId: -1 }, 'customerUserId must be a string or a non-negative whole number'],
    [{ customerUserId: 1.5 }, 'customerUserId must be a string or a non-negative whole number'],
    [{ userId: 7 }, 'userId must be a string'],
  ])('refuses %j with 400 and the reason', async (body, reason) => {
    const res = await api.create({ webhookUrl: sink.url, ...body });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe('application/problem+json');
    expect(res.json.detail).toContain(reason);
  });

  it('takes the sandbox default when the request names none', async () => {
    const v5 = await startSandbox({
      apiKey: 'k',
      defaultDialect: 'riskos',
      defaultScenario: 'review',
      timeScale: 0.0001,
    });
    try {
      const id = (await sandboxClient(v5).create({ webhookUrl: sink.url })).json.docvTransactionId as string;
      await v5.settled(5_000);
      expect(riskosOf(id).at(-2)).toMatchObject({ event_type: 'evaluation_completed', data: { decision: 'REVIEW' } });
    } finally {
      await v5.close();
    }
    await expect(startSandbox({ defaultScenario: 'review' })).rejects.toThrow(
      /default scenario review needs dialect socure-v5 or riskos/,
    );
  });
});
