import { describe, expect, it } from 'vitest';
import { eraseCustomer } from '../../src/store/erasure.js';
import { runRetention } from '../../src/store/retention.js';
import { parseRetentionPolicy } from '../../src/store/retention-policy.js';
import type { ClaimedDelivery, RetentionStep, Store } from '../../src/store/index.js';
import { scratchStores, skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * Retention and erasure (issue 20) on both backends, with a fake clock: every event is received
 * at a fixed time and retention runs "later" by passing `now`.
 */
const backends = await testBackends();

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

describe.each(backends)('store: retention and erasure ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const open = scratchStores(backend);
  async function accept(store: Store, receivedAt: Date, fields: Record<string, unknown> = {}): Promise<string> {
    const outcome = await store.ingest({ ...ingestInput(docvEvent(fields)), receivedAt });
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }
  /** A finished transaction of two events (opened, completed with a decision). */
  async function finished(store: Store, tx: string, receivedAt: Date, customerUserId = 'user-1'): Promise<string[]> {
    return [
      await accept(store, receivedAt, { docvTransactionId: tx, eventType: 'APP_OPENED', customerUserId }),
      await accept(store, new Date(receivedAt.getTime() + 1000), {
        docvTransactionId: tx,
        eventType: 'VERIFICATION_COMPLETED',
        decision: 'accept',
        customerUserId,
        eventTime: '2026-01-01T00:00:01Z',
      }),
    ];
  }
  const policy = parseRetentionPolicy('raw=30d,events=400d,quarantine=14d');

  it('removes raw bodies first: the event stays, marked, with an empty payload; newer events keep theirs', async () => {
    const { store, db } = await open();
    const [old] = await finished(store, 'tx-raw-old', at(0));
    const recent = await accept(store, at(40 * DAY), { docvTransactionId: 'tx-raw-new' });

    // 29 days on, nothing is due.
    let report = await runRetention(store, policy, { now: () => at(29 * DAY) });
    expect(report.raw).toBe(0);
    expect((await store.getEvent(old!))?.removedByRetention).toBeUndefined();

    report = await runRetention(store, policy, { now: () => at(45 * DAY) });
    expect(report.raw).toBe(2);
    expect(report.events).toBe(0);
    const event = await store.getEvent(old!);
    expect(event).toMatchObject({
      eventId: old,
      eventType: 'APP_OPENED',
      docvTransactionId: 'tx-raw-old',
      customerUserId: 'user-1',
      payload: {},
      rawBody: '',
      headers: {},
    });
    expect(event?.removedByRetention?.raw).toBe(at(45 * DAY).toISOString());
    expect(event?.event.eventType).toBe('APP_OPENED');
    expect(event?.event.docvTransactionId).toBe('tx-raw-old');
    // The transaction and its timeline are still there.
    expect((await store.getTransaction('tx-raw-old'))?.events.map((e) => e.eventId)).toContain(old);
    // The body is gone from the row, not just hidden.
    const raw = await db.rows<{ raw: string }>(
      backend.name === 'sqlite'
        ? 'SELECT CAST(raw_body AS TEXT) AS raw FROM events WHERE event_id = ?'
        : "SELECT convert_from(raw_body, 'UTF8') AS raw FROM events WHERE event_id = ?",
      old,
    );
    expect(raw[0]?.raw).toBe('{}');
    // 45 days after T0, the event received at day 40 is only 5 days old.
    expect((await store.getEvent(recent))?.removedByRetention).toBeUndefined();
    expect((await store.getEvent(recent))?.payload).toMatchObject({ docvTransactionId: 'tx-raw-new' });
  });

  it('deletes finished transactions past events= whole, leaves a tombstone, keeps unfinished and recent ones, and counts stay right', async () => {
    const { store } = await open();
    await finished(store, 'tx-done-old', at(0));
    await accept(store, at(0), { docvTransactionId: 'tx-open-old' });
    await finished(store, 'tx-done-new', at(300 * DAY));
    // An event of no transaction (stored under ''), old: it goes by its own receipt time.
    const orphan = await accept(store, at(0), { docvTransactionId: '', eventType: 'TEST_EVENT' });
    const { events: before, transactions: transactionsBefore } = await store.stats();
    expect(before).toBe(6);

    const report = await runRetention(store, policy, { now: () => at(401 * DAY) });
    expect(report.events).toBe(3);
    expect(await store.getEvent(orphan)).toBeNull();
    expect(await store.getTransaction('tx-done-old')).toBeNull();
    expect(await store.getTombstone('tx-done-old')).toEqual({
      docvTransactionId: 'tx-done-old',
      source: 'default',
      removedAt: at(401 * DAY).toISOString(),
      reason: 'retention',
    });
    expect(await store.getTransaction('tx-open-old')).not.toBeNull();
    expect((await store.getTransaction('tx-done-new'))?.events).toHaveLength(2);
    expect(await store.getTombstone('tx-done-new')).toBeNull();
    const stats = await store.stats();
    expect(stats.events).toBe(before - 3);
    expect(stats.transactions).toBe(transactionsBefore - 1);
    // Tombstones go once they are as old as events= again.
    await runRetention(store, policy, { now: () => at(802 * DAY) });
    expect(await store.getTombstone('tx-done-old')).toBeNull();
  });

  it('never removes what a destination still owes: events past its cursor, deliveries pending or failing', async () => {
    const { store } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    await finished(store, 'tx-owed', at(0));
    await finished(store, 'tx-owed-2', at(10));

    let report = await runRetention(store, policy, { now: () => at(401 * DAY) });
    expect(report.raw).toBe(0);
    expect(report.events).toBe(0);
    expect(report.heldBy.raw).toBe('sink');
    expect(report.heldBy.events).toBe('sink');
    expect((await store.getEvent((await store.getTransaction('tx-owed'))!.events[0]!.eventId))?.payload).toMatchObject({
      docvTransactionId: 'tx-owed',
    });

    // The first transaction's deliveries are made; the second's first attempt fails (a row, failed).
    const claimed: ClaimedDelivery[] = await store.claimDeliveries({
      workerId: 'w1',
      limit: 10,
      leaseMs: 60_000,
      destinations: ['sink'],
      ordered: true,
    });
    expect(claimed).toHaveLength(2);
    for (const d of claimed) {
      const fails = d.docvTransactionId === 'tx-owed-2';
      await store.completeDelivery({
        deliveryId: d.deliveryId,
        workerId: 'w1',
        outcome: fails ? 'failed' : 'delivered',
        status: fails ? 500 : 200,
        error: fails ? 'HTTP 500' : null,
        startedAt: new Date(),
        durationMs: 1,
        ...(fails ? { nextAttemptAt: Date.now() + 3_600_000 } : {}),
      });
    }
    const more = await store.claimDeliveries({
      workerId: 'w1',
      limit: 10,
      leaseMs: 60_000,
      destinations: ['sink'],
      ordered: true,
    });
    for (const d of more)
      await store.completeDelivery({
        deliveryId: d.deliveryId,
        workerId: 'w1',
        outcome: 'delivered',
        status: 200,
        error: null,
        startedAt: new Date(),
        durationMs: 1,
      });
    // Let the cursor's move be committed.
    await store.claimDeliveries({ workerId: 'w1', limit: 10, leaseMs: 60_000, destinations: ['sink'], ordered: true });

    report = await runRetention(store, policy, { now: () => at(401 * DAY) });
    expect(await store.getTransaction('tx-owed')).toBeNull();
    // tx-owed-2 has a delivery still failing: it stays, whole.
    const kept = await store.getTransaction('tx-owed-2');
    expect(kept?.events).toHaveLength(2);
    expect(report.heldBy.events).toBe('sink');
    const failing = (await store.listDeliveries({ limit: 10, state: 'failed' })).items;
    expect(failing.map((d) => d.docvTransactionId)).toEqual(['tx-owed-2']);
  });

  it('trims quarantine past quarantine= and works in bounded steps', async () => {
    const { store } = await open();
    for (let i = 0; i < 5; i++)
      await store.quarantine({
        reason: 'invalid',
        status: 422,
        detail: { errors: [] },
        headers: {},
        body: Buffer.from(`{"n":${i}}`),
        bodySize: 7,
        receivedAt: at(i < 3 ? 0 : 20 * DAY),
      });
    for (let i = 0; i < 5; i++) await finished(store, `tx-batch-${i}`, at(i));

    const steps: Array<{ step: RetentionStep; removed: number }> = [];
    const counting = Object.create(store) as Store;
    counting.retentionStep = async (step) => {
      const result = await store.retentionStep(step);
      steps.push({ step, removed: result.removed });
      return result;
    };
    const report = await runRetention(counting, policy, { now: () => at(401 * DAY), batch: 2 });
    expect(report.quarantine).toBe(5);
    expect(report.events).toBe(10);
    expect((await store.listQuarantine({ limit: 10 })).items).toHaveLength(0);
    for (const s of steps) {
      expect(s.step.limit).toBe(2);
      // A step may finish the transaction it started (2 events each here), never more than that past its limit.
      expect(s.removed).toBeLessThanOrEqual(2);
    }
    expect(steps.filter((s) => s.step.kind === 'events').length).toBeGreaterThanOrEqual(5);

    // 20 days after the day-20 rows: only the three older ones go.
    const { store: second } = await open();
    for (let i = 0; i < 5; i++)
      await second.quarantine({
        reason: 'invalid',
        status: 422,
        detail: null,
        headers: {},
        body: Buffer.from('{}'),
        bodySize: 2,
        receivedAt: at(i < 3 ? 0 : 20 * DAY),
      });
    expect((await runRetention(second, policy, { now: () => at(25 * DAY) })).quarantine).toBe(3);
    expect((await second.listQuarantine({ limit: 10 })).items).toHaveLength(2);
  });

  it("erases one customer's events, transactions, deliveries, attempts, decisions and quarantine, and records it without the id", async () => {
    const { store, db } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const [a1] = await finished(store, 'tx-erase-1', at(0), 'erase-me@example.com');
    await finished(store, 'tx-erase-2', at(5), 'erase-me@example.com');
    await finished(store, 'tx-keep', at(6), 'someone-else');
    await store.recordDecision(a1!, 'tx-erase-1', {
      decision: 'accept',
      reasonCodes: ['I831'],
      fetchedAt: at(1).toISOString(),
      details: { documentNumber: 'D1234567' },
    } as never);
    await store.quarantine({
      reason: 'invalid',
      status: 422,
      detail: null,
      headers: {},
      body: Buffer.from(JSON.stringify({ event: { customerUserId: 'erase-me@example.com', eventType: 42 } })),
      bodySize: 10,
      receivedAt: at(7),
    });
    await store.quarantine({
      reason: 'invalid',
      status: 422,
      detail: null,
      headers: {},
      body: Buffer.from('not json'),
      bodySize: 8,
      receivedAt: at(8),
    });
    // A delivery of the first transaction fails: a row and an attempt.
    const claimed = await store.claimDeliveries({
      workerId: 'w1',
      limit: 1,
      leaseMs: 60_000,
      destinations: ['sink'],
      ordered: true,
    });
    await store.completeDelivery({
      deliveryId: claimed[0]!.deliveryId,
      workerId: 'w1',
      outcome: 'failed',
      status: 500,
      error: 'HTTP 500',
      startedAt: new Date(),
      durationMs: 1,
      nextAttemptAt: Date.now() + 60_000,
    });
    const eventsBefore = (await store.stats()).events;

    const record = await eraseCustomer(store, 'erase-me@example.com', { now: () => at(DAY), batch: 3 });
    expect(record.counts).toMatchObject({ events: 4, transactions: 2, quarantine: 1, deliveries: 1, attempts: 1 });
    expect(record.counts.decisions).toBeGreaterThanOrEqual(1);
    expect(await store.getTransaction('tx-erase-1')).toBeNull();
    expect(await store.getTransaction('tx-erase-2')).toBeNull();
    expect((await store.getTombstone('tx-erase-1'))?.reason).toBe('erasure');
    expect(await store.getEvent(a1!)).toBeNull();
    expect((await store.getTransaction('tx-keep'))?.events).toHaveLength(2);
    expect((await store.listQuarantine({ limit: 10 })).items).toHaveLength(1);
    expect((await store.stats()).events).toBe(eventsBefore - 4);
    expect((await store.listTransactions({ limit: 10, customerUserId: 'erase-me@example.com' })).items).toEqual([]);

    // The record: found by the id, and the id itself is nowhere in the table.
    const found = await store.listErasures({ limit: 10, customerUserId: 'erase-me@example.com' });
    expect(found.items).toEqual([record]);
    expect((await store.listErasures({ limit: 10, customerUserId: 'someone-else' })).items).toEqual([]);
    const rows = await db.rows('SELECT * FROM erasures');
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain('erase-me');
    // A second erasure of the same person finds nothing more and says so.
    const again = await eraseCustomer(store, 'erase-me@example.com', { now: () => at(2 * DAY) });
    expect(again.counts).toEqual({
      events: 0,
      transactions: 0,
      deliveries: 0,
      attempts: 0,
      decisions: 0,
      quarantine: 0,
    });
    expect((await store.listErasures({ limit: 10 })).items.map((e) => e.erasureId)).toEqual([
      again.erasureId,
      record.erasureId,
    ]);
  });
});
