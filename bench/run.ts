import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  commandLine,
  commitDescription,
  formatCpuBudgets,
  formatTable,
  formatTargets,
  machineDescription,
  target,
  writeRawRun,
  type CpuBudget,
  type Report,
  type Row,
} from './report.js';
import { installExitHooks, killAllChildren, ROOT } from './servers.js';
import { buildCheckout } from './servers.js';
import {
  budgetLabel,
  budgetSection,
  FLOOR_LABEL,
  floorSection,
  openLoopSection,
  receiverSection,
  scaleSection,
  senderSection,
  startBaseline,
  type BenchContext,
  type Baseline,
} from './sections.js';
import { postgresAvailability } from './postgres.js';
import {
  ACK_P99_GOAL_MS,
  closedDeliveryRows,
  closedDeliverySection,
  DEFAULT_SEARCH_RATES,
  DRAIN_GOAL_S,
  DRAIN_WAIT_S,
  LAG_P99_GOAL_MS,
  openDeliveryRows,
  openDeliverySection,
  steadyRateRow,
  steadyRateSection,
  storeName,
} from './delivery.js';
import { WRITES_GOAL, WRITES_LABEL, writesSection } from './writes.js';
import { DASHBOARD_LABEL, dashboardSection, formatPageTimings, PAGE_GOAL_MS } from './dashboard.js';
import { BROKER_TARGETS, brokerRow, brokerSection } from './brokers.js';
import { writeFileSync } from 'node:fs';

const SECTIONS = [
  'sqlite',
  'budget',
  'postgres',
  'openloop',
  'delivery',
  'writes',
  'sender',
  'scale',
  'dashboard',
  'brokers',
] as const;

const USAGE = `npm run bench [-- options]

  --duration <s>      seconds per measured section (default 10)
  --smoke             about 1 s per section and tiny counts: checks the script, not the code
  --events <n>        events stored before the lookup and dashboard tests (default 1000000; smoke 2000)
  --connections <n>   closed-loop connections (default 50)
  --rates <list>      open-loop rates in events/s (default 500,2000,5000)
  --delivery-rate <n> the delivery section's open-loop rate in events/s (default 1000)
  --search-rates <l>  rates the steady-rate search tries, in order, up to the first miss
                      (default ${DEFAULT_SEARCH_RATES.join(',')}; smoke 200,400)
  --only <list>       sections to run: ${SECTIONS.join(',')} (baseline
                      always runs; sqlite and openloop each measure the durable floor beside the
                      receiver; delivery: one destination, acknowledged and forwarded, closed loop,
                      open loop and the steady-rate search, SQLite and PostgreSQL; writes: WAL
                      pages and B-trees per single-event SQLite commit; dashboard: each console
                      page's time after --events events, SQLite and PostgreSQL; brokers: events
                      delivered per second to HTTP, RabbitMQ, NATS JetStream and Redis Streams)
  --out <file>        write the raw run to this file: the report (the printed tables, with the
                      date, command, commit, machine and settings) followed by its figures as
                      JSON; without it the run is only printed
  --json <file>       also write the rows and targets alone as JSON
  --title <text>      heading of the report
  --profile <dir>     run the receivers with --cpu-prof, profiles written to <dir>
  --compare <dirs>    also run the SQLite section with the receiver of other checkouts
                      (comma-separated; e.g. a copy of the tree before a change)
  --root <dir>        measure the receiver, sender and store of another checkout
  --log-level <lvl>   receiver log level (default info, as in production)
  --keep              keep the temporary directory (databases, logs)
`;

/** Microseconds of work per request the budget section prices. */
const BUDGET_US = [25, 50, 100];
const SQLITE_LABEL = 'Receiver SQLite (durable before 2xx, auth, validation, outbox+dispatch)';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      events: { type: 'string' },
      connections: { type: 'string' },
      rates: { type: 'string' },
      'delivery-rate': { type: 'string' },
      'search-rates': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      title: { type: 'string' },
      profile: { type: 'string' },
      compare: { type: 'string' },
      root: { type: 'string' },
      'log-level': { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const positive = (text: string | undefined, fallback: number, name: string): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${text}`);
    return n;
  };
  const smoke = values.smoke === true;
  const only = new Set(values.only ? values.only.split(',').map((s) => s.trim()) : SECTIONS);
  for (const s of only)
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`--only: unknown section ${s} (${SECTIONS.join(', ')})`);

  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'docv-bench-'));
  const ctx: BenchContext = {
    dir,
    smoke,
    durationS: positive(values.duration, smoke ? 1 : 10, 'duration'),
    warmupS: smoke ? 0 : 2,
    connections: Math.round(positive(values.connections, 50, 'connections')),
    webhookSecret: randomBytes(16).toString('hex'),
    adminToken: randomBytes(16).toString('hex'),
    profileDir: values.profile ? resolve(values.profile) : undefined,
    logLevel: values['log-level'] ?? 'info',
    root: values.root ? resolve(values.root) : ROOT,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const rates = (values.rates ?? '500,2000,5000').split(',').map((r) => positive(r, 0, 'rates'));
  const deliveryRate = positive(values['delivery-rate'], 1_000, 'delivery-rate');
  const searchRates = (values['search-rates'] ?? (smoke ? '200,400' : DEFAULT_SEARCH_RATES.join(',')))
    .split(',')
    .map((r) => positive(r, 0, 'search-rates'));
  const scaleEvents = Math.round(positive(values.events, smoke ? 2_000 : 1_000_000, 'events'));
  const out = values.out === undefined ? undefined : resolve(values.out);
  // Found out now, not after minutes of measuring.
  if (out) {
    try {
      accessSync(dirname(out), constants.W_OK);
    } catch {
      throw new Error(`--out: cannot write into ${dirname(out)} (create the directory first)`);
    }
  }

  const rows: Row[] = [];
  let baseline: Baseline | undefined;
  try {
    const compareDirs = values.compare ? values.compare.split(',').map((d) => resolve(d)) : [];
    for (const root of new Set([ctx.root, ...compareDirs])) {
      ctx.log(`building ${root}`);
      await buildCheckout(root);
    }
    baseline = await startBaseline(ctx);

    let sqliteRow: Row | undefined;
    let postgresRow: Row | undefined;
    let floorRow: Row | undefined;
    /** A section that throws is reported as failed, and the rest of the run goes on. */
    const attempt = async (
      rowsIfFailed: Array<Pick<Row, 'key' | 'section'>>,
      run: () => Promise<Row[]>,
    ): Promise<Row[]> => {
      try {
        return await run();
      } catch (err) {
        const reason = ((err as Error).message || String(err)).split('\n')[0]!.slice(0, 300);
        ctx.log(`section failed: ${(err as Error).stack ?? reason}`);
        return rowsIfFailed.map((r) => ({ ...r, failed: reason }));
      }
    };
    if (only.has('sqlite')) {
      // Other checkouts first (a before/after comparison), each against the baseline in turns.
      for (const [i, dir] of (values.compare ? values.compare.split(',') : []).entries()) {
        const key = `sqlite-before-${i + 1}`;
        const label = `Receiver SQLite, other tree: ${dir}`;
        rows.push(
          ...(await attempt([{ key, section: label }], async () => [
            await receiverSection(ctx, baseline!, { store: 'sqlite', key, label, root: resolve(dir) }),
          ])),
        );
      }
      [sqliteRow] = await attempt([{ key: 'sqlite', section: SQLITE_LABEL }], async () => [
        await receiverSection(ctx, baseline!, { store: 'sqlite', key: 'sqlite', label: SQLITE_LABEL }),
      ]);
      rows.push(sqliteRow!);
      [floorRow] = await attempt([{ key: 'floor', section: FLOOR_LABEL }], async () => [
        await floorSection(ctx, baseline!),
      ]);
      rows.push(floorRow!);
    }
    if (only.has('budget')) {
      rows.push(
        ...(await attempt(
          BUDGET_US.map((us) => ({ key: `budget-${us}`, section: budgetLabel(us) })),
          () => budgetSection(ctx, baseline!, BUDGET_US),
        )),
      );
    }
    const pg =
      only.has('postgres') || only.has('scale') || only.has('delivery') || only.has('dashboard')
        ? await postgresAvailability(ctx.root)
        : { ok: false as const, reason: 'not selected' };
    if (only.has('postgres')) {
      const label = 'Receiver PostgreSQL (auth, validation, outbox+dispatch)';
      [postgresRow] = pg.ok
        ? await attempt([{ key: 'postgres', section: label }], async () => [
            await receiverSection(ctx, baseline!, { store: 'postgres', key: 'postgres', label }),
          ])
        : [{ key: 'postgres', section: 'Receiver PostgreSQL', skipped: pg.reason }];
      rows.push(postgresRow!);
    }
    let openLoopRows: Row[] = [];
    if (only.has('openloop')) {
      openLoopRows = await attempt(
        rates.map((rate) => ({
          key: `openloop-${rate}`,
          section: `Open loop SQLite at ${rate.toLocaleString('en-US')} events/s`,
        })),
        () => openLoopSection(ctx, rates),
      );
      rows.push(...openLoopRows);
    }
    if (only.has('delivery')) {
      const kinds = pg.ok ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);
      const pgReason = pg.ok ? '' : pg.reason;
      const skipped = (r: Pick<Row, 'key' | 'section'>): Row => ({ ...r, skipped: pgReason });
      for (const kind of kinds)
        rows.push(...(await attempt(closedDeliveryRows(kind), () => closedDeliverySection(ctx, baseline!, kind))));
      if (!pg.ok) rows.push(...closedDeliveryRows('postgres').map(skipped));
      for (const kind of kinds)
        rows.push(
          ...(await attempt(openDeliveryRows(kind, deliveryRate), () => openDeliverySection(ctx, kind, deliveryRate))),
        );
      if (!pg.ok) rows.push(...openDeliveryRows('postgres', deliveryRate).map(skipped));
      for (const kind of kinds)
        rows.push(
          ...(await attempt([steadyRateRow(kind)], async () => [await steadyRateSection(ctx, kind, searchRates)])),
        );
      if (!pg.ok) rows.push(skipped(steadyRateRow('postgres')));
    }
    if (only.has('writes')) {
      rows.push(
        ...(await attempt([{ key: 'writes-sqlite', section: WRITES_LABEL }], async () => [await writesSection(ctx)])),
      );
    }
    let senderRows: Row[] = [];
    if (only.has('sender')) {
      senderRows = await attempt(
        [
          { key: 'sender-loadgen', section: 'Load generator (autocannon) → bare sink' },
          { key: 'sender', section: 'Sandbox sender (simulate) → bare sink' },
        ],
        () => senderSection(ctx),
      );
      rows.push(...senderRows);
    }
    const scaleRows: Row[] = [];
    if (only.has('scale')) {
      scaleRows.push(
        ...(await attempt([{ key: 'scale-sqlite', section: 'Scale SQLite' }], async () => [
          await scaleSection(ctx, { store: 'sqlite', events: scaleEvents }),
        ])),
      );
      scaleRows.push(
        ...(pg.ok
          ? await attempt([{ key: 'scale-postgres', section: 'Scale PostgreSQL' }], async () => [
              await scaleSection(ctx, { store: 'postgres', events: scaleEvents }),
            ])
          : [{ key: 'scale-postgres', section: 'Scale PostgreSQL', skipped: pg.reason }]),
      );
      rows.push(...scaleRows);
    }

    const pageTimings: string[] = [];
    const dashboardRows: Row[] = [];
    if (only.has('dashboard')) {
      for (const store of ['sqlite', 'postgres'] as const) {
        const key = `dashboard-${store}`;
        if (store === 'postgres' && !pg.ok) {
          dashboardRows.push({ key, section: DASHBOARD_LABEL(store, scaleEvents), skipped: pg.reason });
          continue;
        }
        dashboardRows.push(
          ...(await attempt([{ key, section: DASHBOARD_LABEL(store, scaleEvents) }], async () => {
            const { row, pages } = await dashboardSection(ctx, { store, events: scaleEvents });
            pageTimings.push(formatPageTimings(store, pages));
            return [row];
          })),
        );
      }
      rows.push(...dashboardRows);
    }

    if (only.has('brokers')) {
      // Issue 21: the same closed loop delivering to HTTP and to each broker, in one run.
      for (const target of BROKER_TARGETS)
        rows.push(...(await attempt([brokerRow(target)], async () => [await brokerSection(ctx, baseline!, target)])));
    }

    // Without a section to take turns with, the baseline is measured on its own.
    if (
      !only.has('sqlite') &&
      !only.has('postgres') &&
      !only.has('budget') &&
      !only.has('delivery') &&
      !only.has('brokers')
    )
      await baseline.measure(ctx.durationS);
    rows.unshift(baseline.row());
    await baseline.stop();

    const openLoop2000 = openLoopRows.find((r) => r.key === 'openloop-2000');
    const floor2000 = openLoopRows.find((r) => r.key === 'floor-openloop-2000');
    const sender = senderRows.find((r) => r.key === 'sender');
    const lookup = scaleRows.find((r) => r.key === 'scale-sqlite');
    const lookupPg = scaleRows.find((r) => r.key === 'scale-postgres');
    const receiverRows = rows.filter(
      (r) =>
        r.rssMb !== undefined &&
        r.key !== 'baseline' &&
        !r.key.startsWith('sender') &&
        !r.key.startsWith('sqlite-before') &&
        !r.key.includes('floor') &&
        !r.key.startsWith('budget'),
    );
    const ingestRows = rows.filter(
      (r) =>
        (r.key === 'sqlite' ||
          r.key === 'postgres' ||
          r.key.startsWith('openloop') ||
          r.key.startsWith('delivery-closed') ||
          r.key.startsWith('delivery-open')) &&
        !r.skipped,
    );
    const measured = (key: string) => rows.find((r) => r.key === key && !r.skipped && !r.failed);
    /** A section's figure for a goal: null (not reached within the wait) reads as infinitely far. */
    const figure = (key: string, name: string): number | undefined => {
      const value = measured(key)?.figures?.[name];
      return value === null ? Infinity : value;
    };
    const deliveryTargets = (['sqlite', 'postgres'] as const).flatMap((kind) => {
      const name = storeName(kind);
      const at = `Open loop ${deliveryRate.toLocaleString('en-US')} events/s, one destination, ${name}`;
      return [
        target(
          `Closed loop, one destination, ${name}: acknowledged vs baseline`,
          measured(`delivery-closed-${kind}`)?.ratio,
          '>=',
          0.3,
          '×',
        ),
        target(
          `Closed loop, one destination, ${name}: forwarded vs baseline`,
          measured(`delivery-forwarded-${kind}`)?.ratio,
          '>=',
          0.3,
          '×',
        ),
        target(
          `Closed loop, one destination, ${name}: events not forwarded ${DRAIN_WAIT_S} s after the load`,
          figure(`delivery-forwarded-${kind}`, 'waiting'),
          '<=',
          0,
        ),
        target(`${at}: ack p99`, measured(`delivery-open-${kind}-${deliveryRate}`)?.p99, '<=', ACK_P99_GOAL_MS, ' ms'),
        target(
          `${at}: delivery lag p99`,
          figure(`delivery-lag-${kind}-${deliveryRate}`, 'lagP99ForGoal'),
          '<=',
          LAG_P99_GOAL_MS,
          ' ms',
        ),
        target(
          `${at}: backlog drained after the load`,
          figure(`delivery-lag-${kind}-${deliveryRate}`, 'drainS'),
          '<=',
          DRAIN_GOAL_S,
          ' s',
        ),
        target(
          `Highest steady rate meeting the three above, ${name}`,
          figure(`delivery-steady-${kind}`, 'highestRate'),
          '>=',
          deliveryRate,
          ' events/s',
        ),
      ];
    });
    // All of a receiver's threads and its database's processes, per request: with the forwarding
    // its events needed (the delivery section's closed loop, its drain included) when that ran,
    // else the receiver section's turns alone.
    const cpuTarget = (kind: 'sqlite' | 'postgres', goal: number) => {
      const name = storeName(kind);
      const whole = `${name} receiver${kind === 'postgres' ? ' + PostgreSQL server' : ''}, all threads`;
      const allIn = figure(`delivery-closed-${kind}`, 'cpuPerEventUs');
      if (allIn !== undefined) return target(`CPU per event, ${whole}, ingest + forward`, allIn, '<=', goal, ' µs');
      const cpu = measured(kind)?.cpu;
      return target(
        `CPU per event, ${whole}, ingest turns only`,
        cpu ? cpu.receiverAll + (cpu.database ?? 0) : undefined,
        '<=',
        goal,
        ' µs',
      );
    };
    const targets = [
      target(
        `SQLite ingest vs baseline (${ctx.connections} connections)`,
        sqliteRow?.ratio,
        '>=',
        0.5,
        '×',
        floorRow?.ratio,
      ),
      target(`SQLite ack p99 (${ctx.connections} connections)`, sqliteRow?.p99, '<=', 15, ' ms', floorRow?.p99),
      target('PostgreSQL ingest vs baseline', postgresRow?.ratio, '>=', 0.25, '×', floorRow?.ratio),
      target('PostgreSQL ack p99 (informative goal)', postgresRow?.p99, '<=', 15, ' ms', floorRow?.p99),
      target('Open-loop p99 at 2,000 events/s (SQLite)', openLoop2000?.p99, '<=', 5, ' ms', floor2000?.p99),
      ...deliveryTargets,
      cpuTarget('sqlite', 110),
      cpuTarget('postgres', 300),
      target('SQLite WAL pages per single-event commit', figure('writes-sqlite', 'pagesPerCommit'), '<=', WRITES_GOAL),
      target(
        'SQLite B-trees written per event, acknowledging path',
        figure('writes-sqlite', 'btreesPerEvent'),
        '<=',
        WRITES_GOAL,
      ),
      target('Sandbox sender vs load generator', sender?.ratio, '>=', 0.5, '×'),
      target(`Lookup p99 after ${scaleEvents.toLocaleString('en-US')} events (SQLite)`, lookup?.p99, '<=', 5, ' ms'),
      target(
        `Lookup p99 after ${scaleEvents.toLocaleString('en-US')} events (PostgreSQL)`,
        lookupPg?.p99,
        '<=',
        5,
        ' ms',
      ),
      ...(['sqlite', 'postgres'] as const).map((store) =>
        target(
          `Slowest dashboard page p99 after ${scaleEvents.toLocaleString('en-US')} events (${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
          dashboardRows.find((r) => r.key === `dashboard-${store}`)?.p99,
          '<=',
          PAGE_GOAL_MS,
          ' ms',
        ),
      ),
      target(
        'Receiver peak RSS, all sections',
        receiverRows.length ? Math.max(...receiverRows.map((r) => r.rssMb!)) : undefined,
        '<=',
        250,
        ' MB',
      ),
      target(
        'Ingest errors and non-2xx, all sections',
        ingestRows.length ? ingestRows.reduce((a, r) => a + (r.errors ?? 0), 0) : undefined,
        '<=',
        0,
      ),
    ];

    // Only a receiver's own figures: the goals are about this tree's receiver.
    const budgets: CpuBudget[] = [
      ...(sqliteRow?.cpu ? [{ name: 'SQLite', goal: 0.5, cores: cpus().length, cpu: sqliteRow.cpu }] : []),
      ...(postgresRow?.cpu ? [{ name: 'PostgreSQL', goal: 0.25, cores: cpus().length, cpu: postgresRow.cpu }] : []),
    ];
    const report: Report = {
      title: values.title ?? (smoke ? 'smoke run' : 'benchmark run'),
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      command: commandLine(process.argv.slice(2)),
      commit: values.root
        ? `receiver from ${resolve(values.root)}; bench at ${commitDescription()}`
        : commitDescription(),
      machine: machineDescription(),
      settings:
        `${ctx.durationS} s per section (+${ctx.warmupS} s warm-up), receiver sections in 2 s turns with the baseline, ${ctx.connections} connections, ` +
        `payloads: 4 event types over unique transactions + 10% duplicates, receiver log level ${ctx.logLevel}` +
        (only.has('delivery')
          ? `; delivery: one forward destination (a counting sink), open loop at ${deliveryRate.toLocaleString('en-US')} events/s, drain waited up to ${DRAIN_WAIT_S} s, ` +
            `steady-rate search over ${searchRates.join(', ')} events/s`
          : ''),
      rows,
      targets,
      budgets,
    };
    process.stdout.write(
      `\n${formatTable(rows)}\n\n${formatTargets(targets)}\n${budgets.length ? `\n${formatCpuBudgets(budgets)}\n` : ''}` +
        (pageTimings.length ? `\n${pageTimings.join('\n\n')}\n` : ''),
    );
    if (out) {
      writeRawRun(out, report);
      process.stdout.write(`\nraw run written to ${out}\n`);
    }
    if (values.json) writeFileSync(resolve(values.json), JSON.stringify({ rows, targets }, null, 2));
    if (rows.some((r) => r.failed)) {
      process.stderr.write(
        `failed sections: ${rows
          .filter((r) => r.failed)
          .map((r) => r.key)
          .join(', ')}\n`,
      );
      process.exitCode = 1;
    }
  } finally {
    killAllChildren();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${dir}\n`);
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
