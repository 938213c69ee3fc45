import type Database from 'better-sqlite3';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DocvEventType } from '../../src/contract/index.js';
import { MemoryStore } from '../../src/sandbox/memory-store.js';
import { MinHeap } from '../../src/sandbox/min-heap.js';
import { DocvService } from '../../src/sandbox/service.js';
import type { SandboxState } from '../../src/sandbox/state.js';
import type { DeliveryStatus } from '../../src/sandbox/records.js';
import { SandboxStore } from '../../src/sandbox/store.js';
import { seeded } from '../helpers/seeded.js';

const TYPES: DocvEventType[] = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED', 'SESSION_EXPIRED'];
/** What deliveries are named: the flat types and, since the sandbox speaks v5 and RiskOS, theirs. */
const NOTIFICATION_TYPES: string[] = [
  ...TYPES,
  'DOCUMENT_FRONT_UPLOADED',
  'SESSION_COMPLETE',
  'case_notes_added',
  'evaluation_completed',
];

/**
 * Plays one random sequence of what the service and the engine do (queue, hold, release, start,
 * answer, retry, restart, plan and take steps) on SQLite and on memory, and checks after every
 * operation that both answer the same.
 */
/**
 * `toEqual`, with the usual case (equal) settled first by node's strict comparison: it runs about
 * 100,000 times, and expect's own bookkeeping cost more than the stores. Strict equality implies
 * toEqual's, so only a difference reaches expect, which then says what it is.
 */
function same<T>(actual: T, expected: T, context: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, context).toEqual(expected);
}

function differential(seed: number, operations: number): void {
  const random = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const sql = new SandboxStore(':memory:');
  const mem = new MemoryStore();
  // SQLite has no count of unsent deliveries (only memory keeps one, for simulate's backlog):
  // ask its table, as listing every delivery after every operation would cost most of the run.
  const unsent = (sql as unknown as { db: Database.Database }).db
    .prepare<[], number>("SELECT count(*) FROM deliveries WHERE attempts = 0 AND status IN ('held', 'pending')")
    .pluck();
  const both = <T>(f: (s: SandboxState) => T): [T, T] => [f(sql), f(mem)];
  const txs = ['tx-a', 'tx-b', 'tx-c', 'tx-d'];
  let now = 1_000;
  let events = 0;
  const inFlight = new Set<number>();
  const attempts = new Map<number, number>();
  try {
    for (let op = 0; op < operations; op++) {
      const r = random();
      const context = `seed ${seed}, operation ${op}`;
      if (r < 0.3) {
        const tx = pick(txs);
        const eventId = `evt_${++events}`;
        const eventType = pick(NOTIFICATION_TYPES);
        const held = random() < 0.15;
        const copies = random() < 0.2 ? 2 : 1;
        const ordered = random() < 0.9;
        const notBefore = now + (held ? 40 : random() < 0.2 ? Math.floor(random() * 80) : 0);
        const ids = both((s) =>
          s.atomically(() => {
            s.insertEvent({ eventId, docvTransactionId: tx, eventType, body: '{}', createdAt: now });
            const out: number[] = [];
            for (let copy = 1; copy <= copies; copy++) {
              out.push(
                s.insertDelivery({
                  eventId,
                  docvTransactionId: tx,
                  eventType,
                  url: 'http://x/',
                  body: '{}',
                  ordered,
                  copy,
                  held,
                  notBefore,
                  createdAt: now,
                }),
              );
            }
            if (!held) s.releaseHeld(tx, now);
            return out;
          }),
        );
        same(ids[1], ids[0], context);
      } else if (r < 0.4) {
        now += Math.floor(random() * 60);
      } else if (r < 0.55) {
        const limit = 1 + Math.floor(random() * 4);
        const [a, b] = both((s) => s.readyDeliveries(now, limit));
        same(b, a, context);
        for (const d of a) {
          const marked = both((s) => s.markInFlight(d.id));
          same(marked[1], marked[0], context);
          if (marked[0]) inFlight.add(d.id);
        }
      } else if (r < 0.75 && inFlight.size > 0) {
        const id = pick([...inFlight]);
        inFlight.delete(id);
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        const status = pick<DeliveryStatus>(['delivered', 'delivered', 'pending', 'failed', 'gone', 'rejected']);
        const next = {
          status,
          notBefore: status === 'pending' ? now + Math.floor(random() * 100) : now,
          finishedAt: status === 'pending' ? undefined : now,
        };
        const statusCode = status === 'delivered' ? 200 : status === 'rejected' ? 422 : status === 'gone' ? 410 : 500;
        const attempt = { deliveryId: id, n, startedAt: now, latencyMs: 1, statusCode };
        both((s) => s.atomically(() => s.recordAttempts([{ attempt, next }])));
      } else if (r < 0.8) {
        const released = both((s) => s.releaseExpiredHolds(now));
        same(released[1], released[0], context);
      } else if (r < 0.82) {
        const reset = both((s) => s.resetInFlight());
        same(reset[1], reset[0], context);
        inFlight.clear();
      } else if (r < 0.9) {
        const tx = pick(txs);
        const dueAt = now + Math.floor(random() * 50);
        const type = pick(TYPES);
        both((s) => s.insertStep(tx, type, undefined, dueAt));
      } else if (r < 0.97) {
        const [a, b] = both((s) => s.dueSteps(now, 3));
        same(b, a, context);
        const state = random() < 0.8 ? 'done' : 'skipped';
        for (const step of a) both((s) => s.markStep(step.id, state));
      } else {
        const tx = pick(txs);
        both((s) => s.cancelPlannedSteps(tx));
      }

      const [ready, readyMem] = both((s) => s.readyDeliveries(now, 1_000));
      same(readyMem, ready, context);
      same(mem.countOpenDeliveries(), sql.countOpenDeliveries(), context);
      same(mem.countUnsentDeliveries(), unsent.get(), context);
      same(mem.eventCounts(), sql.eventCounts(), context);
      same(mem.eventTypeCounts(), sql.eventTypeCounts(), context);
      same(mem.countPlannedSteps(), sql.countPlannedSteps(), context);
      same(mem.nextStepDue(), sql.nextStepDue(), context);
      same(mem.dueSteps(now, 1_000), sql.dueSteps(now, 1_000), context);
      // Memory leaves out what cannot start before something else finishes (which wakes the
      // engine anyway): it may name a later moment, never an earlier one, and never none when
      // something is held or waiting only for its time.
      const [dueSql, dueMem] = both((s) => s.nextDeliveryDue(now));
      if (dueMem !== undefined) expect(dueSql !== undefined && dueSql <= dueMem, context).toBe(true);
      if (ready.length === 0 && inFlight.size === 0 && dueSql !== undefined) expect(dueMem, context).toBeDefined();
    }
  } finally {
    sql.close();
    mem.close();
  }
}

describe('MemoryStore (what simulate keeps its run in)', () => {
  // About 5 s of CPU: the time limit is for a machine busy with the integration suite as well.
  it(
    'answers as the SQLite store does, over random sequences of queueing, holds, answers, retries and steps',
    { timeout: 120_000 },
    () => {
      for (let seed = 1; seed <= 30; seed++) differential(seed, 300);
    },
  );

  it('returns snapshots: a delivery handed out keeps its attempt count when the store records the next attempt', () => {
    const mem = new MemoryStore();
    const id = mem.insertDelivery({
      eventId: 'e',
      docvTransactionId: 't',
      eventType: 'APP_OPENED',
      url: 'http://x/',
      body: '{}',
      ordered: true,
      copy: 1,
      held: false,
      notBefore: 0,
      createdAt: 0,
    });
    const [d] = mem.readyDeliveries(0, 10);
    mem.markInFlight(id);
    mem.recordAttempts([
      {
        attempt: { deliveryId: id, n: 1, startedAt: 0, latencyMs: 1, statusCode: 500 },
        next: { status: 'pending', notBefore: 5 },
      },
    ]);
    expect(d!.attempts).toBe(0);
    expect(mem.readyDeliveries(5, 10)[0]).toMatchObject({ id, attempts: 1, lastStatusCode: 500 });
  });
});

describe('DocvService holdSteps (simulate keeping its backlog small)', () => {
  // Fake timers: the service's WakeTimer runs on setImmediate/setTimeout, which they drive, so
  // no real time passes.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('takes no due step while told to hold, and goes on when woken', async () => {
    const store = new MemoryStore();
    let hold = true;
    let woken = 0;
    const service = new DocvService({
      store,
      wakeDelivery: () => (woken += 1),
      timeScale: 0,
      defaultWebhookUrl: 'http://127.0.0.1:9/hook',
      holdSteps: () => hold,
    });
    store.atomically(() => service.create({ scenario: 'accept' }));
    service.start();
    // Past the timer's longest sleep (1 s), so a step taken on a timed wake-up would show.
    await vi.advanceTimersByTimeAsync(2_500);
    expect(store.eventCounts().total).toBe(0);
    expect(store.countPlannedSteps()).toBe(3);
    hold = false;
    service.wake();
    await vi.advanceTimersByTimeAsync(0);
    service.stop();
    expect(store.eventCounts().total).toBe(3);
    expect(store.countUnsentDeliveries()).toBe(3);
    expect(woken).toBe(3);
  });
});

describe('MinHeap', () => {
  it('hands items back smallest first', () => {
    const random = seeded(7);
    const heap = new MinHeap<number>((a, b) => a < b);
    const xs = Array.from({ length: 500 }, () => Math.floor(random() * 100));
    for (const x of xs) heap.push(x);
    const out: number[] = [];
    for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x);
    expect(out).toEqual([...xs].sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });
});
