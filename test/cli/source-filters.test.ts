import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { openStore, type IngestInput } from '../../src/store/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { killLiveCliProcesses, runCli } from '../helpers/cli.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { deliverDue } from '../helpers/outbox.js';

/**
 * Issue 20 on the command line: `--source` on the lists, `transactions show` of an id two
 * sources have asks which, and `destinations add --source … --event-type …` subscribes. Every
 * command is a fresh process of the built CLI on a store seeded with two sources' events.
 */
const backends = await testBackends();

afterAll(() => killLiveCliProcesses());

function through(source: string, event: Record<string, unknown>): IngestInput {
  const input = ingestInput(event);
  return {
    ...input,
    source,
    dedupeKey: dedupeKeyOf({ eventTime: event.eventTime as string }, input.contentHash, null, source),
  };
}

/** The rows of the plain-text table a command printed, by column name. */
function parseTable(text: string): Array<Record<string, string>> {
  const all = text.split('\n');
  const rule = all.findIndex((l) => /^-+( +-+)*$/.test(l));
  if (rule < 1) throw new Error(`no table in:\n${text}`);
  const starts = [...all[rule]!.matchAll(/-+/g)].map((m) => m.index);
  const cut = (line: string) => starts.map((start, i) => line.slice(start, starts[i + 1]).trim());
  const names = cut(all[rule - 1]!);
  const rows: Array<Record<string, string>> = [];
  for (const line of all.slice(rule + 1)) {
    if (line.trim() === '') break;
    const cells = cut(line);
    rows.push(Object.fromEntries(names.map((n, i) => [n, cells[i]!])));
  }
  return rows;
}

describe.each(backends)('CLI: --source filters ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase;
  let db: string;
  const shared = 'tx-cli-shared';
  const destination = 'forward:127.0.0.1:9/cli';
  const eventsOf: Record<string, string[]> = { sandbox: [], prod: [] };

  beforeAll(async () => {
    database = await backend.create();
    db = database.url;
    const store = await openStore(db);
    try {
      await store.addDestination(
        { name: destination, kind: 'forward', url: 'http://127.0.0.1:9/cli', signed: false, urlCredentials: false },
        'keep',
      );
      const seed: Array<[string, Record<string, unknown>]> = [
        ['sandbox', { eventType: 'APP_OPENED', docvTransactionId: shared, eventTime: '2026-03-01T10:00:00Z' }],
        [
          'sandbox',
          {
            eventType: 'VERIFICATION_COMPLETED',
            docvTransactionId: shared,
            eventTime: '2026-03-01T10:05:00Z',
            decision: 'accept',
          },
        ],
        ['prod', { eventType: 'APP_OPENED', docvTransactionId: shared, eventTime: '2026-03-01T10:01:00Z' }],
        [
          'prod',
          { eventType: 'DOCUMENTS_UPLOADED', docvTransactionId: 'tx-cli-prod', eventTime: '2026-03-01T10:02:00Z' },
        ],
      ];
      for (const [source, event] of seed) {
        const outcome = await store.ingest(through(source, { customerUserId: 'cli-user', ...event }));
        expect(outcome.kind).toBe('accepted');
        eventsOf[source]!.push((outcome as { eventId: string }).eventId);
      }
      await deliverDue(store, destination);
      await store.quarantine({
        reason: 'invalid',
        dialect: null,
        status: 422,
        detail: { detail: 'refused at prod' },
        headers: {},
        body: Buffer.from('{}'),
        bodySize: 2,
        receivedAt: new Date(),
        source: 'prod',
      });
    } finally {
      await store.close();
    }
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('transactions list --source, with the source column', async () => {
    const [table, sandbox, bad] = await Promise.all([
      runCli(['transactions', 'list', '--db', db]),
      runCli(['transactions', 'list', '--db', db, '--source', 'sandbox', '--json']),
      runCli(['transactions', 'list', '--db', db, '--source', 'Not A Name']),
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(
      parseTable(table.stdout)
        .map((r) => `${r.docvTransactionId}@${r.source}`)
        .sort(),
    ).toEqual([`${shared}@prod`, `${shared}@sandbox`, 'tx-cli-prod@prod'].sort());
    expect(sandbox.code, sandbox.stderr).toBe(0);
    expect(JSON.parse(sandbox.stdout).items.map((t: { source: string }) => t.source)).toEqual(['sandbox']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--source .*is not a source name/);
  });

  it('transactions show of an id two sources have names them and asks for --source', async () => {
    const [ambiguous, prod, missing] = await Promise.all([
      runCli(['transactions', 'show', shared, '--db', db]),
      runCli(['transactions', 'show', shared, '--db', db, '--source', 'prod', '--json']),
      runCli(['transactions', 'show', 'tx-cli-prod', '--db', db, '--source', 'sandbox']),
    ]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stdout).toBe('');
    expect(ambiguous.stderr).toMatch(/exists under several sources \((prod, sandbox|sandbox, prod)\)/);
    expect(ambiguous.stderr).toContain('--source');
    expect(prod.code, prod.stderr).toBe(0);
    expect(JSON.parse(prod.stdout)).toMatchObject({ docvTransactionId: shared, source: 'prod', eventCount: 1 });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('under source sandbox');
    const plain = await runCli(['transactions', 'show', shared, '--db', db, '--source', 'sandbox']);
    expect(plain.stdout).toMatch(/^source\s+sandbox$/m);
  });

  it('events list, deliveries and quarantine list --source', async () => {
    const [events, byId, deliveries, deliveriesTable, quarantine, quarantineTable] = await Promise.all([
      runCli(['events', 'list', '--db', db, '--source', 'prod', '--json']),
      runCli(['events', 'list', '--db', db, '--transaction', shared, '--json']),
      runCli(['deliveries', '--db', db, '--source', 'sandbox', '--json']),
      runCli(['deliveries', '--db', db]),
      runCli(['quarantine', 'list', '--db', db, '--source', 'prod', '--json']),
      runCli(['quarantine', 'list', '--db', db, '--source', 'sandbox']),
    ]);
    for (const r of [events, byId, deliveries, deliveriesTable, quarantine, quarantineTable])
      expect(r.code, r.stderr).toBe(0);
    expect(
      JSON.parse(events.stdout)
        .items.map((e: { eventId: string }) => e.eventId)
        .sort(),
    ).toEqual([...eventsOf.prod!].sort());
    // A transaction id alone: its events under every source.
    expect(JSON.parse(byId.stdout).items).toHaveLength(3);
    expect(
      JSON.parse(deliveries.stdout)
        .items.map((d: { eventId: string }) => d.eventId)
        .sort(),
    ).toEqual([...eventsOf.sandbox!].sort());
    expect(
      parseTable(deliveriesTable.stdout)
        .map((r) => r.source)
        .sort(),
    ).toEqual(['prod', 'prod', 'sandbox', 'sandbox']);
    expect(JSON.parse(quarantine.stdout).items.map((q: { source: string }) => q.source)).toEqual(['prod']);
    expect(parseTable(quarantineTable.stdout)).toEqual([]);
  });

  it('replay --source re-queues only that source’s deliveries', async () => {
    const replayed = await runCli(['replay', '--db', db, '--source', 'prod', '--destination', destination, '--json']);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(JSON.parse(replayed.stdout)).toEqual({ requeued: 2 });
    const bad = await runCli(['replay', '--db', db, '--source', 'UPPER']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not a source name/);
  });

  it('destinations add --source … --event-type … subscribes it; list shows what it takes', async () => {
    const added = await runCli([
      'destinations',
      'add',
      'http://127.0.0.1:9/subscribed',
      '--source',
      'sandbox',
      '--source',
      'prod',
      '--event-type',
      'VERIFICATION_COMPLETED',
      '--db',
      db,
      '--json',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout).destination.subscription).toEqual({
      sources: ['sandbox', 'prod'],
      eventTypes: ['VERIFICATION_COMPLETED'],
    });
    const table = await runCli(['destinations', 'list', '--db', db]);
    expect(table.code, table.stderr).toBe(0);
    const rows = parseTable(table.stdout);
    expect(rows.find((r) => r.name === 'forward:127.0.0.1:9/subscribed')?.takes).toBe(
      'sources sandbox, prod · event type VERIFICATION_COMPLETED',
    );
    expect(rows.find((r) => r.name === destination)?.takes).toBe('every event');

    const text = await runCli(['destinations', 'add', 'http://127.0.0.1:9/text', '--source', 'prod', '--db', db]);
    expect(text.stdout).toContain('it takes source prod');
    const bad = await runCli(['destinations', 'add', 'http://127.0.0.1:9/bad', '--source', 'Bad Name', '--db', db]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not a source name/);
    const badType = await runCli([
      'destinations',
      'add',
      'http://127.0.0.1:9/bad',
      '--event-type',
      'not a type',
      '--db',
      db,
    ]);
    expect(badType.code).not.toBe(0);
    expect(badType.stderr).toMatch(/--event-type: /);
  });
});
