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
    expect(s).toMatchObject({ transactions: 12, events: 36, sent: 36, accepted: 36, failed: 0, scenarios: { accept: 12 } });
    expect(s.eventsByType).toEqual({ APP_OPENED: 12, DOCUMENTS_UPLOADED: 12, VERIFICATION_COMPLETED: 12 });
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ events: 36, delivered: 36, open: 0, attempts: 36 });
  });

  it('keeps to the rate', async () => {
    const t = Date.now();
    const s = await runSimulation({ target: sink.url, scenario: 'abandon', transactions: 15, concurrency: 16, rate: 10 });
    expect(s.failed).toBe(0);
    // A burst of one second's worth (10) at once, then one every 100 ms for the other 5.
    expect(Date.now() - t).toBeGreaterThanOrEqual(450);
  });

  it('stops at --max-duration and counts what was not delivered as failed', async () => {
    const dead = await startSink(() => ({ status: 503 }));
    try {
      const s = await runSimulation({ target: dead.url, scenario: 'abandon', transactions: 2, retrySchedule: '10s', maxDurationMs: 300 });
      expect(s).toMatchObject({ timedOut: true, events: 2, failed: 2, sent: 2 });
      expect(s.durationMs).toBeLessThan(3_000);
    } finally {
      await dead.close();
    }
  });

  it('refuses a silly number of transactions', async () => {
    await expect(runSimulation({ target: sink.url, transactions: 0 })).rejects.toThrow(/transactions must be an integer/);
  });
});
