import { describe, expect, it } from 'vitest';
import {
  applyApiDecision,
  applyDecisionUnavailable,
  applyEvent,
  foldLifecycle,
  NO_STATUS,
  STATUS_RANK,
  type LifecycleEvent,
  type TransactionLifecycle,
} from '../../src/lifecycle/index.js';
import { seeded } from '../helpers/seeded.js';

/** The stream Socure's v5 and RiskOS senders produce, each type at its own time, plus two that rank nowhere. */
const STREAM: Array<Omit<LifecycleEvent, 'receivedAt'>> = [
  { eventType: 'WAITING_FOR_USER_TO_REDIRECT', eventTime: '2026-12-06T10:00:00.000Z', dialect: 'socure-v5' },
  { eventType: 'APP_OPENED', eventTime: '2026-12-06T10:00:10.000Z', dialect: 'socure-v5' },
  { eventType: 'DOCUMENT_FRONT_UPLOADED', eventTime: '2026-12-06T10:00:20.000Z', dialect: 'socure-v5' },
  { eventType: 'DOCUMENT_BACK_UPLOADED', eventTime: '2026-12-06T10:00:30.000Z', dialect: 'socure-v5' },
  { eventType: 'DOCUMENT_SELFIE_UPLOADED', eventTime: '2026-12-06T10:00:40.000Z', dialect: 'socure-v5' },
  { eventType: 'DOCUMENTS_UPLOADED', eventTime: '2026-12-06T10:00:50.000Z', dialect: 'socure-v5' },
  { eventType: 'SESSION_EXPIRED', eventTime: '2026-12-06T10:30:00.000Z', dialect: 'socure-v5' },
  {
    eventType: 'VERIFICATION_COMPLETED',
    eventTime: '2026-12-06T10:01:00.000Z',
    dialect: 'socure-v5',
    decision: 'accept',
  },
  // Seen 25 ms after (or before) the completion.
  { eventType: 'SESSION_COMPLETE', eventTime: '2026-12-06T10:01:00.025Z', dialect: 'socure-v5' },
  {
    eventType: 'evaluation_completed',
    eventTime: '2026-12-06T10:02:00.000Z',
    dialect: 'riskos',
    decision: 'review',
    evaluationId: 'eval-1',
  },
  { eventType: 'case_notes_added', eventTime: '2026-12-06T10:00:15.000Z', dialect: 'riskos', evaluationId: 'eval-1' },
  { eventType: 'DOCUMENT_HOLOGRAM_CHECKED', eventTime: '2026-12-06T10:00:45.000Z', dialect: 'socure-v5' },
];

function ev(e: Omit<LifecycleEvent, 'receivedAt'>): LifecycleEvent {
  return { ...e, customerUserId: 'user-1', environment: 'Production', receivedAt: '2026-12-06T11:00:00.000Z' };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield items.slice();
    return;
  }
  for (let i = 0; i < items.length; i++) {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) yield [items[i]!, ...rest];
  }
}

function essence(l: TransactionLifecycle) {
  return {
    status: l.status,
    decision: l.decision,
    customerUserId: l.customerUserId,
    firstEventAt: l.firstEventAt,
    lastEventAt: l.lastEventAt,
    eventCount: l.eventCount,
    anomalies: l.anomalies,
    evaluationId: l.evaluationId,
    environment: l.environment,
  };
}

/** What the lifecycle must say for a set of events, from the rules alone. */
function expected(combo: Array<Omit<LifecycleEvent, 'receivedAt'>>) {
  const types = combo.map((e) => e.eventType);
  const ranked = types.filter((t) => STATUS_RANK[t] !== undefined).sort((a, b) => STATUS_RANK[a]! - STATUS_RANK[b]!);
  const decided = combo.filter((e) => e.decision).sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
  const codes: string[] = [];
  if (new Set(decided.map((e) => e.decision)).size > 1) codes.push('conflicting_decisions');
  if (
    types.includes('SESSION_EXPIRED') &&
    (types.includes('VERIFICATION_COMPLETED') || types.includes('evaluation_completed'))
  )
    codes.push('completed_and_expired');
  if (new Set(combo.map((e) => e.dialect)).size > 1) codes.push('dialect_mismatch');
  return { status: ranked.at(-1) ?? NO_STATUS, decision: decided.at(-1)?.decision ?? null, anomalies: codes };
}

function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((acc, item) => acc.concat(acc.map((s) => [...s, item])), [[]]).filter((s) => s.length > 0);
}

describe('lifecycle of the longer stream: every combination of twelve event types, in many orders', () => {
  const combos = subsets(STREAM);
  it('covers 4,095 combinations', () => expect(combos).toHaveLength(4095));

  it('status, decision and anomalies follow the rules and do not depend on arrival order', () => {
    const random = seeded(14);
    let folds = 0;
    for (const combo of combos) {
      const want = expected(combo);
      // Every order for up to four events; eight seeded orders (and the reverse) beyond.
      const orders =
        combo.length <= 4
          ? [...permutations(combo)]
          : [combo, combo.slice().reverse(), ...Array.from({ length: 8 }, () => shuffled(combo, random))];
      let first: string | null = null;
      for (const order of orders) {
        const l = foldLifecycle('tx', order.map(ev))!;
        folds++;
        const got = { status: l.status, decision: l.decision, anomalies: l.anomalies.map((a) => a.code) };
        const same = JSON.stringify(essence(l));
        first ??= same;
        // Compared as text, and only a failure pays for expect's diff and the ordering's name.
        if (JSON.stringify(got) !== JSON.stringify(want) || l.eventCount !== combo.length || same !== first) {
          const context = order.map((e) => e.eventType).join(' → ');
          expect({ ...got, eventCount: l.eventCount }, context).toEqual({ ...want, eventCount: combo.length });
          expect(same, `${context}: differs from another order of the same events`).toBe(first);
        }
      }
    }
    expect(folds).toBeGreaterThan(40_000);
  });
});

describe('lifecycle of the longer stream: cases by name', () => {
  const at = (eventType: string, eventTime: string, extra: Partial<LifecycleEvent> = {}): LifecycleEvent => ({
    eventType,
    eventTime,
    receivedAt: eventTime,
    dialect: 'socure-v5',
    ...extra,
  });

  it('SESSION_COMPLETE 25 ms before or after VERIFICATION_COMPLETED: the status ends at the completion', () => {
    const completed = at('VERIFICATION_COMPLETED', '2026-12-06T10:01:00.000Z', { decision: 'reject' });
    const session = at('SESSION_COMPLETE', '2026-12-06T10:01:00.025Z');
    for (const order of [
      [completed, session],
      [session, completed],
    ])
      expect(foldLifecycle('tx', order)).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: 'reject' });
    expect(foldLifecycle('tx', [session])!.status).toBe('SESSION_COMPLETE');
  });

  it('the per-side uploads rank between APP_OPENED and DOCUMENTS_UPLOADED', () => {
    expect(
      foldLifecycle('tx', [
        at('APP_OPENED', '2026-12-06T10:00:00Z'),
        at('DOCUMENT_BACK_UPLOADED', '2026-12-06T10:00:05Z'),
      ])!.status,
    ).toBe('DOCUMENT_BACK_UPLOADED');
    expect(
      foldLifecycle('tx', [
        at('DOCUMENTS_UPLOADED', '2026-12-06T10:00:09Z'),
        at('DOCUMENT_SELFIE_UPLOADED', '2026-12-06T10:00:05Z'),
      ])!.status,
    ).toBe('DOCUMENTS_UPLOADED');
  });

  it('an event type nobody knows is in the count and moves nothing; alone, the status is RECEIVED', () => {
    const unknown = at('DOCUMENT_HOLOGRAM_CHECKED', '2026-12-06T10:00:00Z');
    expect(foldLifecycle('tx', [unknown])).toMatchObject({ status: NO_STATUS, eventCount: 1 });
    expect(foldLifecycle('tx', [unknown, at('APP_OPENED', '2026-12-06T10:00:01Z')])).toMatchObject({
      status: 'APP_OPENED',
      eventCount: 2,
    });
  });

  it('review is a decision like the others, and more cautious than accept or resubmit on a tie', () => {
    const review = at('VERIFICATION_COMPLETED', '2026-12-06T10:01:00Z', { decision: 'review' });
    const accept = at('VERIFICATION_COMPLETED', '2026-12-06T10:01:00Z', { decision: 'accept' });
    const reject = at('VERIFICATION_COMPLETED', '2026-12-06T10:01:00Z', { decision: 'reject' });
    expect(foldLifecycle('tx', [accept, review])!.decision).toBe('review');
    expect(foldLifecycle('tx', [review, accept])!.decision).toBe('review');
    expect(foldLifecycle('tx', [review, reject])!.decision).toBe('reject');
    expect(
      applyApiDecision(foldLifecycle('tx', [at('DOCUMENTS_UPLOADED', '2026-12-06T10:00:00Z')])!, {
        decision: 'review',
        reasonCodes: ['I1'],
        fetchedAt: 'x',
      }),
    ).toMatchObject({
      decision: 'review',
      decisionSource: 'api',
    });
  });

  it('flags events of one transaction that name different environments', () => {
    const l = foldLifecycle('tx', [
      at('APP_OPENED', '2026-12-06T10:00:00Z', { environment: 'Sandbox' }),
      at('DOCUMENTS_UPLOADED', '2026-12-06T10:00:05Z', { environment: 'Production' }),
    ])!;
    expect(l.anomalies).toEqual([
      expect.objectContaining({ code: 'environment_mismatch', values: ['Production', 'Sandbox'] }),
    ]);
  });

  it('keeps the RiskOS evaluation id and the environment', () => {
    const l = foldLifecycle('tx', [
      at('evaluation_completed', '2026-12-06T10:00:00Z', {
        dialect: 'riskos',
        evaluationId: 'eval-9',
        decision: 'accept',
        environment: 'Sandbox',
      }),
    ])!;
    expect(l).toMatchObject({
      evaluationId: 'eval-9',
      environment: 'Sandbox',
      status: 'evaluation_completed',
      decision: 'accept',
    });
  });

  it('a decision fetch that gave up is shown until a decision arrives', () => {
    const uploaded = foldLifecycle('tx', [at('DOCUMENTS_UPLOADED', '2026-12-06T10:00:00Z')])!;
    const marked = applyDecisionUnavailable(uploaded, 'no decision after 10m', '2026-12-06T10:10:00.000Z');
    expect(marked.decisionUnavailable).toEqual({ reason: 'no decision after 10m', at: '2026-12-06T10:10:00.000Z' });
    expect(marked.anomalies.map((a) => a.code)).toEqual(['decision_unavailable']);
    const decided = applyEvent(marked, at('VERIFICATION_COMPLETED', '2026-12-06T10:11:00Z', { decision: 'accept' }));
    expect(decided).toMatchObject({ decision: 'accept', decisionUnavailable: null, anomalies: [] });
    const fetched = applyApiDecision(marked, { decision: 'reject', reasonCodes: [], fetchedAt: 'x' });
    expect(fetched).toMatchObject({ decision: 'reject', decisionUnavailable: null, anomalies: [] });
  });

  it('folds onto a lifecycle stored before dialects existed (no dialect, environment or evaluation bookkeeping)', () => {
    const old = {
      docvTransactionId: 'tx',
      status: 'APP_OPENED',
      decision: null,
      decisionSource: null,
      reasonCodes: [],
      customerUserId: 'u',
      firstEventAt: '2026-03-01T10:00:00Z',
      lastEventAt: '2026-03-01T10:00:00Z',
      firstReceivedAt: '2026-03-01T10:00:00.000Z',
      lastReceivedAt: '2026-03-01T10:00:00.000Z',
      eventCount: 1,
      anomalies: [],
      seen: {
        eventTypes: ['APP_OPENED'],
        decisions: [],
        customerUserIds: ['u'],
        decisionEventTime: null,
        customerUserIdEventTime: '2026-03-01T10:00:00Z',
      },
    } as TransactionLifecycle;
    const next = applyEvent(old, {
      eventType: 'VERIFICATION_COMPLETED',
      eventTime: '2026-03-01T10:05:00Z',
      receivedAt: '2026-03-01T10:05:00.000Z',
      decision: 'accept',
    });
    expect(next).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: 'accept', eventCount: 2, anomalies: [] });
    // A v5 event after flat ones is a mixed-dialect transaction.
    expect(applyEvent(old, at('DOCUMENTS_UPLOADED', '2026-03-01T10:01:00Z')).anomalies.map((a) => a.code)).toEqual([
      'dialect_mismatch',
    ]);
  });
});
