import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalOfFlat, contentKey, type DocvEvent } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { SqliteStore } from '../../src/store/drivers.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';

/**
 * `… | head -2`: the reader goes away after a few lines. The CLI must stop quietly (no EPIPE
 * stack, no "Unhandled 'error' event"), as Unix tools do. Enough rows that the output is larger
 * than a pipe's buffer (64 KiB), so the write really fails.
 */
describe('CLI output into a pipe that closes early', () => {
  const dir = tempDir('docv-pipe-');
  let url: string;
  beforeAll(async () => {
    const path = join(dir, 'pipe.db');
    url = `sqlite:${path}`;
    const store = new SqliteStore({ path });
    const writes = Array.from({ length: 600 }, (_, i) => {
      const flat: DocvEvent = {
        eventType: 'APP_OPENED',
        docvTransactionId: `pipe-transaction-${String(i).padStart(5, '0')}-${'x'.repeat(60)}`,
        eventTime: '2026-03-01T10:00:00Z',
        customerUserId: `customer-${i}`,
      };
      const hash = contentKey(flat);
      const event = canonicalOfFlat(flat);
      return store.ingest({
        dedupeKey: dedupeKeyOf(event, hash, null),
        webhookId: null,
        contentHash: hash,
        event,
        rawBody: Buffer.from(JSON.stringify(flat)),
        headers: {},
        receivedAt: new Date(),
      });
    });
    await Promise.all(writes);
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['transactions list --limit 500', 'head -2'],
    ['events list --json --limit 500', 'head -c 100'],
  ])('%s | %s exits quietly', (command, reader) => {
    const run = spawnSync(
      'bash',
      ['-c', `set -o pipefail; node dist/cli/bin.js ${command} --db '${url}' | ${reader} > /dev/null`],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.stderr).not.toMatch(/EPIPE|Unhandled|Error/);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
