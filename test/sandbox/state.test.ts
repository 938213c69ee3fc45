import { describe, expect, it } from 'vitest';
import type { DocvEventType } from '../../src/contract/index.js';
import { MemoryStore } from '../../src/sandbox/memory-store.js';
import { MinHeap } from '../../src/sandbox/min-heap.js';
import { DocvService } from '../../src/sandbox/service.js';
import type { SandboxState } from '../../src/sandbox/state.js';
import { SandboxStore, type DeliveryStatus } from '../../src/sandbox/store.js';
import { seeded } from '../helpers/seeded.js';

const TYPES: DocvEventType[] = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED', 'SESSION_EXPIRED'];
/** What deliveries are named: the flat types and, since the sandbox speaks v5 and RiskOS, theirs. */
const NOTIFICATION_TYPES: string[] = [...TYPES, 'DOCUMENT_FRONT_UPLOADED', 'SESSION_COMPLETE', 'case_notes_added', 'evaluation_completed'];

/**
 * Plays one random sequence of what the service and the engine do (queue, hold, release, start,
 * answer, retry, restart, plan and take steps) on SQLite and on memory, and checks after every
 * operation that both answer the same.
 */
function differential(seed: number, operations: number): void {
  const random = seeded(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const sql = new SandboxStore(':memory:');
  const mem = new MemoryStore();
  const both = <T,>(f: (s: SandboxState) => T): [T, T] => [f(sql), f(mem)];
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
              out.push(s.insertDelivery({ eventId, docvTransactionId: tx, eventType, url: 'http://x/', body: '{}', ordered, copy, held, notBefore, createdAt: now }));
            }
            if (!held) s.releaseHeld(tx, now);
            return out;
          }),
        );
        expect(ids[1], context).toEqual(ids[0]);
      } else if (r < 0.4) {
        now += Math.floor(random() * 60);
      } else if (r < 0.55) {
        const limit = 1 + Math.floor(random() * 4);
        const [a, b] = both((s) => s.readyDeliveries(now, limit));
        expect(b, context).toEqual(a);
        for (const d of a) {
          const marked = both((s) => s.markInFlight(d.id));
          expect(marked[1], context).toBe(marked[0]);
          if (marked[0]) inFlight.add(d.id);
        }
      } else if (r < 0.75 && inFlight.size > 0) {
        const id = pick([...inFlight]);
        inFlight.delete(id);
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        const status = pick<DeliveryStatus>(['delivered', 'delivered', 'pending', 'failed', 'gone', 'rejected']);
        const next = { status, notBefore: status === 'pending' ? now + Math.floor(random() * 100) : now, finishedAt: status === 'pending' ? undefined : now };
        const statusCode = status === 'delivered' ? 200 : status === 'rejected' ? 422 : status === 'gone' ? 410 : 500;
        const attempt = { deliveryId: id, n, startedAt: now, latencyMs: 1, statusCode };
        both((s) => s.atomically(() => s.recordAttempts([{ attempt, next }])));
      } else if (r < 0.8) {
        const released = both((s) => s.releaseExpiredHolds(now));
        expect(released[1], context).toBe(released[0]);
      } else if (r < 0.82) {
        const reset = both((s) => s.resetInFlight());
        expect(reset[1], context).toBe(reset[0]);
        inFlight.clear();
      } else if (r < 0.9) {
        const tx = pick(txs);
        const dueAt = now + Math.floor(random() * 50);
        const type = pick(TYPES);
        both((s) => s.insertStep(tx, type, undefined, dueAt));
      } else if (r < 0.97) {
        const [a, b] = both((s) => s.dueSteps(now, 3));
        expect(b, context).toEqual(a);
        const state = random() < 0.8 ? 'done' : 'skipped';
        for (const step of a) both((s) => s.markStep(step.id, state));
      } else {
        const tx = pick(txs);
        both((s) => s.cancelPlannedSteps(tx));
      }

      const [ready, readyMem] = both((s) => s.readyDeliveries(now, 1_000));
      expect(readyMem, context).toEqual(ready);
      expect(mem.countOpenDeliveries(), context).toBe(sql.countOpenDeliveries());
      const unsent = sql.listDeliveries({ limit: 1_000 }).filter((d) => d.attempts === 0 && (d.status === 'held' || d.status === 'pending'));
      expect(mem.countUnsentDeliveries(), context).toBe(unsent.length);
      expect(mem.eventCounts(), context).toEqual(sql.eventCounts());
      expect(mem.eventTypeCounts(), context).toEqual(sql.eventTypeCounts());
      expect(mem.countPlannedSteps(), context).toBe(sql.countPlannedSteps());
      expect(mem.nextStepDue(), context).toBe(sql.nextStepDue());
      expect(mem.dueSteps(now, 1_000), context).toEqual(sql.dueSteps(now, 1_000));
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
  it('answers as the SQLite store does, over random sequences of queueing, holds, answers, retries and steps', () => {
    for (let seed = 1; seed <= 30; seed++) differential(seed, 300);
  });

  it('returns snapshots: a delivery handed out keeps its attempt count when the store records the next attempt', () => {
    const mem = new MemoryStore();
    const id = mem.insertDelivery({ eventId: 'e', docvTransactionId: 't', eventType: 'APP_OPENED', url: 'http://x/', body: '{}', ordered: true, copy: 1, held: false, notBefore: 0, createdAt: 0 });
    const [d] = mem.readyDeliveries(0, 10);
    mem.markInFlight(id);
    mem.recordAttempts([{ attempt: { deliveryId: id, n: 1, startedAt: 0, latencyMs: 1, statusCode: 500 }, next: { status: 'pending', notBefore: 5 } }]);
    expect(d!.attempts).toBe(0);
    expect(mem.readyDeliveries(5, 10)[0]).toMatchObject({ id, attempts: 1, lastStatusCode: 500 });
  });
});

describe('DocvService holdSteps (simulate keeping its backlog small)', () => {
  it('takes no due step while told to hold, and goes on when woken', async () => {
    const store = new MemoryStore();
    let hold = true;
    let woken = 0;
    const service = new DocvService({ store, wakeDelivery: () => (woken += 1), timeScale: 0, defaultWebhookUrl: 'http://127.0.0.1:9/hook', holdSteps: () => hold });
    store.atomically(() => service.create({ scenario: 'accept' }));
    service.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(store.eventCounts().total).toBe(0);
    expect(store.countPlannedSteps()).toBe(3);
    hold = false;
    service.wake();
    await new Promise((r) => setTimeout(r, 30));
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
