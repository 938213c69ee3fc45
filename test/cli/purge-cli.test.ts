import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { killLiveCliProcesses, runCli } from '../helpers/cli.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/** `docv-webhooks purge` in a fresh process, against a store another process filled. */
const backends = await testBackends();

describe.each(backends)('CLI purge ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    for (const d of databases.splice(0)) await d.drop();
  });
  afterAll(() => killLiveCliProcesses());

  it("erases one customer's data, records it, and --list finds the record by the id (never showing it)", async () => {
    const db = await backend.create();
    databases.push(db);
    const store = await openStore(db.url);
    await store.ingest(ingestInput(docvEvent({ docvTransactionId: 'tx-cli-purge', customerUserId: 'cli-erase-me' })));
    await store.ingest(ingestInput(docvEvent({ docvTransactionId: 'tx-cli-keep', customerUserId: 'cli-keep' })));
    await store.close();

    const purged = await runCli(['purge', '--customer-user-id', 'cli-erase-me', '--db', db.url]);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toMatch(/erased: 1 events, 1 transactions/);
    expect(purged.stdout).not.toContain('cli-erase-me');

    const listed = await runCli(['purge', '--list', '--customer-user-id', 'cli-erase-me', '--json', '--db', db.url]);
    expect(listed.code).toBe(0);
    const items = JSON.parse(listed.stdout) as Array<{ counts: { events: number } }>;
    expect(items).toHaveLength(1);
    expect(items[0]!.counts.events).toBe(1);
    expect(listed.stdout).not.toContain('cli-erase-me');
    const none = await runCli(['purge', '--list', '--customer-user-id', 'cli-keep', '--db', db.url]);
    expect(none.stdout).toMatch(/no erasure of that customer user id/);

    const check = await openStore(db.url);
    expect(await check.getTransaction('tx-cli-purge')).toBeNull();
    expect(await check.getTransaction('tx-cli-keep')).not.toBeNull();
    await check.close();

    const missing = await runCli(['purge', '--db', db.url]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/purge needs --customer-user-id/);
  });

  it('serve refuses a --retention it cannot read, naming the part', async () => {
    const db = await backend.create();
    databases.push(db);
    const bad = await runCli(['serve', '--port', '0', '--db', db.url, '--retention', 'raw=30d,bodies=1d']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--retention \(DOCV_RETENTION\): "bodies" is not one of raw, events, quarantine/);
  });
});
