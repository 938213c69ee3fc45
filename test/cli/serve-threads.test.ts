import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killLiveCliProcesses, spawnCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

afterAll(() => killLiveCliProcesses());

/** `serve` on a new SQLite file with `flags`; posts `n` events of their own transactions. */
async function serveAndPost(
  flags: string[],
  n: number,
): Promise<{ db: string; stop: () => Promise<number | null>; sizeAtStart: number; base: string }> {
  const db = join(tempDir('docv-threads-'), 'receiver.db');
  const port = await freePort();
  const proc = spawnCli([
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--db',
    db,
    '--log-level',
    'warn',
    '--no-dispatch',
    ...flags,
  ]);
  const [, webhookUrl] = (await proc.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/))!;
  const sizeAtStart = statSync(db).size;
  for (let i = 0; i < n; i += 50) {
    const statuses = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) =>
        fetch(webhookUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            eventType: 'APP_OPENED',
            docvTransactionId: `threads-${i + j}`,
            eventTime: new Date(Date.UTC(2026, 2, 1, 10, 0, i + j)).toISOString(),
          }),
        }).then((r) => r.status),
      ),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
  }
  return {
    db,
    sizeAtStart,
    base: new URL(webhookUrl!).origin,
    async stop() {
      proc.child.kill('SIGTERM');
      return (await proc.exited(10_000)).code;
    },
  };
}

describe('serve: the SQLite threads', () => {
  it('checkpoints on its own thread by default: the database file takes the events long before 10,000 WAL pages', async () => {
    const run = await serveAndPost([], 300);
    await waitFor(() => statSync(run.db).size > run.sizeAtStart + 100 * 1024, 'the database file to grow', 5_000);
    expect(await run.stop()).toBe(0);
  });

  it('--no-sqlite-checkpoint-thread leaves checkpoints to the commits: the file does not grow yet', async () => {
    const run = await serveAndPost(['--no-sqlite-checkpoint-thread'], 300);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(statSync(run.db).size).toBe(run.sizeAtStart);
    expect(await run.stop()).toBe(0);
  });

  it('--sqlite-writer-thread acknowledges and stores the same way', async () => {
    const run = await serveAndPost(['--sqlite-writer-thread'], 100);
    const res = await fetch(`${run.base}/v1/transactions/threads-7`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ docvTransactionId: 'threads-7', eventCount: 1 });
    expect(await run.stop()).toBe(0);
  });
});
