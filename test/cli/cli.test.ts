import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  newSchemaName,
  postgresDatabase,
  skipUnavailable,
  sqliteDatabase,
  testBackends,
  type Backend,
  type TestDatabase,
} from '../helpers/backends.js';
import { freePort, killLiveCliProcesses, runCli, spawnCli, type CliProcess, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';

const backends = await testBackends();

const dirs: string[] = [];
function newDir(): string {
  const dir = tempDir('docv-cli-');
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  killLiveCliProcesses();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** A user-facing failure: the exit code and exactly one line on stderr, nothing half-printed on stdout. */
function expectOneLineFailure(result: CliResult, ...mentions: string[]): void {
  expect(result.code, result.stderr).toBe(1);
  expect(lines(result.stderr), result.stderr).toHaveLength(1);
  for (const m of mentions) expect(result.stderr).toContain(m);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

/**
 * Reads a table the CLI printed: the dashed line under the header gives each column's start, so
 * cells are found by column name whatever columns are added later.
 */
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

async function startServe(
  args: string[],
): Promise<{ proc: CliProcess; webhookUrl: string; transactionsUrl: string; base: string }> {
  const proc = spawnCli(['serve', '--host', '127.0.0.1', ...args]);
  const webhook = await proc.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/);
  const transactions = await proc.waitForStdout(/transactions\s+(http:\/\/\S+\/v1\/transactions)\b/);
  const webhookUrl = webhook[1]!;
  return { proc, webhookUrl, transactionsUrl: transactions[1]!, base: new URL(webhookUrl).origin };
}

async function getJson(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}

/**
 * A fresh store for a serve flow. The SQLite file's directory does not exist yet: serve creates it.
 * PostgreSQL: a new schema (serve creates that too), `--db postgres://…?schema=…`.
 */
async function freshServeStore(backend: Backend): Promise<TestDatabase> {
  return backend.name === 'sqlite' ? sqliteDatabase(join(newDir(), 'data', 'receiver.db')) : backend.create();
}

// Suites run side by side (runCli bounds how many processes run at once); the serve flow's steps stay in order.
describe.concurrent.each(backends)('serve, then read the same store with the CLI ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase;
  /** What every command here gets as --db. */
  let db = '';
  beforeAll(async () => {
    database = await freshServeStore(backend);
    db = database.url;
  });
  afterAll(async () => database?.drop());
  const txA = `tx-cli-a-${process.pid}`;
  const txB = `tx-cli-b-${process.pid}`;
  const marker = `payload-marker-${process.pid}`;
  const secretToken = `secret-bearer-${process.pid}`;
  // Odd spacing, key order and an unknown property: the stored raw body must keep all of it.
  const completedRaw = `{ "eventType":"VERIFICATION_COMPLETED",\n  "docvTransactionId": "${txA}", "eventTime": "2026-03-01T10:05:00Z",\n  "decision": "accept", "customerUserId": "cli-user", "vendorNote": "${marker}" }`;
  const ids: { completed?: string; opened?: string; other?: string } = {};
  const admin: { transactions?: any; transactionA?: any; events?: any; completedEvent?: any } = {};

  it.sequential('prints the webhook and admin URLs, accepts a POST, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const { proc, webhookUrl, transactionsUrl } = await startServe([
      '--port',
      String(port),
      '--db',
      db,
      '--log-level',
      'info',
    ]);
    expect(webhookUrl).toBe(`http://127.0.0.1:${port}/socure/docv/webhook`);
    expect(transactionsUrl).toBe(`http://127.0.0.1:${port}/v1/transactions`);

    const post = async (body: string, headers: Record<string, string> = {}) => {
      const res = await fetch(webhookUrl, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
      const json = (await res.json()) as { status: string; eventId: string };
      expect(res.status, JSON.stringify(json)).toBe(200);
      expect(json.status).toBe('accepted');
      return json.eventId;
    };
    // Delivered out of order: the completion first.
    ids.completed = await post(completedRaw, {
      authorization: `Bearer ${secretToken}`,
      cookie: 'sid=cookie-secret',
      'x-cli-test': 'yes',
    });
    ids.opened = await post(
      JSON.stringify({
        eventType: 'APP_OPENED',
        docvTransactionId: txA,
        eventTime: '2026-03-01T10:00:00Z',
        customerUserId: 'cli-user',
      }),
    );
    ids.other = await post(
      JSON.stringify({ eventType: 'DOCUMENTS_UPLOADED', docvTransactionId: txB, eventTime: '2026-03-01T11:00:00Z' }),
    );

    proc.child.kill('SIGTERM');
    const result = await proc.exited(10_000);
    expect(result.signal).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    // Committed where --db said, as another process reading the store sees it.
    const stored = await database.rows<{ event_id: string; docv_transaction_id: string }>(
      'SELECT event_id, docv_transaction_id FROM events ORDER BY seq',
    );
    expect(stored).toEqual([
      { event_id: ids.completed, docv_transaction_id: txA },
      { event_id: ids.opened, docv_transaction_id: txA },
      { event_id: ids.other, docv_transaction_id: txB },
    ]);

    // One JSON log line per delivery, with its outcome and eventId; never the payload or a credential.
    const logLines = lines(result.stdout)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const deliveries = logLines.filter((l) => l.msg === 'delivery');
    expect(deliveries.map((l) => l.eventId)).toEqual([ids.completed, ids.opened, ids.other]);
    expect(deliveries.every((l) => l.outcome === 'accepted' && typeof l.latencyMs === 'number')).toBe(true);
    expect(result.stdout + result.stderr).not.toContain(marker);
    expect(result.stdout + result.stderr).not.toContain(secretToken);
    expect(result.stdout + result.stderr).not.toContain('cookie-secret');
  });

  it.sequential(
    'a second serve on the same store sees everything the first one stored (restart persistence)',
    async () => {
      expect(ids.completed).toBeDefined();
      const { proc, base } = await startServe(['--port', '0', '--db', db, '--log-level', 'warn']);
      const tx = await getJson(`${base}/v1/transactions/${encodeURIComponent(txA)}`);
      expect(tx.status).toBe(200);
      expect(tx.json).toMatchObject({
        docvTransactionId: txA,
        status: 'VERIFICATION_COMPLETED',
        decision: 'accept',
        customerUserId: 'cli-user',
        eventCount: 2,
      });
      expect(tx.json.events.map((e: { eventId: string }) => e.eventId)).toEqual([ids.opened, ids.completed]);
      const event = await getJson(`${base}/v1/events/${ids.completed}`);
      expect(event.status).toBe(200);
      expect(event.json.rawBody).toBe(completedRaw);

      admin.transactionA = tx.json;
      admin.completedEvent = event.json;
      admin.transactions = (await getJson(`${base}/v1/transactions`)).json;
      admin.events = (await getJson(`${base}/v1/events`)).json;
      expect(admin.transactions.items.map((t: { docvTransactionId: string }) => t.docvTransactionId)).toEqual([
        txB,
        txA,
      ]);
      expect(admin.events.items).toHaveLength(3);

      proc.child.kill('SIGINT');
      const result = await proc.exited(10_000);
      expect(result.code, result.stderr).toBe(0);
    },
  );

  it.sequential('transactions list prints a table, and --json matches the admin API', async () => {
    const [table, json] = await Promise.all([
      runCli(['transactions', 'list', '--db', db]),
      runCli(['transactions', 'list', '--db', db, '--json']),
    ]);
    expect(table.code, table.stderr).toBe(0);
    const rows = parseTable(table.stdout);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      docvTransactionId: txB,
      status: 'DOCUMENTS_UPLOADED',
      decision: '-',
      eventCount: '1',
      lastEventAt: '2026-03-01T11:00:00Z',
    });
    expect(rows[1]).toMatchObject({
      docvTransactionId: txA,
      status: 'VERIFICATION_COMPLETED',
      decision: 'accept',
      customerUserId: 'cli-user',
      eventCount: '2',
      lastEventAt: '2026-03-01T10:05:00Z',
    });

    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(admin.transactions);
  });

  it.sequential('transactions list filters like the admin API', async () => {
    const result = await runCli(['transactions', 'list', '--db', db, '--json', '--decision', 'accept']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).items.map((t: { docvTransactionId: string }) => t.docvTransactionId)).toEqual([
      txA,
    ]);
  });

  it.sequential(
    'transactions show prints the lifecycle and events in eventTime order, and --json matches the admin API',
    async () => {
      const [table, json] = await Promise.all([
        runCli(['transactions', 'show', txA, '--db', db]),
        runCli(['transactions', 'show', txA, '--db', db, '--json']),
      ]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(new RegExp(`^docvTransactionId\\s+${txA}$`, 'm'));
      expect(table.stdout).toMatch(/^status\s+VERIFICATION_COMPLETED$/m);
      expect(table.stdout).toMatch(/^decision\s+accept$/m);
      expect(table.stdout).toMatch(/^anomalies\s+-$/m);
      const events = parseTable(table.stdout);
      expect(events.map((e) => e.eventId)).toEqual([ids.opened, ids.completed]);
      expect(events.map((e) => e.eventType)).toEqual(['APP_OPENED', 'VERIFICATION_COMPLETED']);

      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual(admin.transactionA);
    },
  );

  it.sequential('events list prints a table, and --json matches the admin API', async () => {
    const [table, json] = await Promise.all([
      runCli(['events', 'list', '--db', db]),
      runCli(['events', 'list', '--db', db, '--json']),
    ]);
    expect(table.code, table.stderr).toBe(0);
    const rows = parseTable(table.stdout);
    expect(rows.map((r) => r.eventId)).toEqual([ids.other, ids.opened, ids.completed]);
    expect(rows[2]).toMatchObject({
      docvTransactionId: txA,
      eventType: 'VERIFICATION_COMPLETED',
      eventTime: '2026-03-01T10:05:00Z',
      decision: 'accept',
    });

    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(admin.events);
  });

  it.sequential(
    'events show prints the exact payload and headers without credentials, and --json matches the admin API',
    async () => {
      const [text, json] = await Promise.all([
        runCli(['events', 'show', ids.completed!, '--db', db]),
        runCli(['events', 'show', ids.completed!, '--db', db, '--json']),
      ]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`payload (as received):\n${completedRaw}\n`);
      expect(text.stdout).toMatch(/^\s+x-cli-test: yes$/m);
      expect(text.stdout).not.toMatch(/authorization|cookie/i);
      expect(text.stdout).not.toContain(secretToken);

      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual(admin.completedEvent);
    },
  );

  it.sequential('transactions show of an unknown id exits 1 with one line', async () => {
    const result = await runCli(['transactions', 'show', 'unknown-tx', '--db', db]);
    expectOneLineFailure(result, 'unknown-tx');
    expect(result.stdout).toBe('');
  });
});

describe.concurrent('serve failures', () => {
  let blocker: Server;
  let busyPort: number;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve, reject) => {
      blocker.once('error', reject);
      blocker.listen(0, '127.0.0.1', () => resolve());
    });
    const address = blocker.address();
    busyPort = typeof address === 'object' && address ? address.port : 0;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  });

  it('on a port in use exits 1 with one line naming the port', async () => {
    const dir = newDir();
    const result = await runCli([
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(busyPort),
      '--db',
      `sqlite:${join(dir, 'busy.db')}`,
      '--log-level',
      'warn',
    ]);
    expectOneLineFailure(result, String(busyPort));
    expect(result.stdout).not.toContain('POST DocV events to');
  });

  it('(SQLite) with a database path that cannot be created exits 1 with one line naming it', async () => {
    const dir = newDir();
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const result = await runCli([
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--db',
      `sqlite:${join(file, 'sub', 'x.db')}`,
      '--log-level',
      'warn',
    ]);
    expectOneLineFailure(result, join(file, 'sub'));
    expect(result.stdout).not.toContain('POST DocV events to');
  });

  it('rejects --port abc with a clear message', async () => {
    const port = 'abc';
    const result = await runCli(['serve', '--port', port, '--db', `sqlite:${join(newDir(), 'x.db')}`]);
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/port/i);
    expect(result.stderr).toContain(port);
    expect(result.stdout).not.toContain('POST DocV events to');
  });
});

describe.concurrent('validate', () => {
  const dir = newDir();
  const valid = join(dir, 'valid.json');
  const invalid = join(dir, 'invalid.json');
  writeFileSync(
    valid,
    JSON.stringify({
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: 'tx-valid',
      eventTime: '2026-03-01T10:00:00+01:00',
      decision: 'reject',
      extra: { kept: true },
    }),
  );
  writeFileSync(
    invalid,
    JSON.stringify({ eventType: 'APP_CLOSED', docvTransactionId: '', eventTime: 'yesterday', decision: 'accept' }),
  );

  it('exits 0 on a valid file', async () => {
    const result = await runCli(['validate', valid]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('valid asyncapi: VERIFICATION_COMPLETED for transaction tx-valid\n');
  });

  it('exits 1 on an invalid file, listing every violation with its path', async () => {
    const result = await runCli(['validate', invalid]);
    expect(result.code).toBe(1);
    const out = lines(result.stdout);
    expect(out[0]).toBe('invalid (as asyncapi): 4 violation(s)');
    const paths = out.slice(1).map((l) => l.trim().split(':')[0]);
    expect(paths.sort()).toEqual(['/decision', '/docvTransactionId', '/eventTime', '/eventType']);
  });

  it('reads standard input with -', async () => {
    const result = await runCli(['validate', '-'], {
      input: JSON.stringify({
        eventType: 'APP_OPENED',
        docvTransactionId: 'tx-stdin',
        eventTime: '2026-03-01T10:00:00Z',
      }),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('valid asyncapi: APP_OPENED for transaction tx-stdin\n');
  });

  it('exits 1 with one line for a missing file', async () => {
    const missing = join(dir, 'missing.json');
    const result = await runCli(['validate', missing]);
    expectOneLineFailure(result, missing);
    expect(result.stdout).toBe('');
  });
});

describe.concurrent.each(backends)('store commands ($name)', (backend) => {
  if (skipUnavailable(backend)) return;

  it('migrate applies migrations to a fresh store, then says it is up to date', async () => {
    const database = await backend.create();
    try {
      const first = await runCli(['migrate', '--db', database.url]);
      expect(first.code, first.stderr).toBe(0);
      const [, listed] = first.stdout.match(/^applied migrations (\d+(?:, \d+)*)\n$/) ?? [];
      expect(listed, first.stdout).toBeDefined();
      const recorded = await database.rows<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(recorded.map((r) => String(r.version))).toEqual(listed!.split(', '));
      const second = await runCli(['migrate', '--db', database.url]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toBe('database is up to date\n');
    } finally {
      await database.drop();
    }
  });
});

// What only a file can get wrong: it is missing, or it is some other SQLite file.
describe.concurrent('store commands on a SQLite file', () => {
  it('(SQLite) --db pointing at a nonexistent file exits 1 with one clear line and creates nothing', async () => {
    const dir = newDir();
    const missing = join(dir, 'nowhere', 'missing.db');
    const result = await runCli(['transactions', 'list', '--db', `sqlite:${missing}`]);
    expectOneLineFailure(result, missing);
    expect(result.stdout).toBe('');
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });

  it('(SQLite) --db pointing at a file that is not a docv-webhooks database exits 1 with one line naming the file', async () => {
    // An empty file (what `touch` leaves) opens as SQLite but has none of our tables.
    const file = join(newDir(), 'other.db');
    writeFileSync(file, '');
    const result = await runCli(['transactions', 'list', '--db', `sqlite:${file}`]);
    expectOneLineFailure(result, file);
    expect(result.stdout).toBe('');
  });
});

// Its counterpart on a server: a schema nobody migrated. Reading must not create it.
describe.concurrent('store commands on a PostgreSQL schema', () => {
  const postgres = backends.find((b) => b.name === 'postgres')!;
  if (skipUnavailable(postgres)) return;

  it('(PostgreSQL) --db naming a schema without docv-webhooks tables exits 1 with one line naming it and creates nothing', async () => {
    const schema = newSchemaName();
    const database = postgresDatabase(schema);
    try {
      const result = await runCli(['transactions', 'list', '--db', database.url]);
      expectOneLineFailure(result, schema, 'no docv-webhooks tables');
      expect(result.stdout).toBe('');
      expect(await database.rows('SELECT 1 FROM pg_namespace WHERE nspname = ?', schema)).toEqual([]);
    } finally {
      await database.drop();
    }
  });
});

describe.concurrent('--help', () => {
  it('works for every command', async () => {
    const commands = [
      [],
      ['serve'],
      ['validate'],
      ['transactions'],
      ['transactions', 'list'],
      ['transactions', 'show'],
      ['events'],
      ['events', 'list'],
      ['events', 'show'],
      ['migrate'],
    ];
    const results = await Promise.all(commands.map(async (c) => [c, await runCli([...c, '--help'])] as const));
    for (const [command, result] of results) {
      const name = ['docv-webhooks', ...command].join(' ');
      expect(result.code, `${name} --help: ${result.stderr}`).toBe(0);
      expect(result.stdout, name).toContain(`Usage: ${name} `);
      expect(result.stdout, name).toContain('--help');
      expect(result.stderr, name).toBe('');
    }
    const serveHelp = results.find(([c]) => c.join(' ') === 'serve')![1].stdout;
    for (const flag of ['--port', '--host', '--db', '--admin-token']) expect(serveHelp).toContain(flag);
  });
});
