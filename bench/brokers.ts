import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import { CpuMeter, describeCpu, measureCpu } from './cpu.js';
import { eventsStored } from './delivery.js';
import { closedLoop } from './load.js';
import { createPayloads } from './payloads.js';
import type { Row } from './report.js';
import { startForwardSink, startReceiverProcess, type RunningChild } from './servers.js';
import {
  describeErrors,
  FORWARD_PATH,
  ingestHeaders,
  latencyColumns,
  MB,
  newStore,
  paired,
  stopAll,
  WEBHOOK_PATH,
  type Baseline,
  type BenchContext,
} from './sections.js';

/*
 * Issue 21: events per second delivered to each kind of destination, in the same run: the HTTP
 * forward (the bench's own sink) and the three brokers running on this machine (RabbitMQ, NATS
 * JetStream, Redis Streams). Each turn is the receiver section's closed loop (SQLite, in turns
 * with the bare baseline), one destination; "delivered" is the destination's own count (the
 * sink's distinct events, the queue's message count, the stream's messages, XLEN), read before and
 * after each turn, so a message counts only once the broker holds it. Then how long after the
 * load the destination has every accepted event.
 */

export const BROKER_TARGETS = ['http', 'rabbitmq', 'nats', 'redis'] as const;
export type BrokerTarget = (typeof BROKER_TARGETS)[number];

const LABELS: Record<BrokerTarget, string> = {
  http: 'HTTP forward',
  rabbitmq: 'RabbitMQ (publisher confirms)',
  nats: 'NATS JetStream (PubAck)',
  redis: 'Redis Streams (XADD)',
};

export function brokerRow(target: BrokerTarget): Pick<Row, 'key' | 'section'> {
  return { key: `broker-${target}`, section: `Delivered to ${LABELS[target]}, SQLite, closed loop` };
}

/** Where a section's destination is and how many events it holds now. */
interface Target {
  url: string;
  count(): Promise<number>;
  children: RunningChild[];
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function httpTarget(ctx: BenchContext, key: string): Promise<Target> {
  const sink = await startForwardSink(ctx.dir, `${key}-sink`);
  return {
    url: `${sink.url}${FORWARD_PATH}`,
    children: [sink],
    async count() {
      const res = await fetch(`${sink.url}/count`, { signal: AbortSignal.timeout(10_000) });
      return ((await res.json()) as { events: number }).events;
    },
    cleanup: () => stopAll(sink),
  };
}

async function rabbitmqTarget(name: string): Promise<Target> {
  const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const channel = await connection.createChannel();
  await channel.assertExchange(name, 'topic', { durable: true });
  await channel.assertQueue(name, { durable: true });
  await channel.bindQueue(name, name, '#');
  return {
    url: `amqp://guest:guest@127.0.0.1:5672/?exchange=${name}&routingKey=docv.{eventType}.{decision}`,
    children: [],
    count: async () => (await channel.checkQueue(name)).messageCount,
    async cleanup() {
      await channel.deleteQueue(name);
      await channel.deleteExchange(name);
      await connection.close();
    },
  };
}

async function natsTarget(name: string): Promise<Target> {
  const nc = await natsConnect({ servers: '127.0.0.1:4222' });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  return {
    url: `nats://127.0.0.1:4222?subject=${name}.{source}.{eventType}`,
    children: [],
    count: async () => (await jsm.streams.info(name)).state.messages,
    async cleanup() {
      await jsm.streams.delete(name);
      await nc.close();
    },
  };
}

async function redisTarget(name: string): Promise<Target> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  return {
    url: `redis://127.0.0.1:6379?stream=${name}&maxlen=0`,
    children: [],
    count: () => redis.xlen(name),
    async cleanup() {
      await redis.del(name);
      redis.disconnect();
    },
  };
}

function targetFor(ctx: BenchContext, target: BrokerTarget, key: string): Promise<Target> {
  const name = `docv_bench_${randomBytes(4).toString('hex')}`;
  if (target === 'http') return httpTarget(ctx, key);
  if (target === 'rabbitmq') return rabbitmqTarget(name);
  if (target === 'nats') return natsTarget(name);
  return redisTarget(name);
}

/** Seconds after the load until the destination holds every stored event (null: not within `waitS`). */
async function drain(
  ctx: BenchContext,
  receiver: RunningChild,
  t: Target,
  waitS: number,
): Promise<{ drainedS: number | null; waiting: number; stored: number }> {
  const start = Date.now();
  for (let i = 0; i < 100_000; i++) {
    const stored = await eventsStored(receiver, ctx.adminToken);
    const held = await t.count();
    if (held >= stored) return { drainedS: (Date.now() - start) / 1000, waiting: 0, stored };
    if (Date.now() - start > waitS * 1000) return { drainedS: null, waiting: stored - held, stored };
    await sleep(50);
  }
  throw new Error('drain: polled too often');
}

/** One destination: the closed loop in turns with the baseline, delivered counted by the destination. */
export async function brokerSection(ctx: BenchContext, baseline: Baseline, target: BrokerTarget): Promise<Row> {
  const row = brokerRow(target);
  ctx.log(`${row.key}: closed loop, every event delivered to ${LABELS[target]}`);
  const store = newStore(ctx, 'sqlite', row.key);
  let t: Target | undefined;
  let receiver: RunningChild | undefined;
  try {
    t = await targetFor(ctx, target, row.key);
    receiver = await startReceiverProcess({
      name: `receiver-${row.key}`,
      dir: ctx.dir,
      databaseUrl: store.url,
      webhookSecret: ctx.webhookSecret,
      adminToken: ctx.adminToken,
      forwardUrl: t.url,
      dispatch: true,
      logLevel: ctx.logLevel,
      profileDir: ctx.profileDir,
      root: ctx.root,
    });
    const load = {
      url: receiver.url,
      path: WEBHOOK_PATH,
      headers: ingestHeaders(ctx),
      payloads: createPayloads(),
      connections: ctx.connections,
    };
    if (ctx.warmupS > 0) {
      await closedLoop({ ...load, durationS: ctx.warmupS });
      await drain(ctx, receiver, t, 60);
    }
    receiver.rss.reset();
    const cpu = new CpuMeter(receiver.pid);
    let delivered = 0;
    let accepted = 0;
    const { mine: r, theirs: b } = await paired(
      ctx,
      baseline,
      async (durationS) => {
        const heldBefore = await t!.count();
        const storedBefore = await eventsStored(receiver!, ctx.adminToken);
        const result = await measureCpu([cpu], () => closedLoop({ ...load, durationS }));
        delivered += (await t!.count()) - heldBefore;
        accepted += (await eventsStored(receiver!, ctx.adminToken)) - storedBefore;
        return result;
      },
      [receiver, ...t.children],
    );
    const after = await drain(ctx, receiver, t, 60);
    const rate = delivered / r.durationS;
    const own = cpu.perRequest(r.requests);
    return {
      ...row,
      ...latencyColumns(r),
      rate,
      ratio: rate / b.rate,
      rssMb: receiver.rss.peak() / MB,
      note:
        `${delivered.toLocaleString('en-US')} events held by the destination after the receiver's turns, of ${accepted.toLocaleString('en-US')} accepted in them ` +
        `(acknowledged ${Math.round(r.rate).toLocaleString('en-US')}/s; baseline in the same turns ${Math.round(b.rate).toLocaleString('en-US')}/s)` +
        `${describeErrors(r)}${describeCpu(own)}; after the load: ` +
        (after.drainedS === null
          ? `${after.waiting.toLocaleString('en-US')} of ${after.stored.toLocaleString('en-US')} not delivered within 60 s`
          : `all ${after.stored.toLocaleString('en-US')} delivered ${after.drainedS.toFixed(2)} s after`) +
        '; latency columns: the acknowledgements',
      figures: { drainS: after.drainedS, waiting: after.waiting },
    };
  } finally {
    await stopAll(receiver);
    await t?.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
    await store.cleanup().catch((err: unknown) => ctx.log(`cleanup failed: ${(err as Error).message}`));
  }
}
