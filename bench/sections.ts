import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CpuMeter, describeCpu, measureCpu, PostgresServerMeter, type CpuTimes } from './cpu.js';
import { measureFsync } from './disk.js';
import { closedLoop, getLoop, mergeResults, openLoop, type LoadResult } from './load.js';
import { createPayloads, transactionIdFor, transactionStarted, type PayloadGenerator } from './payloads.js';
import { dropSchema, postgresUrl, schemaSize, settleSchema } from './postgres.js';
import type { Row } from './report.js';
import {
  RECEIVER_CLI,
  runScript,
  startBareServer,
  startBusyServer,
  startDurableFloor,
  startReceiverProcess,
  type RunningChild,
} from './servers.js';

export interface BenchContext {
  dir: string;
  smoke: boolean;
  durationS: number;
  warmupS: number;
  connections: number;
  webhookSecret: string;
  adminToken: string;
  profileDir: string | undefined;
  logLevel: string;
  /** The checkout whose receiver, sender and store are measured. */
  root: string;
  log: (line: string) => void;
}

export const WEBHOOK_PATH = '/socure/docv/webhook';
export const MB = 1024 * 1024;
export const FORWARD_PATH = '/forward';
/** Past this many unanswered requests the open-loop sender stops adding more. */
const OPEN_LOOP_MAX_IN_FLIGHT = 2_000;

export function ingestHeaders(ctx: BenchContext): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${ctx.webhookSecret}` };
}

export function latencyColumns(r: LoadResult): Pick<Row, 'rate' | 'p50' | 'p99' | 'max' | 'errors'> {
  return { rate: r.rate, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, errors: r.errors };
}

/** A sender's CPU per request (all its threads): the load generator's, or simulate's own count. */
function describeOwnCpu(us: number | undefined): string {
  return us === undefined ? '' : `; CPU per request ${Math.round(us)} µs, all threads`;
}

export function describeLoadGenerator(cpu: CpuTimes | null): string {
  return cpu ? `; load generator ${Math.round(cpu.process)} µs per request` : '';
}

export function describeErrors(r: LoadResult): string {
  const bad = Object.entries(r.statuses).filter(([status]) => !/^2\d\d$/.test(status));
  return bad.length ? `; ${bad.map(([s, n]) => `${s}×${n}`).join(' ')}` : '';
}

export async function stopAll(...children: Array<RunningChild | undefined>): Promise<void> {
  await Promise.all(children.map((c) => c?.stop()));
}

/**
 * The bare node:http server under the same load: the yardstick for every ratio. It runs for the
 * whole bench, and each receiver section takes its slices in turns with it, so both see the same
 * machine: on a shared 2-core box the background load drifts, and a ratio of two measurements
 * minutes apart would mostly measure that drift.
 */
export interface Baseline {
  /** One slice of closed-loop load on the bare server. */
  measure(durationS: number): Promise<LoadResult>;
  /** All slices so far, as one row. */
  row(): Row;
  stop(): Promise<void>;
}

/** How long each turn lasts when a section alternates with the baseline. */
const SLICE_S = 2;

export async function startBaseline(ctx: BenchContext): Promise<Baseline> {
  ctx.log('baseline: bare node:http server');
  const server = await startBareServer(ctx.dir, 'baseline');
  const load = {
    url: server.url,
    path: WEBHOOK_PATH,
    headers: ingestHeaders(ctx),
    payloads: createPayloads(),
    connections: ctx.connections,
  };
  if (ctx.warmupS > 0) await closedLoop({ ...load, durationS: ctx.warmupS });
  server.rss.reset();
  const slices: LoadResult[] = [];
  const cpu = new CpuMeter(server.pid);
  const loadGenerator = new CpuMeter(process.pid);
  return {
    async measure(durationS) {
      const r = await measureCpu([cpu, loadGenerator], () => closedLoop({ ...load, durationS }));
      slices.push(r);
      return r;
    },
    row() {
      const r = mergeResults(slices);
      return {
        key: 'baseline',
        section: 'Baseline: bare node:http server',
        ...latencyColumns(r),
        ratio: 1,
        rssMb: server.rss.peak() / MB,
        note: `${r.requests.toLocaleString('en-US')} requests${slices.length > 1 ? ` in ${slices.length} slices taken in turns with the other sections` : ''}${describeErrors(r)}${describeCpu(cpu.perRequest(r.requests))}${describeLoadGenerator(loadGenerator.perRequest(r.requests))}`,
      };
    },
    stop: () => server.stop(),
  };
}

/**
 * The receiver's slices and the baseline's, in turns: ratios of two measurements of the same
 * minutes. During the baseline's slices the receiver's processes (`frozen`: the receiver and its
 * forward sink) are stopped with SIGSTOP: left running, the receiver drained its outbox backlog
 * at full speed beside the baseline (about a core here) and the baseline measured a busy machine.
 * Until the third pass the ratios were taken that way, which flattered the receiver.
 */
export async function paired(
  ctx: BenchContext,
  baseline: Baseline,
  measure: (durationS: number) => Promise<LoadResult>,
  frozen: RunningChild[] = [],
): Promise<{ mine: LoadResult; theirs: LoadResult }> {
  const slices = Math.max(1, Math.round(ctx.durationS / SLICE_S));
  const sliceS = ctx.durationS / slices;
  const mine: LoadResult[] = [];
  const theirs: LoadResult[] = [];
  const signal = (sig: NodeJS.Signals) => {
    for (const child of frozen) {
      try {
        process.kill(child.pid, sig);
      } catch {
        // Already gone: its section reports the failure.
      }
    }
  };
  for (let i = 0; i < slices; i++) {
    signal('SIGSTOP');
    try {
      theirs.push(await baseline.measure(sliceS));
    } finally {
      signal('SIGCONT');
    }
    mine.push(await measure(sliceS));
  }
  return { mine: mergeResults(mine), theirs: mergeResults(theirs) };
}

export type StoreKind = 'sqlite' | 'postgres';

export interface StoreHandle {
  url: string;
  cleanup: () => Promise<void>;
}

export function newStore(ctx: BenchContext, kind: StoreKind, name: string): StoreHandle {
  if (kind === 'sqlite') return { url: `sqlite:${join(ctx.dir, `${name}.db`)}`, cleanup: async () => undefined };
  const schema = `bench_${name.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  return { url: postgresUrl(schema), cleanup: () => dropSchema(schema) };
}

interface OutboxState {
  pending: number;
  delivered: number;
  commits: number;
  committed: number;
}

/** Outbox rows by state, from the receiver's /metrics. */
async function outboxState(receiver: RunningChild, adminToken: string): Promise<OutboxState | null> {
  try {
    const res = await fetch(`${receiver.url}/metrics`, {
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    const read = (state: string) =>
      Number(new RegExp(`^docv_outbox_deliveries\\{state="${state}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    const metric = (name: string) => Number(new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(text)?.[1] ?? NaN);
    return {
      pending: read('pending') + read('failed'),
      delivered: read('delivered'),
      commits: metric('docv_commit_batch_size_count'),
      committed: metric('docv_commit_batch_size_sum'),
    };
  } catch {
    return null;
  }
}

/** A receiver as the sections measure it: the run's secrets and log level, forwarding every event to `sink`. */
export function startMeasuredReceiver(
  ctx: BenchContext,
  key: string,
  databaseUrl: string,
  sink: RunningChild,
  root?: string,
): Promise<RunningChild> {
  return startReceiverProcess({
    name: `receiver-${key}`,
    dir: ctx.dir,
    databaseUrl,
    webhookSecret: ctx.webhookSecret,
    adminToken: ctx.adminToken,
    forwardUrl: `${sink.url}${FORWARD_PATH}`,
    dispatch: true,
    logLevel: ctx.logLevel,
    profileDir: ctx.profileDir,
    root: root ?? ctx.root,
  });
}

/**
 * The receiver as deployed: shared-secret auth, full validation, no 2xx before the commit is on
 * disk (SQLite: fsync of the WAL), one forward destination so every event writes an outbox row,
 * and dispatch running beside ingest.
 */
export async function receiverSection(
  ctx: BenchContext,
  baseline: Baseline,
  options: { store: StoreKind; key: string; label: string; root?: string | undefined },
): Promise<Row> {
  ctx.log(`${options.key}: ${options.label}`);
  const store = newStore(ctx, options.store, options.key);
  let sink: RunningChild | undefined;
  let receiver: RunningChild | undefined;
  try {
    sink = await startBareServer(ctx.dir, `${options.key}-sink`);
    receiver = await startMeasuredReceiver(ctx, options.key, store.url, sink, options.root);
    const load = {
      url: receiver.url,
      path: WEBHOOK_PATH,
      headers: ingestHeaders(ctx),
      payloads: createPayloads(),
      connections: ctx.connections,
    };
    if (ctx.warmupS > 0) await closedLoop({ ...load, durationS: ctx.warmupS });
    receiver.rss.reset();
    const cpu = new CpuMeter(receiver.pid);
    // This process runs the load generator; PostgreSQL's processes do the other half of a PostgreSQL receiver's work.
    const loadGenerator = new CpuMeter(process.pid);
    const database = options.store === 'postgres' ? new PostgresServerMeter() : null;
    const meters = [cpu, loadGenerator, ...(database ? [database] : [])];
    const { mine: r, theirs: b } = await paired(
      ctx,
      baseline,
      (durationS) => measureCpu(meters, () => closedLoop({ ...load, durationS })),
      [receiver, sink],
    );
    const rssMb = receiver.rss.peak() / MB;
    const outbox = await outboxState(receiver, ctx.adminToken);
    const outboxNote = outbox
      ? `; outbox after: ${outbox.delivered.toLocaleString('en-US')} delivered, ${outbox.pending.toLocaleString('en-US')} waiting; ` +
        `${outbox.commits.toLocaleString('en-US')} commits of ${(outbox.committed / outbox.commits).toFixed(1)} writes on average`
      : '';
    const own = cpu.perRequest(r.requests);
    const generator = loadGenerator.perRequest(r.requests);
    const server = database?.perRequest(r.requests) ?? null;
    const databaseNote = server ? `; PostgreSQL server ${Math.round(server.process)} µs per request` : '';
    return {
      key: options.key,
      section: options.label,
      ...latencyColumns(r),
      ratio: r.rate / b.rate,
      rssMb,
      note:
        `${r.requests.toLocaleString('en-US')} requests; baseline in the same turns ${Math.round(b.rate).toLocaleString('en-US')}/s` +
        `${describeErrors(r)}${describeCpu(own)}${databaseNote}${describeLoadGenerator(generator)}${outboxNote}`,
      cpu:
        own && generator && (database === null || server)
          ? {
              receiverMain: own.mainThread,
              receiverAll: own.process,
              loadGenerator: generator.process,
              database: server?.process ?? null,
              baselineRate: b.rate,
            }
          : undefined,
    };
  } finally {
    await stopAll(receiver, sink);
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}

/**
 * A bare server of the bench's own (the durable floor, a budget server) under the closed loop, in
 * turns with the baseline like a receiver: its row, with its ratio and the CPU it spent.
 */
async function pairedServerRow(
  ctx: BenchContext,
  baseline: Baseline,
  server: RunningChild,
  row: { key: string; section: string; note?: string },
): Promise<Row> {
  const load = {
    url: server.url,
    path: WEBHOOK_PATH,
    headers: ingestHeaders(ctx),
    payloads: createPayloads(),
    connections: ctx.connections,
  };
  if (ctx.warmupS > 0) await closedLoop({ ...load, durationS: ctx.warmupS });
  server.rss.reset();
  const cpu = new CpuMeter(server.pid);
  const { mine: r, theirs: b } = await paired(
    ctx,
    baseline,
    (durationS) => cpu.during(() => closedLoop({ ...load, durationS })),
    [server],
  );
  return {
    key: row.key,
    section: row.section,
    ...latencyColumns(r),
    ratio: r.rate / b.rate,
    rssMb: server.rss.peak() / MB,
    note:
      `${r.requests.toLocaleString('en-US')} requests; baseline in the same turns ${Math.round(b.rate).toLocaleString('en-US')}/s` +
      `${describeErrors(r)}${describeCpu(cpu.perRequest(r.requests))}${row.note ? `; ${row.note}` : ''}`,
  };
}

export const FLOOR_LABEL = 'Durable floor: bare node:http server, fsync before each 200';

/**
 * The durable floor under the same closed loop, in turns with the baseline: what answering only
 * after an fsync costs by itself on this machine, with nothing else done. Puts the receiver's
 * ratio in proportion: its distance to this row is its own work.
 */
export async function floorSection(ctx: BenchContext, baseline: Baseline): Promise<Row> {
  ctx.log('floor: bare server + fsync before each 200');
  const floor = await startDurableFloor(ctx.dir, 'floor');
  try {
    return await pairedServerRow(ctx, baseline, floor, {
      key: 'floor',
      section: FLOOR_LABEL,
      note: 'appends each body to a file, one fsync per group of bodies, nothing else',
    });
  } finally {
    await floor.stop();
  }
}

/**
 * The price of a ratio: the bare server with a fixed amount of CPU work per request, each amount
 * in turns with the baseline like a receiver. On a machine whose cores the load generator shares,
 * a server slower than the generator also pays for waking it (and being woken) on every request,
 * so the ratio falls faster than the work alone would say; these rows measure it instead.
 */
export function budgetLabel(workUs: number): string {
  return `Budget: bare server + ${workUs} µs of CPU work per request`;
}

export async function budgetSection(ctx: BenchContext, baseline: Baseline, workUs: number[]): Promise<Row[]> {
  ctx.log(`budget: bare server + ${workUs.join(', ')} µs of work per request`);
  const rows: Row[] = [];
  for (const us of workUs) {
    const server = await startBusyServer(ctx.dir, `budget-${us}`, us);
    try {
      rows.push(await pairedServerRow(ctx, baseline, server, { key: `budget-${us}`, section: budgetLabel(us) }));
    } finally {
      await server.stop();
    }
  }
  return rows;
}

/**
 * Fixed arrival rates against the SQLite receiver: latency when it is not saturated. Each rate
 * gets a receiver of its own (a fresh database, warmed up at that rate), so none inherits the
 * outbox backlog of the rate before it; the durable floor takes the same rate just before it.
 */
export async function openLoopSection(ctx: BenchContext, rates: number[]): Promise<Row[]> {
  ctx.log(`open loop: ${rates.join(', ')} events/s`);
  const rows: Row[] = [];
  const floor = await startDurableFloor(ctx.dir, 'openloop-floor');
  try {
    const disk = await measureFsync(ctx.dir, ctx.smoke ? 20 : 1_000);
    rows.push({
      key: 'disk-fsync',
      section: 'Disk: fsync of a 16 KiB append, this run, same directory',
      rate: disk.perSecond,
      p50: disk.latency.p50,
      p99: disk.latency.p99,
      max: disk.latency.max,
      errors: 0,
      note: `${(ctx.smoke ? 20 : 1_000).toLocaleString('en-US')} fsyncs in a row (events/s column: fsyncs/s); every acknowledgement waits for at least one: the floor under the open-loop latencies`,
    });
    for (const rate of rates) {
      floor.rss.reset();
      const f = await openLoopAt(ctx, floor.url, rate, createPayloads());
      rows.push(
        openLoopRow(
          `floor-openloop-${rate}`,
          `Durable floor at ${rate.toLocaleString('en-US')} events/s`,
          f,
          floor.rss.peak() / MB,
        ),
      );
      rows.push(await openLoopReceiver(ctx, rate));
    }
    return rows;
  } finally {
    await floor.stop();
  }
}

export function openLoopAt(
  ctx: BenchContext,
  url: string,
  rate: number,
  payloads: PayloadGenerator,
  durationS = ctx.durationS,
): Promise<LoadResult> {
  return openLoop({
    url,
    path: WEBHOOK_PATH,
    headers: ingestHeaders(ctx),
    payloads,
    rate,
    durationS,
    maxInFlight: OPEN_LOOP_MAX_IN_FLIGHT,
  });
}

function openLoopRow(key: string, section: string, r: LoadResult, rssMb: number): Row {
  const notSent = r.statuses['not sent']
    ? ` (not sent: the server fell over ${OPEN_LOOP_MAX_IN_FLIGHT.toLocaleString('en-US')} requests behind)`
    : '';
  return {
    key,
    section,
    ...latencyColumns(r),
    rssMb,
    note: `${r.requests.toLocaleString('en-US')} requests, latency from the scheduled send time${describeErrors(r)}${notSent}`,
  };
}

/** One rate on a receiver of its own: a fresh database, warmed up at that rate. */
async function openLoopReceiver(ctx: BenchContext, rate: number): Promise<Row> {
  const store = newStore(ctx, 'sqlite', `openloop-${rate}`);
  let sink: RunningChild | undefined;
  let receiver: RunningChild | undefined;
  try {
    sink = await startBareServer(ctx.dir, `openloop-${rate}-sink`);
    receiver = await startMeasuredReceiver(ctx, `openloop-${rate}`, store.url, sink);
    const payloads = createPayloads();
    if (ctx.warmupS > 0) await openLoopAt(ctx, receiver.url, rate, payloads, ctx.warmupS);
    receiver.rss.reset();
    const r = await openLoopAt(ctx, receiver.url, rate, payloads);
    return openLoopRow(
      `openloop-${rate}`,
      `Open loop SQLite at ${rate.toLocaleString('en-US')} events/s`,
      r,
      receiver.rss.peak() / MB,
    );
  } finally {
    await stopAll(receiver, sink);
    await store.cleanup();
  }
}

interface SimulationSummaryLike {
  transactions: number;
  sent: number;
  failed: number;
  durationMs: number;
  events: number;
  responses: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  /** Absent from trees older than the fifth pass. */
  cpuMs?: number;
  timedOut: boolean;
}

/**
 * The sandbox's sender (`docv-webhooks simulate`) against a bare sink, beside the load generator's
 * own throughput against the same sink: whether the sandbox can push a receiver as hard as a
 * benchmark tool can.
 */
export async function senderSection(ctx: BenchContext): Promise<Row[]> {
  ctx.log('sender: autocannon and simulate against a bare sink');
  if (!existsSync(join(ctx.root, 'src/sandbox/simulate.ts'))) {
    const reason = 'no sandbox sender in this tree yet (src/sandbox/simulate.ts)';
    return [
      { key: 'sender-loadgen', section: 'Load generator (autocannon) → bare sink', skipped: reason },
      { key: 'sender', section: 'Sandbox sender (simulate) → bare sink', skipped: reason },
    ];
  }
  const sink = await startBareServer(ctx.dir, 'sender-sink');
  try {
    const load = {
      url: sink.url,
      path: WEBHOOK_PATH,
      headers: ingestHeaders(ctx),
      payloads: createPayloads(),
      connections: ctx.connections,
    };
    if (ctx.warmupS > 0) await closedLoop({ ...load, durationS: ctx.warmupS });
    // Half before the sender runs and half after, so both see the machine alike.
    const loadGenerator = new CpuMeter(process.pid);
    const before = await loadGenerator.during(() => closedLoop({ ...load, durationS: ctx.durationS / 2 }));
    const generatorRuns = [before];

    // About 2.7 requests per flow. Enough flows for the run to last about as long as the section
    // if the sender does half of what the load generator just did: a fixed 1,000 flows per second
    // of section made a 2-second run on this machine, too short to leave start-up and JIT behind.
    // --max-duration bounds it if the sender is much slower.
    const transactions = ctx.smoke
      ? 100
      : Math.max(300, Math.min(1_000_000, Math.round((before.rate * 0.5 * ctx.durationS) / 2.7)));
    const maxDurationS = Math.max(30, ctx.durationS * 6);
    const run = await runScript(
      RECEIVER_CLI,
      [
        'simulate',
        '--target',
        `${sink.url}${WEBHOOK_PATH}`,
        '--scenario',
        'mixed',
        '--transactions',
        String(transactions),
        '--concurrency',
        String(ctx.connections),
        '--json',
        '--max-duration',
        `${maxDurationS}s`,
      ],
      { timeoutMs: (maxDurationS + 60) * 1000, root: ctx.root },
    );
    let summary: SimulationSummaryLike;
    try {
      summary = JSON.parse(run.stdout) as SimulationSummaryLike;
    } catch {
      throw new Error(
        `simulate exited ${run.code} without a JSON summary:\n${run.stderr.slice(-2000)}${run.stdout.slice(-2000)}`,
      );
    }
    generatorRuns.push(await loadGenerator.during(() => closedLoop({ ...load, durationS: ctx.durationS / 2 })));
    const generator = mergeResults(generatorRuns);
    const loadgenRow: Row = {
      key: 'sender-loadgen',
      section: `Load generator (autocannon, ${ctx.connections} connections) → bare sink`,
      ...latencyColumns(generator),
      ratio: 1,
      note: `${generator.requests.toLocaleString('en-US')} requests, half before the sender ran and half after${describeErrors(generator)}${describeOwnCpu(loadGenerator.perRequest(generator.requests)?.process)}`,
    };
    const seconds = summary.durationMs / 1000;
    const rate = summary.sent / seconds;
    const non2xx = Object.entries(summary.responses)
      .filter(([s]) => !/^2\d\d$/.test(s))
      .reduce((a, [, n]) => a + n, 0);
    return [
      loadgenRow,
      {
        key: 'sender',
        section: `Sandbox sender (simulate --concurrency ${ctx.connections}) → bare sink`,
        rate,
        ratio: rate / generator.rate,
        p50: summary.latencyMs.p50,
        p99: summary.latencyMs.p99,
        max: summary.latencyMs.max,
        rssMb: run.peakRss / MB,
        errors: summary.failed + non2xx,
        note:
          `${summary.transactions.toLocaleString('en-US')} flows, ${summary.sent.toLocaleString('en-US')} requests in ${seconds.toFixed(1)} s (process start excluded)` +
          `${summary.timedOut ? ', hit --max-duration' : ''}${describeOwnCpu(summary.cpuMs === undefined || summary.sent === 0 ? undefined : (summary.cpuMs * 1000) / summary.sent)}`,
      },
    ];
  } finally {
    await stopAll(sink);
  }
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/**
 * Fills a store in-process to `events` events (bench/fill-store.ts: the store's own ingest, not
 * HTTP; one forward destination that nothing drains), then on PostgreSQL settles the schema
 * with VACUUM (ANALYZE), as after any bulk load. Answers what was filled and the schema.
 */
export async function fillStore(
  ctx: BenchContext,
  store: StoreHandle,
  kind: StoreKind,
  events: number,
  runId: string,
): Promise<{ filled: { events: number; seconds: number }; schema: string | null }> {
  const fill = await runScript(
    'bench/fill-store.ts',
    [store.url, String(events), runId, `forward:127.0.0.1${FORWARD_PATH}`],
    {
      timeoutMs: 120_000 + events * 2,
      root: ctx.root,
      onStderr: (text) => ctx.log(`  ${text.trim()}`),
    },
  );
  if (fill.code !== 0) throw new Error(`filling the ${kind} store failed (${fill.code}):\n${fill.stderr.slice(-2000)}`);
  const filled = JSON.parse(fill.stdout) as { events: number; seconds: number };
  ctx.log(`  filled ${filled.events} events in ${filled.seconds.toFixed(1)} s`);
  const schema = kind === 'postgres' ? new URL(store.url).searchParams.get('schema')! : null;
  if (schema) {
    const started = performance.now();
    await settleSchema(schema);
    ctx.log(`  VACUUM (ANALYZE) of the schema in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return { filled, schema };
}

/** A receiver that only reads a filled store: the run's secrets, no dispatch. */
export function startReaderReceiver(ctx: BenchContext, name: string, databaseUrl: string): Promise<RunningChild> {
  return startReceiverProcess({
    name: `receiver-${name}`,
    dir: ctx.dir,
    databaseUrl,
    webhookSecret: ctx.webhookSecret,
    adminToken: ctx.adminToken,
    dispatch: false,
    logLevel: ctx.logLevel,
    profileDir: ctx.profileDir,
    root: ctx.root,
  });
}

/**
 * A store with `events` events (filled through the store's own ingest, not over HTTP), then
 * random transaction lookups through the admin API of a running receiver, and the bytes per event.
 */
export async function scaleSection(ctx: BenchContext, options: { store: StoreKind; events: number }): Promise<Row> {
  const label = `Scale ${options.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: GET /v1/transactions/{id} after ${options.events.toLocaleString('en-US')} events`;
  ctx.log(`${label}: filling`);
  const name = `scale-${options.store}`;
  const store = newStore(ctx, options.store, name);
  const runId = randomBytes(4).toString('hex');
  let receiver: RunningChild | undefined;
  try {
    const { filled, schema } = await fillStore(ctx, store, options.store, options.events, runId);
    receiver = await startReaderReceiver(ctx, name, store.url);
    const transactions = Math.ceil(filled.events / 3) + 256;
    let seed = 0x9e3779b9;
    const random = () => {
      // xorshift: reproducible, and cheap next to an HTTP request
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const nextPath = () => {
      for (let i = 0; i < 100; i++) {
        const tx = Math.floor(random() * transactions);
        if (transactionStarted(tx, filled.events))
          return `/v1/transactions/${encodeURIComponent(transactionIdFor(runId, tx))}`;
      }
      return `/v1/transactions/${encodeURIComponent(transactionIdFor(runId, 0))}`;
    };
    const headers = { authorization: `Bearer ${ctx.adminToken}` };
    if (ctx.warmupS > 0)
      await getLoop({ url: receiver.url, headers, nextPath, connections: 4, durationS: ctx.warmupS });
    receiver.rss.reset();
    const r = await getLoop({ url: receiver.url, headers, nextPath, connections: 4, durationS: ctx.durationS });
    const rssMb = receiver.rss.peak() / MB;
    await receiver.stop();
    receiver = undefined;
    let bytes: number;
    let where: string;
    if (options.store === 'sqlite') {
      const path = store.url.slice('sqlite:'.length);
      bytes = fileSize(path) + fileSize(`${path}-wal`) + fileSize(`${path}-shm`);
      where = 'file + WAL after checkpoint on close';
    } else {
      bytes = await schemaSize(schema!);
      where = 'pg_total_relation_size of all tables';
    }
    return {
      key: name,
      section: label,
      ...latencyColumns(r),
      rssMb,
      note:
        `lookups/s at 4 connections; ${Math.round(bytes / filled.events).toLocaleString('en-US')} B/event on disk (${(bytes / MB).toFixed(1)} MB, ${where}, ` +
        `one outbox row per event); filled at ${Math.round(filled.events / filled.seconds).toLocaleString('en-US')} events/s in-process` +
        `${schema ? ', then VACUUM (ANALYZE) as after any bulk load' : ''}${describeErrors(r)}`,
    };
  } finally {
    await stopAll(receiver);
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}
