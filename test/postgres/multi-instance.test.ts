import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocvEventType } from '../../src/contract/index.js';
import { postgresBackend, type TestDatabase } from '../helpers/backends.js';
import { killLiveCliProcesses, spawnCli, type CliProcess } from '../helpers/cli.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Several instances on one PostgreSQL: 2 `serve --no-dispatch` and 2 `worker` processes on one
 * schema. Duplicates of every delivery arrive at both receivers at about the same moment; the
 * database alone decides which copy is new.
 */
const postgres = await postgresBackend();

const TRANSACTIONS = 400;
const TYPES: DocvEventType[] = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'];
/** Copies of each delivery: the first two go to different receivers, the third anywhere. */
const COPIES = 2.5;
const CONCURRENCY = 64;

interface Delivery {
  key: string;
  body: string;
  headers: Record<string, string>;
}

/** Deterministic pseudo-random numbers so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

describe.skipIf(postgres.skipReason !== null)('several receivers and workers on one PostgreSQL', () => {
  let database: TestDatabase;
  let sink: HttpSink;
  let receivers: string[] = [];
  const processes: CliProcess[] = [];

  beforeAll(async () => {
    database = await postgres.create();
    sink = await startSink();
    const common = ['--db', database.url, '--forward-url', `${sink.url}/in`, '--log-level', 'warn'];
    // All four start at once on an empty schema: migrations race, the advisory lock serialises them.
    const serves = [0, 1].map(() => spawnCli(['serve', '--port', '0', '--no-dispatch', ...common]));
    const workers = [0, 1].map(() => spawnCli(['worker', '--concurrency', '16', ...common]));
    processes.push(...serves, ...workers);
    receivers = await Promise.all(
      serves.map(async (p) => (await p.waitForStdout(/POST DocV events to\s+(\S+)/, 30_000))[1]!),
    );
    await Promise.all(workers.map((p) => p.waitForStdout(/delivering to/, 30_000)));
  });

  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited(10_000).catch(() => undefined)));
    killLiveCliProcesses();
    await sink?.close();
    await database?.drop();
  });

  it('turns concurrent duplicates into one event each and delivers every event exactly once', async () => {
    const random = rng(7);
    const unique: Delivery[] = [];
    for (let t = 0; t < TRANSACTIONS; t++) {
      const tx = `multi-${t}`;
      TYPES.forEach((eventType, i) => {
        const event: Record<string, unknown> = {
          eventType,
          docvTransactionId: tx,
          eventTime: `2026-03-01T10:0${i}:00Z`,
          customerUserId: `user-${t}`,
        };
        if (eventType === 'VERIFICATION_COMPLETED') event.decision = t % 2 ? 'accept' : 'reject';
        // Half with a delivery id, half deduplicated by content.
        const headers: Record<string, string> = t % 2 === 0 ? { 'webhook-id': `msg-${tx}-${i}` } : {};
        unique.push({ key: `${tx}/${i}`, body: JSON.stringify(event), headers });
      });
    }
    // Copies of one delivery go out next to each other, so they race across the two receivers.
    const sends: Array<{ delivery: Delivery; target: string }> = [];
    for (const delivery of unique) {
      const copies = random() < COPIES - 2 ? 3 : 2;
      const first = random() < 0.5 ? 0 : 1;
      for (let c = 0; c < copies; c++) sends.push({ delivery, target: receivers[(first + c) % 2]! });
    }
    expect(sends.length).toBeGreaterThan(2_500);

    const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
    const started = performance.now();
    const results = await pool(sends, CONCURRENCY, async ({ delivery, target }) => {
      const res = await request(target, {
        method: 'POST',
        body: delivery.body,
        headers: { 'content-type': 'application/json', ...delivery.headers },
        dispatcher: agent,
      });
      return {
        key: delivery.key,
        status: res.statusCode,
        json: (await res.body.json()) as { status: string; eventId: string },
      };
    });
    const ingestMs = performance.now() - started;
    await agent.close();

    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const byKey = new Map<string, { accepted: number; duplicate: number; ids: Set<string> }>();
    for (const r of results) {
      const entry = byKey.get(r.key) ?? { accepted: 0, duplicate: 0, ids: new Set<string>() };
      if (r.json.status === 'accepted') entry.accepted++;
      else if (r.json.status === 'duplicate') entry.duplicate++;
      entry.ids.add(r.json.eventId);
      byKey.set(r.key, entry);
    }
    expect(byKey.size).toBe(unique.length);
    // Exactly one copy of each delivery was accepted; every other copy was a duplicate of that event.
    expect([...byKey.values()].filter((e) => e.accepted !== 1 || e.ids.size !== 1)).toEqual([]);
    expect(results.filter((r) => r.json.status === 'duplicate')).toHaveLength(sends.length - unique.length);

    const count = async (sql: string) => (await database.rows<{ n: number }>(sql))[0]!.n;
    expect(await count('SELECT COUNT(*) AS n FROM events')).toBe(unique.length);
    // The event log is the outbox: no row per delivery, the forward's cursor reads the events.
    expect(await count('SELECT COUNT(*) AS n FROM deliveries')).toBe(0);
    const transactions = await database.rows<{ status: string; event_count: number }>(
      'SELECT status, event_count FROM transactions',
    );
    expect(transactions).toHaveLength(TRANSACTIONS);
    expect(transactions.every((t) => t.status === 'VERIFICATION_COMPLETED' && t.event_count === TYPES.length)).toBe(
      true,
    );

    // The two workers share the forward through its cursor's hold: one reads the log at a time,
    // and every delivery reaches the sink once, the cursor at the last event.
    await waitFor(
      async () =>
        sink.requests.length >= unique.length &&
        (await count('SELECT MIN(seq) AS n FROM destination_cursors')) ===
          (await count('SELECT MAX(seq) AS n FROM events')),
      'every delivery delivered',
      30_000,
      100,
    );
    const ids = sink.requests.map((r) => String(r.headers['webhook-id']));
    expect(new Set(ids).size).toBe(unique.length);
    expect(ids).toHaveLength(unique.length);
    // Every first attempt succeeded: nothing left the log for a row of its own.
    expect(await count('SELECT COUNT(*) AS n FROM deliveries')).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM delivery_attempts')).toBe(0);
    const [cursor] = await database.rows<{ lease_owner: string | null }>('SELECT lease_owner FROM destination_cursors');
    console.info(
      `[multi-instance] ${sends.length} requests (${unique.length} unique) over 2 receivers in ${Math.round(ingestMs)} ms ` +
        `(${Math.round(sends.length / (ingestMs / 1000))} req/s); the forward's log held by ${cursor?.lease_owner ?? 'nobody'}`,
    );
  });
});
