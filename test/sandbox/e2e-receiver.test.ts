import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationIdOf } from '../../src/sandbox/dialects/riskos.js';
import { runSimulation, startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { sandboxClient } from './helpers/api.js';
import { eventually } from './helpers/sink.js';
import { V5_COMPLETED_SESSION } from './helpers/v5-session.js';

/**
 * The two ends of the stream together: the sandbox plays Socure, the receiver of this project
 * takes the deliveries. Each scenario must leave the receiver with the status and decision the
 * sandbox reports through Get A DocV Transaction. The receiver runs on each store backend in turn
 * (one sandbox, with its own SQLite file, plays Socure for both).
 */

const backends = await testBackends();

const WEBHOOK_SECRET = 'e2e-shared-secret';
const SIGNING_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const API_KEY = 'e2e-api-key';

let dir: string;
let sandbox: SandboxHandle;
let receiver: TestReceiver;
let api: ReturnType<typeof sandboxClient>;

type ReceiverTransaction = {
  docvTransactionId: string;
  status: string;
  decision: string | null;
  decisionSource: string | null;
  customerUserId: string | null;
  evaluationId?: string | null;
  anomalies: unknown[];
  events: Array<{ eventType: string }>;
};

type SandboxDelivery = {
  eventType: string;
  status: string;
  payload: Record<string, unknown>;
  attemptLog: Array<{ statusCode: number; response: string }>;
};

/** Every delivery of the transaction reached the receiver, and the receiver took each as new. */
async function expectAllAccepted(id: string, types: string[]): Promise<SandboxDelivery[]> {
  const deliveries = (await api.deliveries(`?transaction=${id}`)).json.deliveries as SandboxDelivery[];
  expect(deliveries.map((d) => [d.eventType, d.status])).toEqual(types.map((t) => [t, 'delivered']));
  for (const d of deliveries) expect(JSON.parse(d.attemptLog.at(-1)!.response)).toMatchObject({ status: 'accepted' });
  return deliveries;
}

/** The receiver's view once it satisfies `done`; the last view seen when the wait times out. */
async function receiverView(
  id: string,
  done: (view: ReceiverTransaction) => boolean,
  what: string,
): Promise<ReceiverTransaction> {
  let view: ReceiverTransaction | undefined;
  await eventually(
    async () => {
      const r = await receiverTransaction(id);
      if (r.status !== 200) return false;
      view = r.body;
      return done(r.body);
    },
    `${what} (last view: ${JSON.stringify(view)?.slice(0, 400)})`,
    15_000,
  );
  return view!;
}

const V5_SESSION: string[] = [...V5_COMPLETED_SESSION];
const RISKOS_SESSION = [...Array<string>(6).fill('case_notes_added'), 'evaluation_completed', 'case_notes_added'];

async function receiverTransaction(id: string): Promise<{ status: number; body: ReceiverTransaction }> {
  const res = await fetch(`${receiver.url}/v1/transactions/${encodeURIComponent(id)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as ReceiverTransaction };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'docv-e2e-'));
  sandbox = await startSandbox({
    apiKey: API_KEY,
    db: `sqlite:${join(dir, 'sandbox.db')}`,
    webhookSecret: WEBHOOK_SECRET,
    signingSecrets: [SIGNING_SECRET],
    retrySchedule: '20ms,50ms,100ms,200ms',
    attemptTimeoutMs: 5_000,
    timeScale: 0.00005,
  });
  api = sandboxClient(sandbox);
});

afterAll(async () => {
  await sandbox?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SCENARIOS: Record<string, { events: string[]; status: string; decision: string | null }> = {
  accept: {
    events: ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'],
    status: 'VERIFICATION_COMPLETED',
    decision: 'accept',
  },
  reject: {
    events: ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'],
    status: 'VERIFICATION_COMPLETED',
    decision: 'reject',
  },
  resubmit: {
    events: ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'],
    status: 'VERIFICATION_COMPLETED',
    decision: 'resubmit',
  },
  expire: { events: ['APP_OPENED', 'SESSION_EXPIRED'], status: 'SESSION_EXPIRED', decision: null },
  abandon: { events: ['SESSION_EXPIRED'], status: 'SESSION_EXPIRED', decision: null },
};

/** The receiver's view and Get A DocV Transaction agree on status and decision. */
async function expectAgreement(id: string): Promise<ReceiverTransaction> {
  const docv = (await api.getDocv(id)).json as { status: string; decision?: { value: string } };
  let view: ReceiverTransaction | undefined;
  await eventually(async () => {
    const r = await receiverTransaction(id);
    view = r.body;
    return r.status === 200 && r.body.status === docv.status && r.body.decision === (docv.decision?.value ?? null);
  }, `the receiver to agree with Get A DocV Transaction on ${id}`);
  return view!;
}

describe.each(backends)('sandbox → receiver, end to end ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  beforeAll(async () => {
    // `socure` points the receiver's decision fetch at the sandbox: Get A DocV Transaction (the
    // profile path) for real, so a VERIFICATION_COMPLETED without decision still ends with one.
    // The ID+ call has its own receiver below.
    receiver = await startTestReceiver({
      database: await backend.create(),
      webhookSecrets: [WEBHOOK_SECRET],
      signingSecrets: [SIGNING_SECRET],
      socure: { baseUrl: sandbox.url, apiKey: API_KEY, timeoutMs: 5_000, api: 'profile' },
    });
  });
  afterAll(async () => {
    await receiver?.destroy();
  });

  it.each(Object.keys(SCENARIOS))('%s: the receiver ends where the sandbox says', async (name) => {
    const expected = SCENARIOS[name]!;
    const { json } = await api.create({
      webhookUrl: receiver.webhookUrl,
      customerUserId: `e2e-${name}`,
      sandbox: { scenario: name },
    });
    const id = json.docvTransactionId as string;
    await sandbox.settled(10_000);
    const deliveries = (await api.deliveries(`?transaction=${id}`)).json.deliveries as Array<{
      eventType: string;
      status: string;
      attemptLog: Array<{ statusCode: number; response: string }>;
    }>;
    expect(deliveries.map((d) => [d.eventType, d.status])).toEqual(expected.events.map((e) => [e, 'delivered']));
    for (const d of deliveries) expect(JSON.parse(d.attemptLog.at(-1)!.response)).toMatchObject({ status: 'accepted' });

    const view = await expectAgreement(id);
    expect(view).toMatchObject({
      docvTransactionId: id,
      status: expected.status,
      decision: expected.decision,
      customerUserId: `e2e-${name}`,
      anomalies: [],
    });
    expect(view.events.map((e) => e.eventType).sort()).toEqual([...expected.events].sort());
  });

  it('mixed: every transaction agrees', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(
        (await api.create({ webhookUrl: receiver.webhookUrl, customerUserId: `sandbox-mixed-${i}` })).json
          .docvTransactionId as string,
      );
    }
    await sandbox.settled(10_000);
    for (const id of ids) await expectAgreement(id);
  });

  it('chaos: duplicates, disorder and a missing decision still end in agreement', async () => {
    const { json } = await api.create({
      webhookUrl: receiver.webhookUrl,
      sandbox: { scenario: 'reject', chaos: { duplicates: 1, outOfOrder: 1, omitDecision: 1 } },
    });
    const id = json.docvTransactionId as string;
    await sandbox.settled(10_000);
    const deliveries = (await api.deliveries(`?transaction=${id}`)).json.deliveries as Array<{
      eventType: string;
      copy: number;
      payload: Record<string, unknown>;
      attemptLog: Array<{ response: string }>;
    }>;
    expect(deliveries).toHaveLength(6);
    const verdicts = deliveries.map((d) => (JSON.parse(d.attemptLog.at(-1)!.response) as { status: string }).status);
    expect(verdicts.filter((v) => v === 'duplicate')).toHaveLength(3);
    expect(deliveries.find((d) => d.eventType === 'VERIFICATION_COMPLETED')!.payload).not.toHaveProperty('decision');
    // The decision came from Get A DocV Transaction, not from the event.
    const view = await expectAgreement(id);
    expect(view).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: 'reject' });
  });

  it('a delivery with the wrong secret is refused and never stored', async () => {
    const wrong = await startSandbox({
      apiKey: API_KEY,
      webhookSecret: 'not-the-secret',
      retrySchedule: '10ms',
      timeScale: 0.00005,
    });
    try {
      const id = (
        await sandboxClient(wrong).create({ webhookUrl: receiver.webhookUrl, sandbox: { scenario: 'abandon' } })
      ).json.docvTransactionId as string;
      await wrong.settled(10_000);
      const d = (
        (await sandboxClient(wrong).deliveries()).json.deliveries as Array<{ status: string; lastStatusCode: number }>
      )[0]!;
      // A 401 is final at once, as Socure has it: the same credentials again would be refused again.
      expect(d).toMatchObject({ status: 'rejected', attempts: 1, lastStatusCode: 401 });
      expect((await receiverTransaction(id)).status).toBe(404);
      expect(await receiver.database.rows('SELECT 1 FROM events WHERE docv_transaction_id = ?', id)).toEqual([]);
    } finally {
      await wrong.close();
    }
  });

  it.each([
    ['accept', 'accept'],
    ['reject', 'reject'],
    ['resubmit', 'resubmit'],
    ['review', 'review'],
  ])(
    'socure-v5 %s: the whole v5 session lands, ending at VERIFICATION_COMPLETED with %s',
    async (scenario, decision) => {
      const { json } = await api.create({
        webhookUrl: receiver.webhookUrl,
        customerUserId: `e2e-v5-${scenario}`,
        dialect: 'socure-v5',
        sandbox: { scenario },
      });
      const id = json.docvTransactionId as string;
      await sandbox.settled(10_000);
      await expectAllAccepted(id, V5_SESSION);
      const view = await receiverView(
        id,
        (v) => v.status === 'VERIFICATION_COMPLETED' && v.decision !== null,
        `the receiver to complete ${id}`,
      );
      expect(view).toMatchObject({
        docvTransactionId: id,
        status: 'VERIFICATION_COMPLETED',
        decision,
        customerUserId: `e2e-v5-${scenario}`,
        anomalies: [],
      });
      // WAITING_FOR_USER_TO_REDIRECT joins by origId, SESSION_COMPLETE by the other token spelling.
      expect(view.events.map((e) => e.eventType).sort()).toEqual([...V5_SESSION].sort());
    },
  );

  it('socure-v5 expire, with a numeric customerUserId: the session ends at SESSION_EXPIRED without a decision', async () => {
    const { json } = await api.create({
      webhookUrl: receiver.webhookUrl,
      customerUserId: 424242,
      dialect: 'socure-v5',
      sandbox: { scenario: 'expire' },
    });
    const id = json.docvTransactionId as string;
    await sandbox.settled(10_000);
    await expectAllAccepted(id, ['WAITING_FOR_USER_TO_REDIRECT', 'APP_OPENED', 'SESSION_EXPIRED']);
    const view = await receiverView(id, (v) => v.status === 'SESSION_EXPIRED', `the receiver to expire ${id}`);
    expect(view).toMatchObject({ status: 'SESSION_EXPIRED', decision: null, customerUserId: '424242', anomalies: [] });
  });

  it.each([
    ['accept', 'accept'],
    ['reject', 'reject'],
    ['review', 'review'],
  ])('riskos %s: notes on the evaluation, then evaluation_completed with %s', async (scenario, decision) => {
    const { json } = await api.create({
      webhookUrl: receiver.webhookUrl,
      customerUserId: `e2e-riskos-${scenario}`,
      dialect: 'riskos',
      sandbox: { scenario },
    });
    const id = json.docvTransactionId as string;
    await sandbox.settled(10_000);
    await expectAllAccepted(id, RISKOS_SESSION);
    const view = await receiverView(
      id,
      (v) => v.status === 'evaluation_completed' && v.decision !== null,
      `the receiver to complete ${id}`,
    );
    expect(view).toMatchObject({
      docvTransactionId: id,
      status: 'evaluation_completed',
      decision,
      evaluationId: evaluationIdOf(id),
      anomalies: [],
    });
    // The notes came before the evaluation named the transaction; they join it by the evaluation id.
    expect(view.events.map((e) => e.eventType).sort()).toEqual([...RISKOS_SESSION].sort());
  });

  it('simulate: a mixed load is delivered in full', async () => {
    const summary = await runSimulation({
      target: receiver.webhookUrl,
      scenario: 'mixed',
      transactions: 40,
      concurrency: 8,
      webhookSecret: WEBHOOK_SECRET,
      signingSecrets: [SIGNING_SECRET],
      retrySchedule: '20ms,50ms,100ms',
      maxDurationMs: 20_000,
    });
    expect(summary).toMatchObject({ transactions: 40, failed: 0, duplicates: 0, timedOut: false });
    expect(summary.accepted).toBe(summary.events);
  });

  it.each(['socure-v5', 'riskos'] as const)('simulate: a mixed %s load is delivered in full', async (dialect) => {
    const summary = await runSimulation({
      target: receiver.webhookUrl,
      scenario: 'mixed',
      dialect,
      transactions: 20,
      concurrency: 8,
      webhookSecret: WEBHOOK_SECRET,
      signingSecrets: [SIGNING_SECRET],
      retrySchedule: '20ms,50ms,100ms',
      maxDurationMs: 20_000,
    });
    expect(summary).toMatchObject({ transactions: 20, failed: 0, duplicates: 0, timedOut: false });
    expect(summary.accepted).toBe(summary.events);
    expect(summary.events).toBeGreaterThan(40);
  });
});

/**
 * The decision fetch through Socure's ID+ call (`socure.api: 'idplus'`, `serve --socure-api
 * idplus`), against the sandbox's answer of it: completions that come without their decision
 * still end with it, fetched.
 */
describe.each(backends)('sandbox → receiver fetching decisions with ID+ ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let idplus: TestReceiver;
  beforeAll(async () => {
    idplus = await startTestReceiver({
      database: await backend.create(),
      webhookSecrets: [WEBHOOK_SECRET],
      signingSecrets: [SIGNING_SECRET],
      socure: { baseUrl: sandbox.url, apiKey: API_KEY, timeoutMs: 5_000, api: 'idplus' },
    });
  });
  afterAll(async () => {
    await idplus?.destroy();
  });

  const viewOf = async (id: string): Promise<ReceiverTransaction> => {
    let view: ReceiverTransaction | undefined;
    await eventually(
      async () => {
        const res = await fetch(`${idplus.url}/v1/transactions/${encodeURIComponent(id)}`, {
          signal: AbortSignal.timeout(5_000),
        });
        if (res.status !== 200) return false;
        view = (await res.json()) as ReceiverTransaction;
        return view.decision !== null;
      },
      `the ID+ receiver to learn the decision of ${id} (last view: ${JSON.stringify(view)?.slice(0, 400)})`,
      15_000,
    );
    return view!;
  };

  it.each([
    ['asyncapi', 'resubmit', 'VERIFICATION_COMPLETED'],
    ['socure-v5', 'review', 'VERIFICATION_COMPLETED'],
    ['riskos', 'accept', 'evaluation_completed'],
  ])('%s %s without a decision on the wire: the fetch gets it', async (dialect, scenario, status) => {
    const { json } = await api.create({
      webhookUrl: idplus.webhookUrl,
      customerUserId: `e2e-idplus-${dialect}`,
      dialect,
      sandbox: { scenario, chaos: { omitDecision: 1 } },
    });
    const id = json.docvTransactionId as string;
    await sandbox.settled(10_000);
    const deliveries = (await api.deliveries(`?transaction=${id}`)).json.deliveries as SandboxDelivery[];
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect(JSON.stringify(deliveries.map((d) => d.payload))).not.toMatch(/"decision"/);
    const view = await viewOf(id);
    expect(view).toMatchObject({
      docvTransactionId: id,
      status,
      decision: scenario,
      decisionSource: 'api',
      anomalies: [],
    });
  });
});
