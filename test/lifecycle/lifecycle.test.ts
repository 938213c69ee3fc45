import { describe, expect, it } from 'vitest';
import {
  applyApiDecision,
  applyEvent,
  foldLifecycle,
  startLifecycle,
  type LifecycleEvent,
  type TransactionLifecycle,
} from '../../src/lifecycle/index.js';
import { DOCV_EVENT_TYPES, type DocvEventType } from '../../src/contract/index.js';

const TIMES: Record<DocvEventType, string> = {
  APP_OPENED: '2026-03-01T10:00:00Z',
  DOCUMENTS_UPLOADED: '2026-03-01T10:01:00Z',
  VERIFICATION_COMPLETED: '2026-03-01T10:02:00Z',
  SESSION_EXPIRED: '2026-03-01T10:30:00Z',
};

function ev(eventType: DocvEventType, extra: Partial<LifecycleEvent> = {}): LifecycleEvent {
  return {
    eventType,
    eventTime: TIMES[eventType],
    customerUserId: 'user-1',
    receivedAt: '2026-03-01T11:00:00.000Z',
    ...(eventType === 'VERIFICATION_COMPLETED' ? { decision: 'accept' as const } : {}),
    ...extra,
  };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((acc, item) => acc.concat(acc.map((s) => [...s, item])), [[]]).filter((s) => s.length > 0);
}

/** The order-independent part of a lifecycle (receipt bookkeeping aside). */
function essence(l: TransactionLifecycle) {
  return {
    status: l.status,
    decision: l.decision,
    customerUserId: l.customerUserId,
    firstEventAt: l.firstEventAt,
    lastEventAt: l.lastEventAt,
    eventCount: l.eventCount,
    anomalies: l.anomalies,
  };
}

const EXPECTED_STATUS_ORDER: DocvEventType[] = [
  'APP_OPENED',
  'DOCUMENTS_UPLOADED',
  'SESSION_EXPIRED',
  'VERIFICATION_COMPLETED',
];

describe('lifecycle: every ordering of every combination of the four event types', () => {
  const combos = subsets(DOCV_EVENT_TYPES);
  it('covers 15 combinations and 64 orderings', () => {
    expect(combos).toHaveLength(15);
    expect(combos.reduce((n, c) => n + permutations(c).length, 0)).toBe(64);
  });

  for (const combo of combos) {
    const expectedStatus = EXPECTED_STATUS_ORDER.filter((t) => combo.includes(t)).at(-1);
    it(`{${combo.join(', ')}} → ${expectedStatus} in all ${permutations(combo).length} orders`, () => {
      const results = permutations(combo).map((order) =>
        foldLifecycle(
          'tx-1',
          order.map((t) => ev(t)),
        )!,
      );
      for (const r of results) {
        expect(r.status).toBe(expectedStatus);
        expect(r.decision).toBe(combo.includes('VERIFICATION_COMPLETED') ? 'accept' : null);
        expect(r.customerUserId).toBe('user-1');
        expect(r.eventCount).toBe(combo.length);
        const times = combo.map((t) => TIMES[t]).sort();
        expect(r.firstEventAt).toBe(times[0]);
        expect(r.lastEventAt).toBe(times.at(-1));
        const expired = combo.includes('SESSION_EXPIRED') && combo.includes('VERIFICATION_COMPLETED');
        expect(r.anomalies.map((a) => a.code)).toEqual(expired ? ['completed_and_expired'] : []);
        expect(essence(r)).toEqual(essence(results[0]!));
      }
    });
  }
});

describe('lifecycle: decisions', () => {
  it('keeps the decision of the latest VERIFICATION_COMPLETED and records the contradiction, in either order', () => {
    const early = ev('VERIFICATION_COMPLETED', { decision: 'resubmit', eventTime: '2026-03-01T10:02:00Z' });
    const late = ev('VERIFICATION_COMPLETED', { decision: 'accept', eventTime: '2026-03-01T10:09:00Z' });
    for (const order of [
      [early, late],
      [late, early],
    ]) {
      const l = foldLifecycle('tx', order)!;
      expect(l.decision).toBe('accept');
      expect(l.anomalies).toEqual([
        expect.objectContaining({ code: 'conflicting_decisions', values: ['accept', 'resubmit'] }),
      ]);
    }
  });

  it('breaks an eventTime tie towards the more cautious decision', () => {
    const a = ev('VERIFICATION_COMPLETED', { decision: 'accept' });
    const r = ev('VERIFICATION_COMPLETED', { decision: 'reject' });
    expect(foldLifecycle('tx', [a, r])!.decision).toBe('reject');
    expect(foldLifecycle('tx', [r, a])!.decision).toBe('reject');
  });

  it('a VERIFICATION_COMPLETED without decision completes the transaction and never erases a known decision', () => {
    const withDecision = ev('VERIFICATION_COMPLETED', { decision: 'reject' });
    const without = ev('VERIFICATION_COMPLETED', { decision: undefined, eventTime: '2026-03-01T10:20:00Z' });
    expect(foldLifecycle('tx', [without])).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: null });
    expect(foldLifecycle('tx', [withDecision, without])!.decision).toBe('reject');
    expect(foldLifecycle('tx', [without, withDecision])!.decision).toBe('reject');
    expect(foldLifecycle('tx', [without, withDecision])!.anomalies).toEqual([]);
  });

  it('repeating the same decision is not an anomaly', () => {
    const l = foldLifecycle('tx', [
      ev('VERIFICATION_COMPLETED'),
      ev('VERIFICATION_COMPLETED', { eventTime: '2026-03-01T10:05:00Z' }),
    ])!;
    expect(l.anomalies).toEqual([]);
    expect(l.eventCount).toBe(2);
  });
});

describe('lifecycle: customerUserId', () => {
  it('keeps the earliest value and flags a change whatever the order', () => {
    const a = ev('APP_OPENED', { customerUserId: 'alice' });
    const b = ev('DOCUMENTS_UPLOADED', { customerUserId: 'mallory' });
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const l = foldLifecycle('tx', order)!;
      expect(l.customerUserId).toBe('alice');
      expect(l.anomalies).toEqual([
        expect.objectContaining({ code: 'customer_user_id_changed', values: ['alice', 'mallory'] }),
      ]);
    }
  });

  it('an event without customerUserId neither clears nor changes it', () => {
    const l = foldLifecycle('tx', [ev('APP_OPENED', { customerUserId: undefined }), ev('DOCUMENTS_UPLOADED')])!;
    expect(l.customerUserId).toBe('user-1');
    expect(l.anomalies).toEqual([]);
  });
});

describe('lifecycle: timestamps', () => {
  it('compares eventTime instants, not strings, across offsets', () => {
    const opened = ev('APP_OPENED', { eventTime: '2026-03-01T11:00:00+02:00' }); // 09:00Z
    const uploaded = ev('DOCUMENTS_UPLOADED', { eventTime: '2026-03-01T09:30:00Z' });
    const l = applyEvent(startLifecycle('tx', uploaded), opened);
    expect(l.firstEventAt).toBe('2026-03-01T11:00:00+02:00');
    expect(l.lastEventAt).toBe('2026-03-01T09:30:00Z');
  });

  it('tracks first and last receipt', () => {
    const l = foldLifecycle('tx', [
      ev('APP_OPENED', { receivedAt: '2026-03-01T12:00:00.000Z' }),
      ev('DOCUMENTS_UPLOADED', { receivedAt: '2026-03-01T12:00:05.000Z' }),
    ])!;
    expect([l.firstReceivedAt, l.lastReceivedAt]).toEqual(['2026-03-01T12:00:00.000Z', '2026-03-01T12:00:05.000Z']);
  });
});

describe('lifecycle: decision from Get A DocV Transaction', () => {
  const fetched = { decision: 'reject' as const, reasonCodes: ['I831', 'R810'], fetchedAt: '2026-03-01T10:03:00.000Z' };

  it('records the API decision with its source and reason codes', () => {
    const l = applyApiDecision(foldLifecycle('tx', [ev('VERIFICATION_COMPLETED', { decision: undefined })])!, fetched);
    expect(l).toMatchObject({
      decision: 'reject',
      decisionSource: 'api',
      reasonCodes: ['I831', 'R810'],
      anomalies: [],
    });
  });

  it('agreeing event and API: no anomaly; disagreeing: the API wins and the mismatch is recorded', () => {
    const agree = applyApiDecision(
      foldLifecycle('tx', [ev('VERIFICATION_COMPLETED', { decision: 'reject' })])!,
      fetched,
    );
    expect(agree.anomalies).toEqual([]);
    const disagree = applyApiDecision(
      foldLifecycle('tx', [ev('VERIFICATION_COMPLETED', { decision: 'accept' })])!,
      fetched,
    );
    expect(disagree).toMatchObject({ decision: 'reject', decisionSource: 'api' });
    expect(disagree.anomalies).toEqual([
      expect.objectContaining({ code: 'decision_mismatch', values: ['reject', 'accept'] }),
    ]);
  });

  it('an event arriving after the fetch does not override the API decision, but a disagreement is flagged', () => {
    const l = applyApiDecision(foldLifecycle('tx', [ev('APP_OPENED')])!, fetched);
    const after = applyEvent(l, ev('VERIFICATION_COMPLETED', { decision: 'accept' }));
    expect(after).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: 'reject',
      decisionSource: 'api',
      reasonCodes: ['I831', 'R810'],
    });
    expect(after.anomalies.map((a) => a.code)).toEqual(['decision_mismatch']);
  });

  it('an event decision alone has source event', () => {
    expect(foldLifecycle('tx', [ev('VERIFICATION_COMPLETED')])).toMatchObject({
      decision: 'accept',
      decisionSource: 'event',
    });
    expect(foldLifecycle('tx', [ev('APP_OPENED')])).toMatchObject({ decision: null, decisionSource: null });
  });
});
