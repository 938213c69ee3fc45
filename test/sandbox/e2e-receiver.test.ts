import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulation, startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { sandboxClient } from './helpers/api.js';
import { eventually } from './helpers/sink.js';

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
  customerUserId: string | null;
  anomalies: unknown[];
  events: Array<{ eventType: string }>;
};

async function receiverTransaction(id: string): Promise<{ status: number; body: ReceiverTransaction }> {
  const res = await fetch(`${receiver.url}/v1/transactions/${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(5_000) });
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
  accept: { events: ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'], status: 'VERIFICATION_COMPLETED', decision: 'accept' },
  reject: { events: ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'], status: 'VERIFICATION_COMPLETED', decision: 'reject' },
  resubmit: { events: ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'], status: 'VERIFICATION_COMPLETED', decision: 'resubmit' },
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
    // `socure` points the receiver's decision fetch at the sandbox: Get A DocV Transaction for
    // real, so a VERIFICATION_COMPLETED without decision still ends with one.
    receiver = await startTestReceiver({
      database: await backend.create(),
      webhookSecrets: [WEBHOOK_SECRET],
      signingSecrets: [SIGNING_SECRET],
      socure: { baseUrl: sandbox.url, apiKey: API_KEY, timeoutMs: 5_000 },
    });
  });
  afterAll(async () => {
    await receiver?.destroy();
  });

  it.each(Object.keys(SCENARIOS))('%s: the receiver ends where the sandbox says', async (name) => {
    const expected = SCENARIOS[name]!;
    const { json } = await api.create({ webhookUrl: receiver.webhookUrl, customerUserId: `e2e-${name}`, sandbox: { scenario: name } });
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
    expect(view).toMatchObject({ docvTransactionId: id, status: expected.status, decision: expected.decision, customerUserId: `e2e-${name}`, anomalies: [] });
    expect(view.events.map((e) => e.eventType).sort()).toEqual([...expected.events].sort());
  });

  it('mixed: every transaction agrees', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await api.create({ webhookUrl: receiver.webhookUrl, customerUserId: `sandbox-mixed-${i}` })).json.docvTransactionId as string);
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
    const wrong = await startSandbox({ apiKey: API_KEY, webhookSecret: 'not-the-secret', retrySchedule: '10ms', timeScale: 0.00005 });
    try {
      const id = (await sandboxClient(wrong).create({ webhookUrl: receiver.webhookUrl, sandbox: { scenario: 'abandon' } })).json.docvTransactionId as string;
      await wrong.settled(10_000);
      const d = ((await sandboxClient(wrong).deliveries()).json.deliveries as Array<{ status: string; lastStatusCode: number }>)[0]!;
      expect(d).toMatchObject({ status: 'failed', lastStatusCode: 401 });
      expect((await receiverTransaction(id)).status).toBe(404);
      expect(await receiver.database.rows('SELECT 1 FROM events WHERE docv_transaction_id = ?', id)).toEqual([]);
    } finally {
      await wrong.close();
    }
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
});
