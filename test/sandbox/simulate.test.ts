import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulation, type SimulationProgress } from '../../src/sandbox/index.js';
import { startSink, type Sink } from './helpers/sink.js';

let sink: Sink;
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  sink = await startSink(() => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => (inFlight -= 1), 15).unref();
    return { status: 200, delayMs: 15 };
  });
});
afterAll(() => sink?.close());

describe('runSimulation', () => {
  it('keeps to the concurrency and reports progress', async () => {
    maxInFlight = 0;
    const progress: SimulationProgress[] = [];
    const s = await runSimulation({
      target: sink.url,
      scenario: 'accept',
      transactions: 12,
      concurrency: 3,
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 20,
    });
    expect(s).toMatchObject({
      transactions: 12,
      events: 36,
      sent: 36,
      accepted: 36,
      failed: 0,
      scenarios: { accept: 12 },
    });
    expect(s.eventsByType).toEqual({ APP_OPENED: 12, DOCUMENTS_UPLOADED: 12, VERIFICATION_COMPLETED: 12 });
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ events: 36, delivered: 36, open: 0, attempts: 36 });
  });

  it('keeps to the rate', async () => {
    const t = Date.now();
    const s = await runSimulation({
      target: sink.url,
      scenario: 'abandon',
      transactions: 15,
      concurrency: 16,
      rate: 10,
    });
    expect(s.failed).toBe(0);
    // A burst of one second's worth (10) at once, then one every 100 ms for the other 5.
    expect(Date.now() - t).toBeGreaterThanOrEqual(450);
  });

  it('stops at --max-duration and counts what was not delivered as failed', async () => {
    const dead = await startSink(() => ({ status: 503 }));
    try {
      const s = await runSimulation({
        target: dead.url,
        scenario: 'abandon',
        transactions: 2,
        retrySchedule: '10s',
        maxDurationMs: 300,
      });
      expect(s).toMatchObject({ timedOut: true, events: 2, failed: 2, sent: 2 });
      expect(s.durationMs).toBeLessThan(3_000);
    } finally {
      await dead.close();
    }
  });

  it('keeps each transaction in order through retries, duplicates and delays, and counts them', async () => {
    const rank: Record<string, number> = {
      APP_OPENED: 0,
      DOCUMENTS_UPLOADED: 1,
      SESSION_EXPIRED: 2,
      VERIFICATION_COMPLETED: 3,
    };
    const seen = new Set<string>();
    const flaky = await startSink((r) => {
      // Every event's first request fails: each one is retried once.
      const id = String(r.headers['webhook-id']);
      if (seen.has(id)) return { status: 200, body: '{"status":"accepted"}' };
      seen.add(id);
      return { status: 500 };
    });
    try {
      const s = await runSimulation({
        target: flaky.url,
        scenario: 'mixed',
        transactions: 60,
        concurrency: 8,
        retrySchedule: '5ms',
        chaos: { duplicates: 0.3, delay: 0.3, delayMs: { min: 5, max: 20 } },
      });
      const byTx = new Map<string, number[]>();
      for (const r of flaky.received) {
        const tx = String(r.json.docvTransactionId);
        byTx.set(tx, [...(byTx.get(tx) ?? []), rank[String(r.json.eventType)]!]);
      }
      expect(byTx.size).toBe(60);
      // A later event never reaches the receiver before an earlier one is done: not its retry, not its duplicate.
      for (const ranks of byTx.values()) expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(s.failed).toBe(0);
      expect(s.sent).toBe(flaky.received.length);
      expect(s.responses['500']).toBe(s.events);
      expect(s.retries).toBeGreaterThanOrEqual(s.events);
      expect(s.accepted).toBe(s.sent - s.events);
      expect(s.sent).toBeGreaterThan(2 * s.events); // some duplicates were sent
    } finally {
      await flaky.close();
    }
  });

  it('delivers events held back by out-of-order chaos after the event that overtook them', async () => {
    const before = sink.received.length;
    const s = await runSimulation({
      target: sink.url,
      scenario: 'accept',
      transactions: 10,
      concurrency: 4,
      chaos: { outOfOrder: 1 },
    });
    expect(s).toMatchObject({ events: 30, sent: 30, accepted: 30, failed: 0 });
    const order = new Map<string, string[]>();
    for (const r of sink.received.slice(before)) {
      const tx = String(r.json.docvTransactionId);
      order.set(tx, [...(order.get(tx) ?? []), String(r.json.eventType)]);
    }
    // Only the terminal event is never held, so the other two arrive after it, in the order they were released.
    for (const types of order.values())
      expect(types).toEqual(['VERIFICATION_COMPLETED', 'APP_OPENED', 'DOCUMENTS_UPLOADED']);
  });

  it('sends one request at a time while the receiver refuses our credentials, and stops after three refusals in a row', async () => {
    let open = 0;
    let most = 0;
    const refusing = await startSink(() => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => (open -= 1), 10).unref();
      return { status: 401, delayMs: 10, body: '{"type":"urn:docv-webhooks:problem:unauthorized","status":401}' };
    });
    try {
      const s = await runSimulation({
        target: refusing.url,
        scenario: 'accept',
        transactions: 100,
        concurrency: 16,
        signingSecrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      });
      expect(s).toMatchObject({
        sent: 3,
        accepted: 0,
        responses: { '401': 3 },
        refused: { kind: 'credentials', statuses: { '401': 3 } },
        timedOut: false,
      });
      expect(s.refused!.message).toContain('we sent a signature, no webhook secret');
      expect(refusing.received).toHaveLength(3);
      expect(most).toBe(1);
    } finally {
      await refusing.close();
    }
  });

  it('goes on at full concurrency once an answer gets through, whatever refusals came before', async () => {
    let open = 0;
    let most = 0;
    const flaky = await startSink((_r, i) => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => (open -= 1), 10).unref();
      return i < 2 ? { status: 401, delayMs: 10 } : { status: 200, delayMs: 10, body: '{"status":"accepted"}' };
    });
    try {
      const s = await runSimulation({
        target: flaky.url,
        scenario: 'abandon',
        transactions: 40,
        concurrency: 8,
        retrySchedule: '5ms',
      });
      expect(s.refused).toBeUndefined();
      expect(s.responses['401']).toBe(2);
      expect(s.accepted).toBeGreaterThanOrEqual(38);
      expect(most).toBeGreaterThan(1);
    } finally {
      await flaky.close();
    }
  });

  it('refuses a silly number of transactions', async () => {
    await expect(runSimulation({ target: sink.url, transactions: 0 })).rejects.toThrow(
      /transactions must be an integer/,
    );
  });
});
