import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import type { Decision, DocvEventType } from '../../src/contract/index.js';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';

const backends = await testBackends();

interface Delivery {
  body: string;
  headers: Record<string, string>;
  uniqueKey: string;
}

const DECISIONS: Decision[] = ['accept', 'reject', 'resubmit'];

/** Deterministic pseudo-random numbers so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe.each(backends)('2,000 concurrent deliveries over 250 transactions with 20% duplicates ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  const commits: number[] = [];
  beforeAll(async () => {
    const database = await backend.create();
    const store = await openStore(database.url, { onCommit: (n) => commits.push(n) });
    // One load generator opens 128 connections at once, before its first delivery is answered:
    // a stranger's per-client cap (src/server/connection-admission.ts) would reset those beyond it.
    r = await startTestReceiver({ database, store, timeouts: { maxConnectionsPerClient: 0 } });
  });
  afterAll(async () => r.destroy());

  it('stores exactly the unique events, builds every lifecycle, never a 5xx, and shares commits', async () => {
    const random = rng(42);
    const unique: Delivery[] = [];
    const expected = new Map<string, { status: DocvEventType; decision: Decision | null; events: number }>();
    for (let t = 0; t < 250; t++) {
      const tx = `load-${t}`;
      const kind = t % 5; // 0-2 complete with a decision, 3 expires, 4 stops after upload
      const types: DocvEventType[] =
        kind <= 2
          ? ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED']
          : kind === 3
            ? ['APP_OPENED', 'SESSION_EXPIRED']
            : ['APP_OPENED', 'DOCUMENTS_UPLOADED'];
      const decision = kind <= 2 ? DECISIONS[kind]! : null;
      types.forEach((eventType, i) => {
        const event: Record<string, unknown> = {
          eventType,
          docvTransactionId: tx,
          eventTime: `2026-03-01T10:0${i}:00Z`,
          customerUserId: `user-${t}`,
        };
        if (eventType === 'VERIFICATION_COMPLETED') event.decision = decision;
        // Half the senders give a delivery id, half rely on content deduplication.
        const headers: Record<string, string> = t % 2 === 0 ? { 'webhook-id': `msg-${tx}-${i}` } : {};
        unique.push({ body: JSON.stringify(event), headers, uniqueKey: `${tx}/${i}` });
      });
      expected.set(tx, {
        status: types.includes('VERIFICATION_COMPLETED') ? 'VERIFICATION_COMPLETED' : types.at(-1)!,
        decision,
        events: types.length,
      });
    }
    const duplicateCount = 2000 - unique.length;
    expect(duplicateCount / 2000).toBeGreaterThanOrEqual(0.2);
    const deliveries = [...unique];
    for (let i = 0; i < duplicateCount; i++) deliveries.push(unique[Math.floor(random() * unique.length)]!);
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    expect(deliveries).toHaveLength(2000);

    const agent = new Agent({ connections: 128, pipelining: 1 });
    const results = await Promise.all(
      deliveries.map(async (d) => {
        const res = await request(r.webhookUrl, {
          method: 'POST',
          body: d.body,
          headers: { 'content-type': 'application/json', ...d.headers },
          dispatcher: agent,
        });
        return {
          key: d.uniqueKey,
          status: res.statusCode,
          json: (await res.body.json()) as { status: string; eventId: string },
        };
      }),
    );
    await agent.close();

    expect(results.filter((x) => x.status !== 200)).toEqual([]);
    const accepted = results.filter((x) => x.json.status === 'accepted');
    expect(accepted).toHaveLength(unique.length);
    expect(results.filter((x) => x.json.status === 'duplicate')).toHaveLength(duplicateCount);
    // Every copy of one delivery points at the same stored event.
    const idsByKey = new Map<string, Set<string>>();
    for (const x of results) idsByKey.set(x.key, (idsByKey.get(x.key) ?? new Set()).add(x.json.eventId));
    expect([...idsByKey.values()].every((ids) => ids.size === 1)).toBe(true);

    expect(await r.database.rows('SELECT COUNT(*) AS n FROM events')).toEqual([{ n: unique.length }]);
    const txRows = await r.database.rows<{ id: string; status: string; decision: string | null; events: number }>(
      'SELECT docv_transaction_id AS id, status, decision, event_count AS events FROM transactions',
    );
    expect(txRows).toHaveLength(250);
    for (const row of txRows)
      expect({ status: row.status, decision: row.decision, events: row.events }).toEqual(expected.get(row.id));

    // Group commit: concurrent deliveries shared transactions instead of paying one fsync each.
    const committed = commits.reduce((a, b) => a + b, 0);
    expect(committed).toBeGreaterThanOrEqual(2000);
    expect(commits.length).toBeLessThan(committed / 2);
  });
});
