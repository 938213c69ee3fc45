import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/open.js';
import { freePort, killLiveCliProcesses, spawnCli, type CliProcess } from '../helpers/cli.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'crash-test-secret';
const API_KEY = 'crash-test-key';
const TRANSACTIONS = 240;
const backends = await testBackends();

interface SandboxDelivery {
  webhookId: string;
  docvTransactionId: string;
  status: string;
  attemptLog: Array<{ statusCode?: number; error?: string }>;
}

async function sandboxDeliveries(sandbox: SandboxHandle): Promise<SandboxDelivery[]> {
  const all: SandboxDelivery[] = [];
  let after: number | undefined;
  for (let page = 0; page < 100; page++) {
    const url = `${sandbox.url}/sandbox/deliveries?limit=1000${after !== undefined ? `&after=${after}` : ''}`;
    const body = (await (await fetch(url, { headers: { authorization: `SocureApiKey ${API_KEY}` } })).json()) as {
      deliveries: SandboxDelivery[];
      next?: number;
    };
    all.push(...body.deliveries);
    if (body.next === undefined) break;
    after = body.next;
  }
  return all;
}

/**
 * The receiver is killed with SIGKILL at random moments while the sandbox delivers a few hundred
 * transactions at it (with retries), and restarted on the same store. Nothing acknowledged may be
 * lost or doubled, every lifecycle must end where its scenario says, and every outbox delivery
 * must reach the destination at least once.
 */
describe.each(backends)('crash safety: kill -9 under load, restart on the same store ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let sandbox: SandboxHandle;
  let sink: HttpSink;
  let receiver: CliProcess | null = null;
  let database: TestDatabase | undefined;
  afterAll(async () => {
    killLiveCliProcesses();
    await sandbox?.close();
    await sink?.close();
    await database?.drop();
  });

  it('every 2xx stored exactly once, lifecycles as the scenarios imply, every delivery forwarded', async () => {
    database = await backend.create();
    const db = database;
    const port = await freePort();
    sink = await startSink();
    const start = async () => {
      receiver = spawnCli([
        'serve',
        '--port',
        String(port),
        '--db',
        db.url,
        '--webhook-secret',
        SECRET,
        '--forward-url',
        `${sink.url}/dest`,
        '--retry-schedule',
        '100ms',
        '--max-attempts',
        '1000',
        '--forward-timeout',
        '1s',
        '--log-level',
        'error',
      ]);
      await receiver.waitForStdout(/POST DocV events to/, 30_000);
    };
    await start();
    sandbox = await startSandbox({
      apiKey: API_KEY,
      webhookSecret: SECRET,
      // Patient enough to outlast every restart: ~25 s of retries per event. The schedule is in
      // scenario time and the transactions run at timeScale 0.004 (sandbox/delivery/engine.ts,
      // scaleRetryDelay): 12.5 s of scenario time is 50 ms of wall clock, capped at 500 ms. Written
      // as 50-500 ms, it was 10 ms a retry, about a second in all, and a restart slower than that
      // on a loaded machine failed the test.
      retrySchedule: Array.from({ length: 60 }, (_, i) => Math.min(12_500 * 2 ** i, 125_000)),
      attemptTimeoutMs: 3_000,
      chaos: { duplicates: 0.1 },
    });
    const webhookUrl = `http://127.0.0.1:${port}/socure/docv/webhook`;
    const scenarios = ['accept', 'reject', 'resubmit', 'expire', 'abandon'] as const;
    const ids: string[] = [];

    // Transactions start over a few seconds while the receiver is killed and restarted.
    const creating = (async () => {
      for (let i = 0; i < TRANSACTIONS; i++) {
        const tx = sandbox.createTransaction({
          webhookUrl,
          scenario: scenarios[i % scenarios.length]!,
          timeScale: 0.004,
        });
        ids.push(tx.docvTransactionId);
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 150));
      }
    })();
    for (let kill = 0; kill < 4; kill++) {
      await new Promise((r) => setTimeout(r, 400 + Math.random() * 900));
      receiver!.child.kill('SIGKILL');
      await receiver!.exited();
      await start();
    }
    await creating;
    await sandbox.settled(90_000);

    // Let the outbox drain, then stop the receiver cleanly and read its file.
    await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/v1/deliveries?state=pending&limit=1`);
        const f = await fetch(`http://127.0.0.1:${port}/v1/deliveries?state=failed&limit=1`);
        return (await r.json()).items.length === 0 && (await f.json()).items.length === 0;
      },
      'the outbox to drain',
      30_000,
    );
    receiver!.child.kill('SIGTERM');
    expect((await receiver!.exited()).code).toBe(0);

    const deliveries = await sandboxDeliveries(sandbox);
    // Each one not delivered, with its last attempt: says whether the receiver was down or refused.
    expect(deliveries.filter((d) => d.status !== 'delivered').map((d) => [d.status, d.attemptLog.at(-1)])).toEqual([]);
    const acknowledged = new Set(
      deliveries
        .filter((d) => d.attemptLog.some((a) => a.statusCode !== undefined && a.statusCode < 300))
        .map((d) => d.webhookId),
    );
    expect(acknowledged.size).toBeGreaterThan(TRANSACTIONS);
    // The kills really interrupted deliveries: some attempts met a dead receiver and were retried.
    const interrupted = deliveries.filter((d) => d.attemptLog.some((a) => a.error !== undefined)).length;
    expect(interrupted).toBeGreaterThan(0);

    {
      const stored = await db.rows<{ id: string; n: number }>(
        'SELECT delivery_id AS id, COUNT(*) AS n FROM events GROUP BY delivery_id',
      );
      expect(stored.filter((r) => Number(r.n) !== 1)).toEqual([]);
      const storedIds = new Set(stored.map((r) => r.id));
      expect([...acknowledged].filter((id) => !storedIds.has(id))).toEqual([]);
      expect(storedIds.size).toBe(acknowledged.size);

      // Lifecycles agree with what the sandbox says happened to each transaction.
      const txRows = await db.rows<{ id: string; status: string; decision: string | null }>(
        'SELECT docv_transaction_id AS id, status, decision FROM transactions',
      );
      const byId = new Map(txRows.map((t) => [t.id, t]));
      for (const id of ids) {
        const truth = (await (
          await fetch(`${sandbox.url}/api/3.0/documents/${id}`, {
            headers: { authorization: `SocureApiKey ${API_KEY}` },
          })
        ).json()) as {
          status: string;
          decision?: { value: string };
        };
        if (truth.status === 'CREATED') {
          expect(byId.has(id)).toBe(false);
          continue;
        }
        expect({ id, status: byId.get(id)?.status, decision: byId.get(id)?.decision ?? null }).toEqual({
          id,
          status: truth.status,
          decision: truth.decision?.value ?? null,
        });
      }

      // Every outbox delivery (rows and deliveries read back from the log alike) reached the destination at least once.
      const store = await openStore(db.url, { migrate: false });
      const outbox: Array<{ id: string; state: string }> = [];
      try {
        let cursor: string | undefined;
        for (let page = 0; page < 100; page++) {
          const found = await store.listDeliveries({ limit: 500, ...(cursor ? { cursor } : {}) });
          outbox.push(...found.items.map((d) => ({ id: d.deliveryId, state: d.state })));
          if (!found.nextCursor) break;
          cursor = found.nextCursor;
        }
      } finally {
        await store.close();
      }
      expect(outbox.length).toBe(storedIds.size);
      expect(outbox.filter((d) => d.state !== 'delivered')).toEqual([]);
      const reached = new Set(sink.requests.map((r) => String(r.headers['webhook-id'])));
      expect(outbox.filter((d) => !reached.has(d.id))).toEqual([]);
    }
  }, 180_000);
});
