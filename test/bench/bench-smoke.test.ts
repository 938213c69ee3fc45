import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm run bench` in smoke mode (about a second per section, tiny counts), so the script cannot
 * rot: every section must still run and report numbers. What the numbers are is the bench's job,
 * not this test's. The raw run goes to a temporary file (`--out`): runs are produced, not committed.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECTIONS = [
  'baseline',
  'sqlite',
  'floor',
  'budget-25',
  'budget-50',
  'budget-100',
  'postgres',
  'disk-fsync',
  'floor-openloop-500',
  'openloop-500',
  'floor-openloop-2000',
  'openloop-2000',
  'floor-openloop-5000',
  'openloop-5000',
  'delivery-closed-sqlite',
  'delivery-forwarded-sqlite',
  'delivery-closed-postgres',
  'delivery-forwarded-postgres',
  'delivery-open-sqlite-1000',
  'delivery-lag-sqlite-1000',
  'delivery-open-postgres-1000',
  'delivery-lag-postgres-1000',
  'delivery-steady-sqlite',
  'delivery-steady-postgres',
  'writes-sqlite',
  'sender-loadgen',
  'sender',
  'scale-sqlite',
  'scale-postgres',
  'dashboard-sqlite',
  'dashboard-postgres',
  'broker-http',
  'broker-rabbitmq',
  'broker-nats',
  'broker-redis',
];

interface Row {
  key: string;
  section: string;
  rate?: number;
  ratio?: number;
  p50?: number;
  p99?: number;
  max?: number;
  rssMb?: number;
  errors?: number;
  skipped?: string;
  failed?: string;
  note?: string;
  figures?: Record<string, number | null>;
  cpu?: {
    receiverMain: number;
    receiverAll: number;
    loadGenerator: number;
    database: number | null;
    baselineRate: number;
  };
}

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGTERM first: the bench kills its own children on the way out.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('npm run bench -- --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'docv-bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every section and reports a positive number for each', { timeout: 300_000 }, async () => {
    const out = join(dir, 'run.md');
    const json = join(dir, 'bench.json');
    const { code, stderr } = await runBench(['--smoke', '--out', out, '--json', json], 280_000);
    expect(code, stderr.slice(-3000)).toBe(0);

    const markdown = readFileSync(out, 'utf8');
    expect(markdown).toMatch(/^## \d{4}-\d{2}-\d{2}T/m);
    expect(markdown).toContain('- command: `node --import tsx bench/run.ts --smoke --out ');
    expect(markdown).toMatch(/- commit: \S+/);
    expect(markdown).toContain(
      '| section | events/s | × baseline | p50 ms | p99 ms | max ms | peak RSS MB | errors | notes |',
    );

    const { rows, targets } = JSON.parse(readFileSync(json, 'utf8')) as {
      rows: Row[];
      targets: Array<{ name: string; pass?: boolean }>;
    };
    // The raw run ends with the same figures as JSON, after the tables people read.
    const rawJson = /\n```json\n([\s\S]*)\n```\n$/.exec(markdown)?.[1];
    expect(rawJson, 'the raw run ends with a ```json block').toBeDefined();
    expect(JSON.parse(rawJson!)).toMatchObject({ rows, targets, command: expect.stringContaining('--smoke') });
    expect(rows.map((r) => r.key)).toEqual(SECTIONS);
    for (const row of rows) {
      expect(row.failed, `${row.key} failed`).toBeUndefined();
      expect(markdown).toContain(`| ${row.section} |`);
      if (row.skipped) {
        // Only a section whose code or server is missing may be skipped, and it says why.
        expect(row.skipped.length, row.key).toBeGreaterThan(0);
        expect(markdown).toContain(`skipped: ${row.skipped}`);
        continue;
      }
      // What reached the destination within a second's turns, and the highest rate a smoke run's
      // cold receiver met, may be nothing; their sections say how much and why.
      const mayBeZero =
        row.key.startsWith('delivery-forwarded') ||
        row.key.startsWith('delivery-steady') ||
        row.key.startsWith('broker-');
      if (mayBeZero) expect(row.rate, row.key).toBeGreaterThanOrEqual(0);
      else expect(row.rate, row.key).toBeGreaterThan(0);
      if (!mayBeZero || row.p50 !== undefined) {
        expect(row.p50, row.key).toBeGreaterThan(0);
        expect(row.p99!, row.key).toBeGreaterThanOrEqual(row.p50!);
        expect(row.max!, row.key).toBeGreaterThanOrEqual(row.p99!);
      }
      expect(row.errors, row.key).toBeGreaterThanOrEqual(0);
      if (row.key !== 'sender-loadgen' && row.key !== 'disk-fsync') expect(row.rssMb, row.key).toBeGreaterThan(0);
      if (
        ['baseline', 'sqlite', 'floor', 'postgres'].includes(row.key) ||
        row.key.startsWith('sender') ||
        row.key.startsWith('budget')
      ) {
        expect(row.ratio, row.key).toBeGreaterThan(0);
      }
      // What each closed-loop server spent per request, read from /proc, so a ratio can be priced.
      if (['baseline', 'sqlite', 'floor', 'postgres'].includes(row.key) || row.key.startsWith('budget')) {
        expect(row.note, row.key).toMatch(/CPU per request \d+ µs on the main thread, \d+ µs in all its threads/);
      }
    }
    // Delivery (issue 18): acknowledged and forwarded, the drain after the load, the lag, the
    // steady rate, and the writes per event, each with the figure its goal reads.
    for (const row of rows.filter((r) => r.key.startsWith('delivery-') && !r.skipped)) {
      if (row.key.startsWith('delivery-closed')) {
        expect(row.ratio, row.key).toBeGreaterThan(0);
        expect(row.figures?.cpuPerEventUs, row.key).toBeGreaterThan(0);
        expect(row.note, row.key).toMatch(/the drain after the load included: \d+ µs per request/);
      }
      if (row.key.startsWith('delivery-forwarded')) {
        expect(row.ratio, row.key).toBeGreaterThanOrEqual(0);
        expect(row.figures?.waiting, row.key).toBeGreaterThanOrEqual(0);
        expect(row.figures, row.key).toHaveProperty('drainS');
        expect(row.note, row.key).toMatch(
          /after the load: (drained [\d.]+ s after the load|not drained in \d+ s: [\d,]+ waiting)/,
        );
      }
      if (row.key.startsWith('delivery-lag')) {
        expect(row.figures, row.key).toHaveProperty('drainS');
        expect(row.figures, row.key).toHaveProperty('lagP99ForGoal');
        expect(row.note, row.key).toMatch(/new events of the load reached the destination/);
      }
      if (row.key.startsWith('delivery-steady')) {
        expect(row.figures?.highestRate, row.key).toBeGreaterThanOrEqual(0);
        expect(row.note, row.key).toMatch(/\/s: ack p99 [\d.]+ ms, /);
      }
    }
    // Destinations beyond HTTP (issue 21): what each destination held, counted by the destination itself.
    for (const row of rows.filter((r) => r.key.startsWith('broker-'))) {
      expect(row.skipped, row.key).toBeUndefined();
      expect(row.ratio, row.key).toBeGreaterThanOrEqual(0);
      expect(row.figures, row.key).toHaveProperty('drainS');
      expect(row.note, row.key).toMatch(/events held by the destination after the receiver's turns/);
    }
    const writes = rows.find((r) => r.key === 'writes-sqlite')!;
    expect(writes.skipped).toBeUndefined();
    expect(writes.figures?.pagesPerCommit).toBeGreaterThan(0);
    expect(writes.figures?.btreesPerEvent).toBeGreaterThan(0);
    expect(writes.note).toMatch(/[\d.]+ pages per single-event commit and [\d.]+ B-trees written per event/);
    for (const name of [
      'Closed loop, one destination, SQLite: forwarded vs baseline',
      'Open loop 1,000 events/s, one destination, SQLite: delivery lag p99',
      'Highest steady rate meeting the three above, SQLite',
      'CPU per event, SQLite receiver, all threads, ingest + forward',
      'CPU per event, PostgreSQL receiver + PostgreSQL server, all threads',
      'SQLite B-trees written per event, acknowledging path',
    ])
      expect(
        targets.map((t) => t.name).some((t) => t.startsWith(name)),
        name,
      ).toBe(true);

    // The receiver sections must actually have run: the point of the bench.
    expect(rows.find((r) => r.key === 'sqlite')?.skipped).toBeUndefined();
    expect(rows.find((r) => r.key === 'scale-sqlite')?.skipped).toBeUndefined();

    expect(targets.length).toBeGreaterThanOrEqual(8);
    // Each ingest target is shown beside the durable floor's figure from the same run.
    const floor = rows.find((r) => r.key === 'floor')!;
    expect(markdown).toContain('| target | measured | goal | result | durable floor, same run |');
    expect(markdown).toMatch(new RegExp(`\\| SQLite ingest vs baseline .*\\| ${floor.ratio!.toFixed(2)}× \\|`));
    for (const t of targets)
      expect(markdown).toMatch(
        new RegExp(
          `\\| ${t.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\|.*\\| (PASS|\\*\\*MISS\\*\\*|n/a \\(not measured\\)) \\|`,
        ),
      );

    // Both senders' CPU, so the sender goal can be read in CPU as well as in requests per second.
    for (const key of ['sender-loadgen', 'sender'])
      expect(rows.find((r) => r.key === key)!.note, key).toMatch(/CPU per request \d+ µs, all threads/);

    // What the ingest goals leave a receiver, from the CPU measured in the receiver's own turns.
    for (const key of ['baseline', 'sqlite', 'postgres']) {
      const row = rows.find((r) => r.key === key)!;
      if (row.skipped) continue;
      expect(row.note, key).toMatch(/load generator \d+ µs per request/);
    }
    expect(markdown).toContain(
      '| receiver | goal | events/s at the goal | CPU per event left by the load generator, all cores |',
    );
    const budgetRows: Array<[string, string, number]> = [
      ['sqlite', 'SQLite', 0.5],
      ['postgres', 'PostgreSQL', 0.25],
    ];
    for (const [key, name, goal] of budgetRows) {
      const row = rows.find((r) => r.key === key)!;
      if (row.skipped) continue;
      const cpu = row.cpu!;
      expect(cpu.receiverAll, key).toBeGreaterThanOrEqual(cpu.receiverMain);
      expect(cpu.loadGenerator, key).toBeGreaterThan(0);
      if (key === 'postgres') {
        expect(cpu.database, key).toBeGreaterThan(0);
        expect(row.note).toMatch(/PostgreSQL server \d+ µs per request/);
      } else expect(cpu.database).toBeNull();
      const rate = goal * cpu.baselineRate;
      const left = Math.round((cpus().length * 1e6) / rate - cpu.loadGenerator).toLocaleString('en-US');
      expect(markdown).toContain(
        `| ${name} | ${goal.toFixed(2)}× | ${Math.round(rate).toLocaleString('en-US')} | ${left} µs |`,
      );
    }
  });
});
