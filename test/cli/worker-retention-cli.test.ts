import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { killLiveCliProcesses, runCli, spawnCli } from '../helpers/cli.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent, tempDir } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

/** `docv-webhooks worker --retention` (DOCV_RETENTION): read as serve reads it, and run by the worker. */
const DAY = 86_400_000;

describe('CLI worker retention', () => {
  afterAll(() => killLiveCliProcesses());

  it('refuses a --retention it cannot read, naming the part', async () => {
    const db = join(tempDir('docv-worker-retention-'), 'receiver.db');
    const bad = await runCli(['worker', '--db', db, '--forward-url', 'http://127.0.0.1:9/', '--retention', 'raw=1w']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--retention \(DOCV_RETENTION\): /);
  });

  it('with DOCV_RETENTION removes the raw bodies past it', async () => {
    const db = join(tempDir('docv-worker-retention-'), 'receiver.db');
    const store = await openStore(db);
    const { eventId } = await store.ingest({
      ...ingestInput(docvEvent({ docvTransactionId: 'tx-worker-retention' })),
      receivedAt: new Date(Date.now() - 60 * DAY),
    });
    const worker = spawnCli(['worker', '--db', db, '--log-level', 'warn', '--forward-url', 'http://127.0.0.1:9/'], {
      env: { DOCV_RETENTION: 'raw=30d' },
    });
    try {
      await worker.waitForStdout(/docv-webhooks worker \S+ delivering to/);
      const event = await waitFor(async () => {
        const e = await store.getEvent(eventId);
        return e?.removedByRetention ? e : null;
      }, 'the raw body removed by the worker');
      expect(event.rawBody).toBe('');
    } finally {
      worker.child.kill('SIGTERM');
      expect((await worker.exited(10_000)).code).toBe(0);
      await store.close();
    }
  });
});
