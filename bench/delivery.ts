import { CpuMeter, describeCpu, measureCpu, PostgresServerMeter } from './cpu.js';
import { closedLoop, type LoadResult } from './load.js';
import { createPayloads, type PayloadGenerator } from './payloads.js';
import type { Row } from './report.js';
import { startForwardSink, type RunningChild } from './servers.js';
import {
  describeErrors,
  describeLoadGenerator,
  ingestHeaders,
  latencyColumns,
  MB,
  newStore,
  openLoopAt,
  paired,
  startMeasuredReceiver,
  stopAll,
  WEBHOOK_PATH,
  type Baseline,
  type BenchContext,
  type StoreKind,
} from './sections.js';
import type { LatencySummary } from './stats.js';

/**
 * Events acknowledged *and delivered* (issue 18): a receiver forwarding every event to a sink of
 * the bench's own (bench/forward-sink.ts), which notes when each event first arrives. Measured
 * only from outside the store: the load generator's answers, the receiver's /metrics (new events
 * committed) and the sink's count, so the same sections measure any store design.
 */

/** How long the sections wait, after a load, for the destination to have every accepted event. */
export const DRAIN_WAIT_S = 60;
/** The open-loop goals of issue 18. */
export const ACK_P99_GOAL_MS = 10;
export const LAG_P99_GOAL_MS = 100;
export const DRAIN_GOAL_S = 2;
/** Each rate of the steady-rate search runs this long (a smoke run: half a second). */
const SEARCH_TURN_S = 3;
/** The search stops starting turns after this long, whatever the rates left. */
const SEARCH_BUDGET_S = 120;

export const DEFAULT_SEARCH_RATES = [500, 1000, 1500, 2000, 3000, 4000, 6000];

/** Epoch milliseconds with the fraction, as the sink notes arrivals. */
const epochNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function storeName(kind: StoreKind): string {
  return kind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

interface SinkCount {
  /** Distinct events received (a retry of one already seen is not another). */
  events: number;
  requests: number;
  /** Bodies without an event id or a receipt time. */
  unreadable: number;
  /** When the last new event arrived, epoch ms. */
  lastArrivalMs: number;
}

interface SinkLags extends LatencySummary {
  count: number;
}

function sinkCount(sink: RunningChild): Promise<SinkCount> {
  return getJson<SinkCount>(`${sink.url}/count`);
}

/** Delivery lags (ms) of the events the receiver received in [fromMs, toMs]. */
function sinkLags(sink: RunningChild, fromMs: number, toMs: number): Promise<SinkLags> {
  return getJson<SinkLags>(`${sink.url}/lags?from=${Math.floor(fromMs)}&to=${Math.ceil(toMs)}`);
}

/** New events the receiver has committed since it started (its /metrics): what the destination must receive. */
export async function eventsStored(receiver: RunningChild, adminToken: string): Promise<number> {
  const res = await fetch(`${receiver.url}/metrics`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let total = 0;
  let found = false;
  for (const m of text.matchAll(/^docv_events_stored_total\{[^}]*\} (\d+)/gm)) {
    total += Number(m[1]);
    found = true;
  }
  if (!found) throw new Error(`no docv_events_stored_total in ${receiver.name}'s /metrics (HTTP ${res.status})`);
  return total;
}

interface Drain {
  /** Seconds from the load's end until the destination had every accepted event; null: not within the wait. */
  drainedS: number | null;
  /** Accepted events the destination had not received when the wait ended. */
  waiting: number;
  stored: number;
  waitS: number;
}

/**
 * Waits (at most `waitS` from the load's end) until the sink has every event the receiver
 * committed. The drain time is the arrival of the last one, so polling does not round it.
 */
async function waitForDrain(
  ctx: BenchContext,
  receiver: RunningChild,
  sink: RunningChild,
  loadEndMs: number,
  waitS: number,
): Promise<Drain> {
  const deadline = loadEndMs + waitS * 1000;
  let stored = await eventsStored(receiver, ctx.adminToken);
  // The deadline ends the loop; the count bounds it as well.
  for (let i = 0; i < 100_000; i++) {
    const count = await sinkCount(sink);
    if (count.events >= stored) {
      // A request still in flight when the load ended may have been committed since.
      const again = await eventsStored(receiver, ctx.adminToken);
      if (again <= count.events)
        return { drainedS: Math.max(0, count.lastArrivalMs - loadEndMs) / 1000, waiting: 0, stored: again, waitS };
      stored = again;
      continue;
    }
    if (epochNow() >= deadline) return { drainedS: null, waiting: stored - count.events, stored, waitS };
    await sleep(50);
  }
  throw new Error('waitForDrain: polled too often');
}

function describeDrain(d: Drain): string {
  return d.drainedS === null
    ? `not drained in ${d.waitS} s: ${d.waiting.toLocaleString('en-US')} waiting`
    : `drained ${d.drainedS.toFixed(2)} s after the load`;
}

/** A warm-up's backlog, waited out so a measure starts with none; says so if it stayed. */
async function settleWarmup(ctx: BenchContext, receiver: RunningChild, sink: RunningChild): Promise<string> {
  const d = await waitForDrain(ctx, receiver, sink, epochNow(), DRAIN_WAIT_S);
  return d.drainedS === null
    ? `; the warm-up's backlog was not drained in ${DRAIN_WAIT_S} s (${d.waiting.toLocaleString('en-US')} waiting when the measure began)`
    : '';
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '–';
}

/** A row's key and heading: what a section that fails or is skipped still reports. */
type RowName = Pick<Row, 'key' | 'section'>;

export function closedDeliveryRows(kind: StoreKind): [RowName, RowName] {
  return [
    { key: `delivery-closed-${kind}`, section: `Closed loop ${storeName(kind)}, one destination: events acknowledged` },
    {
      key: `delivery-forwarded-${kind}`,
      section: `Closed loop ${storeName(kind)}, one destination: events forwarded (the destination's count)`,
    },
  ];
}

/**
 * The receiver section's closed loop, in turns with the baseline, counting what reaches the
 * destination in the receiver's turns beside what is acknowledged; then how long after the load
 * the destination has every accepted event. The warm-up's backlog is waited out first, so the
 * drain is the measured load's alone, and so is the CPU of ingest and forwarding together.
 */
export async function closedDeliverySection(ctx: BenchContext, baseline: Baseline, kind: StoreKind): Promise<Row[]> {
  const [ackedRow, forwardedRow] = closedDeliveryRows(kind);
  ctx.log(`${ackedRow.key}: closed loop with one destination, acknowledged and forwarded`);
  const store = newStore(ctx, kind, ackedRow.key);
  let sink: RunningChild | undefined;
  let receiver: RunningChild | undefined;
  try {
    sink = await startForwardSink(ctx.dir, `${ackedRow.key}-sink`);
    receiver = await startMeasuredReceiver(ctx, ackedRow.key, store.url, sink);
    const load = {
      url: receiver.url,
      path: WEBHOOK_PATH,
      headers: ingestHeaders(ctx),
      payloads: createPayloads(),
      connections: ctx.connections,
    };
    let warmupNote = '';
    if (ctx.warmupS > 0) {
      await closedLoop({ ...load, durationS: ctx.warmupS });
      warmupNote = await settleWarmup(ctx, receiver, sink);
    }
    receiver.rss.reset();
    const cpu = new CpuMeter(receiver.pid);
    const loadGenerator = new CpuMeter(process.pid);
    const database = kind === 'postgres' ? new PostgresServerMeter() : null;
    const meters = [cpu, loadGenerator, ...(database ? [database] : [])];
    let forwarded = 0;
    let accepted = 0;
    const { mine: r, theirs: b } = await paired(
      ctx,
      baseline,
      async (durationS) => {
        const sinkBefore = await sinkCount(sink!);
        const storedBefore = await eventsStored(receiver!, ctx.adminToken);
        const result = await measureCpu(meters, () => closedLoop({ ...load, durationS }));
        forwarded += (await sinkCount(sink!)).events - sinkBefore.events;
        accepted += (await eventsStored(receiver!, ctx.adminToken)) - storedBefore;
        return result;
      },
      [receiver, sink],
    );
    const loadEnd = epochNow();
    // The forwarding the turns left undone is part of what their events cost.
    const drainCpu = new CpuMeter(receiver.pid);
    const drainDatabase = database ? new PostgresServerMeter() : null;
    const drain = await measureCpu([drainCpu, ...(drainDatabase ? [drainDatabase] : [])], () =>
      waitForDrain(ctx, receiver!, sink!, loadEnd, DRAIN_WAIT_S),
    );
    const rssMb = receiver.rss.peak() / MB;
    const own = cpu.perRequest(r.requests);
    const generator = loadGenerator.perRequest(r.requests);
    const server = database?.perRequest(r.requests) ?? null;
    const drainOwn = drainCpu.perRequest(r.requests);
    const drainServer = drainDatabase?.perRequest(r.requests) ?? null;
    const allIn =
      own && drainOwn && (database === null || (server && drainServer))
        ? own.process + drainOwn.process + (server?.process ?? 0) + (drainServer?.process ?? 0)
        : null;
    const forwardedRate = forwarded / r.durationS;
    const sinkState = await sinkCount(sink);
    return [
      {
        ...ackedRow,
        ...latencyColumns(r),
        ratio: r.rate / b.rate,
        rssMb,
        note:
          `${r.requests.toLocaleString('en-US')} requests, ${accepted.toLocaleString('en-US')} of them new events; baseline in the same turns ${Math.round(b.rate).toLocaleString('en-US')}/s` +
          `${describeErrors(r)}${describeCpu(own)}${server ? `; PostgreSQL server ${Math.round(server.process)} µs per request` : ''}${describeLoadGenerator(generator)}` +
          `${allIn === null ? '' : `; receiver${database ? ' + PostgreSQL' : ''}, all threads, the drain after the load included: ${Math.round(allIn)} µs per request`}${warmupNote}`,
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
        figures: { cpuPerEventUs: allIn },
      },
      {
        ...forwardedRow,
        rate: forwardedRate,
        ratio: forwardedRate / b.rate,
        rssMb,
        errors: sinkState.unreadable,
        note:
          `${forwarded.toLocaleString('en-US')} events reached the destination in the receiver's turns, ${percent(forwarded, accepted)} of the ${accepted.toLocaleString('en-US')} new events acknowledged in them; ` +
          `after the load: ${describeDrain(drain)} (${drain.stored.toLocaleString('en-US')} events in all)` +
          `${sinkState.unreadable ? `; ${sinkState.unreadable} forward bodies without eventId/receivedAt` : ''}; latency columns: see the open loop's delivery lag`,
        figures: { drainS: drain.drainedS, waiting: drain.waiting },
      },
    ];
  } finally {
    await stopAll(receiver, sink);
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}

interface DeliveryTurn {
  rate: number;
  load: LoadResult;
  lag: SinkLags;
  drain: Drain;
  /** New events the receiver committed during the load. */
  windowEvents: number;
  /** Of those, the ones the destination had not received when the wait ended. */
  undelivered: number;
  /** The lag p99 as the goal reads it: null when over 1% of the events never arrived (the p99 is one of them). */
  lagP99ForGoal: number | null;
}

/** One stretch of open-loop load at `rate`, then the wait for the destination to have it all. */
async function deliveryTurn(
  ctx: BenchContext,
  receiver: RunningChild,
  sink: RunningChild,
  rate: number,
  payloads: PayloadGenerator,
  durationS: number,
  waitS: number,
): Promise<DeliveryTurn> {
  const storedBefore = await eventsStored(receiver, ctx.adminToken);
  const from = epochNow();
  const load = await openLoopAt(ctx, receiver.url, rate, payloads, durationS);
  const loadEnd = epochNow();
  const drain = await waitForDrain(ctx, receiver, sink, loadEnd, waitS);
  const lag = await sinkLags(sink, from, loadEnd);
  const windowEvents = drain.stored - storedBefore;
  const undelivered = Math.max(0, windowEvents - lag.count);
  return {
    rate,
    load,
    lag,
    drain,
    windowEvents,
    undelivered,
    lagP99ForGoal: undelivered > windowEvents * 0.01 ? null : lag.p99,
  };
}

function meetsDeliveryGoals(t: DeliveryTurn): boolean {
  return (
    t.load.errors === 0 &&
    !t.load.statuses['not sent'] &&
    t.load.latency.p99 <= ACK_P99_GOAL_MS &&
    t.lagP99ForGoal !== null &&
    t.lagP99ForGoal <= LAG_P99_GOAL_MS &&
    t.drain.drainedS !== null &&
    t.drain.drainedS <= DRAIN_GOAL_S
  );
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

export function openDeliveryRows(kind: StoreKind, rate: number): [RowName, RowName] {
  const at = `Open loop ${storeName(kind)} at ${rate.toLocaleString('en-US')} events/s, one destination`;
  return [
    { key: `delivery-open-${kind}-${rate}`, section: `${at}: acknowledgement (from the scheduled send)` },
    { key: `delivery-lag-${kind}-${rate}`, section: `${at}: delivery lag (receipt → destination)` },
  ];
}

/**
 * A fixed arrival rate on a receiver of its own (fresh database, warmed up at that rate): the ack
 * latency from each request's scheduled send, the delivery lag of the same events (the receiver's
 * receipt, from the forward body, to their first arrival at the destination), and how long after
 * the load the destination has them all.
 */
export async function openDeliverySection(ctx: BenchContext, kind: StoreKind, rate: number): Promise<Row[]> {
  const [ackRow, lagRow] = openDeliveryRows(kind, rate);
  ctx.log(`${ackRow.key}: open loop at ${rate} events/s with one destination`);
  const store = newStore(ctx, kind, ackRow.key);
  let sink: RunningChild | undefined;
  let receiver: RunningChild | undefined;
  try {
    sink = await startForwardSink(ctx.dir, `${ackRow.key}-sink`);
    receiver = await startMeasuredReceiver(ctx, ackRow.key, store.url, sink);
    const payloads = createPayloads();
    let warmupNote = '';
    if (ctx.warmupS > 0) {
      await openLoopAt(ctx, receiver.url, rate, payloads, ctx.warmupS);
      warmupNote = await settleWarmup(ctx, receiver, sink);
    }
    receiver.rss.reset();
    const t = await deliveryTurn(ctx, receiver, sink, rate, payloads, ctx.durationS, DRAIN_WAIT_S);
    const rssMb = receiver.rss.peak() / MB;
    const notSent = t.load.statuses['not sent'] ? ` (not sent: the receiver fell too far behind)` : '';
    return [
      {
        ...ackRow,
        ...latencyColumns(t.load),
        rssMb,
        note: `${t.load.requests.toLocaleString('en-US')} requests, latency from the scheduled send time${describeErrors(t.load)}${notSent}${warmupNote}`,
      },
      {
        ...lagRow,
        rate: t.lag.count / t.load.durationS,
        p50: t.lag.p50,
        p99: t.lag.p99,
        max: t.lag.max,
        rssMb,
        errors: t.undelivered,
        note:
          `${t.lag.count.toLocaleString('en-US')} of the ${t.windowEvents.toLocaleString('en-US')} new events of the load reached the destination` +
          `${t.undelivered ? ' (the lag columns cover those only; errors: the others)' : ''}; after the load: ${describeDrain(t.drain)}`,
        figures: { drainS: t.drain.drainedS, waiting: t.drain.waiting, lagP99ForGoal: t.lagP99ForGoal },
      },
    ];
  } finally {
    await stopAll(receiver, sink);
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}

export function steadyRateRow(kind: StoreKind): RowName {
  return {
    key: `delivery-steady-${kind}`,
    section: `Highest steady rate meeting the open-loop delivery goals, ${storeName(kind)}`,
  };
}

/**
 * The highest rate of `rates` (ascending) at which one receiver meets the open-loop goals (ack p99,
 * delivery lag p99, drained within DRAIN_GOAL_S): short turns one after another on the same
 * receiver, each starting with no backlog (the one before drained, or the search stopped), up to
 * the first miss or the time budget.
 */
export async function steadyRateSection(ctx: BenchContext, kind: StoreKind, rates: number[]): Promise<Row> {
  const row = steadyRateRow(kind);
  ctx.log(`${row.key}: ${rates.join(', ')} events/s until the first miss`);
  const turnS = ctx.smoke ? 0.5 : SEARCH_TURN_S;
  const store = newStore(ctx, kind, row.key);
  let sink: RunningChild | undefined;
  let receiver: RunningChild | undefined;
  try {
    sink = await startForwardSink(ctx.dir, `${row.key}-sink`);
    receiver = await startMeasuredReceiver(ctx, row.key, store.url, sink);
    const payloads = createPayloads();
    let warmupNote = '';
    if (ctx.warmupS > 0 && rates.length > 0) {
      await openLoopAt(ctx, receiver.url, rates[0]!, payloads, ctx.warmupS);
      warmupNote = await settleWarmup(ctx, receiver, sink);
    }
    receiver.rss.reset();
    const started = performance.now();
    const turns: Array<{ turn: DeliveryTurn; pass: boolean }> = [];
    let stoppedEarly = '';
    for (const rate of rates) {
      if (performance.now() - started > SEARCH_BUDGET_S * 1000) {
        stoppedEarly = `; stopped after ${SEARCH_BUDGET_S} s`;
        break;
      }
      const turn = await deliveryTurn(ctx, receiver, sink, rate, payloads, turnS, DRAIN_GOAL_S);
      const pass = meetsDeliveryGoals(turn);
      turns.push({ turn, pass });
      if (!pass) break;
    }
    const best = turns.filter((t) => t.pass).at(-1)?.turn;
    const described = turns.map(({ turn: t, pass }) => {
      const lag =
        t.lagP99ForGoal === null ? `${t.undelivered} of ${t.windowEvents} undelivered` : `lag p99 ${ms(t.lag.p99)} ms`;
      const drained =
        t.drain.drainedS === null ? `not drained in ${DRAIN_GOAL_S} s` : `drained in ${t.drain.drainedS.toFixed(2)} s`;
      const errors = t.load.errors + (t.load.statuses['not sent'] ?? 0);
      return `${t.rate.toLocaleString('en-US')}/s: ack p99 ${ms(t.load.latency.p99)} ms, ${lag}, ${drained}${errors ? `, ${errors} errors` : ''} ${pass ? 'met' : 'MISS'}`;
    });
    return {
      ...row,
      rate: best?.rate ?? 0,
      ...(best ? { p50: best.load.latency.p50, p99: best.load.latency.p99, max: best.load.latency.max } : {}),
      rssMb: receiver.rss.peak() / MB,
      errors: best ? best.load.errors : 0,
      note:
        `events/s: the highest rate met (latency columns: its acknowledgements); ${turnS} s turns on one receiver: ${described.join('; ')}` +
        `${stoppedEarly}${turns.length === rates.length && turns.every((t) => t.pass) ? '; every rate tried was met' : ''}${warmupNote}`,
      figures: { highestRate: best?.rate ?? 0 },
    };
  } finally {
    await stopAll(receiver, sink);
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}
