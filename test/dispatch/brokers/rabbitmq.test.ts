import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStandardWebhookVerifier } from '../../../src/auth/standard-webhooks.js';
import { storedForwardUrl } from '../../../src/dispatch/destinations/destination-url.js';
import { forwardBody } from '../../../src/dispatch/destinations/forward.js';
import { rabbitmqTransport } from '../../../src/dispatch/destinations/brokers/rabbitmq.js';
import type { Destination } from '../../../src/dispatch/types.js';
import type { ClaimedDelivery } from '../../../src/store/index.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../../helpers/receiver.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The RabbitMQ destination (issue 21) against the RabbitMQ running on 127.0.0.1:5672 (guest/guest,
 * in CI too): what is published is consumed with amqplib and compared; through a real receiver,
 * every accepted event arrives in each transaction's order, replay publishes again; with RabbitMQ
 * cut off (a TCP proxy in between) deliveries wait and retry and ingest keeps answering.
 */
const RABBIT = 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `${process.pid}-${Date.now().toString(36)}`;
const SECRET_KEY = Buffer.from('rabbitmq-test-key-0123456789abcd');
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;
const FAST_RETRY = { schedule: [50, 100, 200], maxAttempts: 1_000, jitter: 0 };

let admin: ChannelModel;
let channel: Channel;
const exchanges: string[] = [];
const queues: string[] = [];
const destinations: Destination[] = [];

beforeAll(async () => {
  admin = await connect(RABBIT);
  admin.on('error', () => undefined);
  channel = await admin.createChannel();
});

afterAll(async () => {
  for (const d of destinations) await d.close?.();
  for (const q of queues) await channel?.deleteQueue(q);
  for (const x of exchanges) await channel?.deleteExchange(x);
  await admin?.close();
});

interface Consumed {
  exchange: string;
  messages: ConsumeMessage[];
}

/** A topic exchange of this run, and a queue bound to it whose messages are collected. */
async function exchangeWithQueue(name: string, binding = '#'): Promise<Consumed> {
  const exchange = `docv-test-${name}-${RUN}`;
  await channel.assertExchange(exchange, 'topic', { durable: false });
  exchanges.push(exchange);
  const { queue } = await channel.assertQueue('', { exclusive: true, durable: false });
  queues.push(queue);
  await channel.bindQueue(queue, exchange, binding);
  const messages: ConsumeMessage[] = [];
  await channel.consume(queue, (m) => void (m && messages.push(m)), { noAck: true });
  return { exchange, messages };
}

function destination(url: string, options: { signingSecrets?: string[]; timeoutMs?: number } = {}): Destination {
  const d = rabbitmqTransport.create({
    url,
    name: rabbitmqTransport.nameOf(new URL(url)),
    signingSecrets: options.signingSecrets,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
  destinations.push(d);
  return d;
}

let serial = 0;
function claimed(
  overrides: { eventType?: string; decision?: 'accept' | 'reject'; docvTransactionId?: string | null } = {},
): ClaimedDelivery {
  serial++;
  const eventType = overrides.eventType ?? 'VERIFICATION_COMPLETED';
  const docvTransactionId = overrides.docvTransactionId === undefined ? `tx-${serial}` : overrides.docvTransactionId;
  const decision = overrides.decision ?? 'accept';
  const now = new Date().toISOString();
  return {
    deliveryId: `dlv-${RUN}-${serial}`,
    eventId: `evt-${RUN}-${serial}`,
    docvTransactionId,
    source: 'default',
    eventType,
    destination: 'rabbitmq:test',
    state: 'pending',
    attempts: 0,
    nextAttemptAt: null,
    lastStatus: null,
    lastError: null,
    createdAt: now,
    updatedAt: now,
    deliveredAt: null,
    receivedAt: now,
    fetchedDecision: null,
    event: {
      dialect: 'asyncapi',
      eventType,
      docvTransactionId,
      eventTime: '2026-03-01T10:00:00Z',
      eventTimeSource: 'event',
      customerUserId: 'user-1',
      decision,
      test: false,
      payload: { eventType, docvTransactionId, decision, eventTime: '2026-03-01T10:00:00Z' },
    },
  };
}

const never = () => new AbortController().signal;

/** Header values as amqplib hands them over (a long string may come back as a Buffer). */
function headersOf(m: ConsumeMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(m.properties.headers ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Verifies the Standard Webhooks signature independently of the code under test. */
function signatureValid(headers: Record<string, string>, body: string): boolean {
  const expected = createHmac('sha256', SECRET_KEY)
    .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`)
    .digest();
  return (headers['webhook-signature'] ?? '').split(' ').some((s) => {
    const sig = Buffer.from(s.replace(/^v1,/, ''), 'base64');
    return sig.length === expected.length && timingSafeEqual(sig, expected);
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('RabbitMQ destination alone', () => {
  it('publishes the forward body with every header, persistent, signed, routed by the default template', async () => {
    const { exchange, messages } = await exchangeWithQueue('alone');
    const d = destination(`${RABBIT}/?exchange=${exchange}`, { signingSecrets: [SECRET] });
    const delivery = claimed();
    expect(await d.deliver(delivery, never())).toEqual({ outcome: 'delivered' });
    await waitFor(() => messages.length === 1, 'the message in the queue', 5_000);
    const m = messages[0]!;
    const body = m.content.toString('utf8');
    expect(body).toBe(forwardBody(delivery));
    expect(JSON.parse(body)).toMatchObject({ eventId: delivery.eventId, eventType: 'VERIFICATION_COMPLETED' });
    expect(m.fields).toMatchObject({ exchange, routingKey: 'docv.VERIFICATION_COMPLETED.accept' });
    expect(m.properties).toMatchObject({
      contentType: 'application/json',
      deliveryMode: 2,
      messageId: delivery.deliveryId,
      type: 'VERIFICATION_COMPLETED',
      appId: 'docv-webhooks',
    });
    const headers = headersOf(m);
    expect(headers).toEqual({
      'content-type': 'application/json',
      'webhook-id': delivery.deliveryId,
      'docv-event-id': delivery.eventId,
      'docv-event-type': 'VERIFICATION_COMPLETED',
      'docv-source': 'default',
      'docv-transaction-id': delivery.docvTransactionId,
      'webhook-timestamp': expect.stringMatching(/^\d{10}$/),
      'webhook-signature': expect.stringMatching(/^v1,/),
    });
    expect(signatureValid(headers, body)).toBe(true);
    expect(createStandardWebhookVerifier({ secrets: [SECRET] }).verify(headers, Buffer.from(body)).webhookId).toBe(
      delivery.deliveryId,
    );
  });

  it('renders exchange and routing key templates, one routing-key word per value, unsigned without a secret', async () => {
    const { exchange, messages } = await exchangeWithQueue('tpl-default');
    // The exchange name is the template rendered for source "default".
    const template = exchange.replace('-default-', '-{source}-');
    const d = destination(
      `${RABBIT}/%2F?exchange=${encodeURIComponent(template)}&routingKey=${encodeURIComponent('{dialect}.{eventType}.{docvTransactionId}.{decision}')}`,
    );
    const delivery = claimed({ eventType: 'APP_OPENED', docvTransactionId: 'tx.a*b#c d' });
    delete delivery.event.decision;
    expect(await d.deliver(delivery, never())).toEqual({ outcome: 'delivered' });
    expect(await d.deliver(claimed({ docvTransactionId: null }), never())).toEqual({ outcome: 'delivered' });
    await waitFor(() => messages.length === 2, 'both messages', 5_000);
    expect(messages.map((m) => m.fields.routingKey)).toEqual([
      'asyncapi.APP_OPENED.tx_a_b_c_d.none',
      'asyncapi.VERIFICATION_COMPLETED.none.accept',
    ]);
    const headers = headersOf(messages[1]!);
    expect(headers['webhook-signature']).toBeUndefined();
    expect(headers['docv-transaction-id']).toBeUndefined();
  });

  it('a message no queue takes fails, saying so; the channel goes on publishing', async () => {
    const { exchange, messages } = await exchangeWithQueue('unroutable', 'docv.*.accept');
    const d = destination(`${RABBIT}/?exchange=${exchange}`);
    const outcome = await d.deliver(claimed({ decision: 'reject' }), never());
    expect(outcome).toEqual({
      outcome: 'failed',
      error: expect.stringContaining(
        `no queue bound to exchange "${exchange}" for routing key "docv.VERIFICATION_COMPLETED.reject"`,
      ),
    });
    expect(await d.deliver(claimed({ decision: 'accept' }), never())).toEqual({ outcome: 'delivered' });
    await waitFor(() => messages.length === 1, 'the routable message', 5_000);
    expect(messages[0]!.fields.routingKey).toBe('docv.VERIFICATION_COMPLETED.accept');
  });

  it('an exchange that does not exist fails the attempt; once it exists the next attempt publishes on a new channel', async () => {
    const missing = `docv-test-missing-${RUN}`;
    const d = destination(`${RABBIT}/?exchange=${missing}`);
    const outcome = await d.deliver(claimed(), never());
    expect(outcome).toMatchObject({ outcome: 'failed' });
    expect((outcome as { error: string }).error).toMatch(
      new RegExp(`^exchange "${missing}" does not exist on RabbitMQ at 127\\.0\\.0\\.1:5672/%2F .*404`),
    );
    const { messages } = await exchangeWithQueue('missing');
    expect(await d.deliver(claimed(), never())).toEqual({ outcome: 'delivered' });
    await waitFor(() => messages.length === 1, 'the message once the exchange exists', 5_000);
  });

  it('fails at once when RabbitMQ is not there or refuses the login, never quoting the password', async () => {
    const port = await closedPort();
    const down = destination(`amqp://guest:guest@127.0.0.1:${port}/?exchange=x`);
    const started = Date.now();
    const refused = await down.deliver(claimed(), never());
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused).toEqual({
      outcome: 'failed',
      error: `cannot connect to RabbitMQ at 127.0.0.1:${port}/%2F: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    // Each attempt tries again: no reconnect loop of the client's own, no buffered message.
    expect(await down.deliver(claimed(), never())).toMatchObject({ outcome: 'failed' });

    const login = destination(`amqp://guest:n0t-The-Pa55word@127.0.0.1:5672/?exchange=x`);
    const denied = (await login.deliver(claimed(), never())) as { outcome: string; error: string };
    expect(denied.outcome).toBe('failed');
    expect(denied.error).toContain('ACCESS_REFUSED');
    expect(denied.error).not.toContain('n0t-The-Pa55word');

    const vhost = destination(`${RABBIT}/no-such-vhost-${RUN}?exchange=x`);
    expect(await vhost.deliver(claimed(), never())).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining(`cannot connect to RabbitMQ at 127.0.0.1:5672/no-such-vhost-${RUN}`),
    });
  });

  it('an attempt is bounded by its timeout and by the abort signal', async () => {
    // A server that takes the TCP connection and never speaks AMQP.
    const silent: Socket[] = [];
    const server: Server = createServer((s) => void silent.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const d = destination(`amqp://127.0.0.1:${port}/?exchange=x`, { timeoutMs: 300 });
      const started = Date.now();
      expect(await d.deliver(claimed(), never())).toEqual({
        outcome: 'failed',
        error: `timed out after 300 ms connecting (RabbitMQ at 127.0.0.1:${port}/%2F)`,
      });
      expect(Date.now() - started).toBeLessThan(1_500);

      const stopping = new AbortController();
      setTimeout(() => stopping.abort(new Error('the dispatcher is stopping')), 50);
      expect(await destination(`amqp://127.0.0.1:${port}/?exchange=x`).deliver(claimed(), stopping.signal)).toEqual({
        outcome: 'failed',
        error: 'aborted connecting: the dispatcher is stopping',
      });
    } finally {
      for (const s of silent) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a connection that stops answering is dropped when an attempt times out; the next attempt connects anew', async () => {
    const { exchange, messages } = await exchangeWithQueue('stall');
    const proxy = await startTcpProxy(5672);
    try {
      const d = destination(`amqp://guest:guest@127.0.0.1:${proxy.port}/?exchange=${exchange}`, { timeoutMs: 500 });
      expect(await d.deliver(claimed(), never())).toEqual({ outcome: 'delivered' });
      expect(proxy.connections).toBe(1);
      proxy.stall();
      expect(await d.deliver(claimed(), never())).toEqual({
        outcome: 'failed',
        error: `timed out after 500 ms waiting for the confirm (RabbitMQ at 127.0.0.1:${proxy.port}/%2F)`,
      });
      await proxy.restore();
      expect(await d.deliver(claimed(), never())).toEqual({ outcome: 'delivered' });
      expect(proxy.connections).toBe(2);
      // The stalled message reaches RabbitMQ once the proxy passes what it held: at least once.
      await waitFor(() => messages.length === 3, 'the three messages', 5_000);
    } finally {
      await proxy.close();
    }
  });

  it('close() closes the connection; a closed destination publishes nothing', async () => {
    const { exchange } = await exchangeWithQueue('close');
    const proxy = await startTcpProxy(5672);
    try {
      const d = destination(`amqp://guest:guest@127.0.0.1:${proxy.port}/?exchange=${exchange}`);
      expect(await d.deliver(claimed(), never())).toEqual({ outcome: 'delivered' });
      await d.close!();
      await waitFor(() => proxy.open === 0, 'the connection closed', 5_000);
      expect(await d.deliver(claimed(), never())).toEqual({ outcome: 'failed', error: 'the destination is closed' });
      expect(proxy.connections).toBe(1);
      await destination(`${RABBIT}/?exchange=${exchange}`).close!(); // never connected: nothing to close
    } finally {
      await proxy.close();
    }
  });

  it('2,000 deliveries, 32 at a time on one channel: each confirmed, each arriving once', async () => {
    const { exchange, messages } = await exchangeWithQueue('load');
    const d = destination(`${RABBIT}/?exchange=${exchange}`, { signingSecrets: [SECRET] });
    const deliveries = Array.from({ length: 2_000 }, () => claimed());
    const outcomes: string[] = [];
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < deliveries.length) {
          const delivery = deliveries[next++]!;
          outcomes.push((await d.deliver(delivery, never())).outcome);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.info(`[rabbitmq] 2000 confirmed publishes in ${seconds.toFixed(2)} s: ${Math.round(2000 / seconds)}/s`);
    expect(outcomes.filter((o) => o === 'delivered')).toHaveLength(2_000);
    await waitFor(() => messages.length >= 2_000, 'every message consumed', 15_000);
    expect(new Set(messages.map((m) => m.properties.messageId)).size).toBe(2_000);
  });
});

/** POSTs the events of `transactions` transactions (APP_OPENED, DOCUMENTS_UPLOADED, VERIFICATION_COMPLETED each), interleaved. */
async function postTransactions(
  r: TestReceiver,
  transactions: number,
  onAnswer: (ms: number, status: number) => void = () => undefined,
): Promise<Map<string, string[]>> {
  const order = new Map<string, string[]>();
  const ids = Array.from({ length: transactions }, () => String(docvEvent().docvTransactionId));
  const steps = [
    { eventType: 'APP_OPENED' },
    { eventType: 'DOCUMENTS_UPLOADED' },
    { eventType: 'VERIFICATION_COMPLETED', decision: 'accept' },
  ];
  for (const [i, step] of steps.entries()) {
    for (const tx of ids) {
      const started = Date.now();
      const res = await r.deliver(docvEvent({ ...step, docvTransactionId: tx, eventTime: `2026-03-01T10:0${i}:00Z` }));
      onAnswer(Date.now() - started, res.status);
      expect(res.status).toBe(200);
      order.set(tx, [...(order.get(tx) ?? []), String(res.json.eventId)]);
    }
  }
  return order;
}

/** Each transaction's events, by first arrival (a redelivery after a lost confirm may repeat one). */
function arrivalOrder(messages: ConsumeMessage[]): Map<string, string[]> {
  const order = new Map<string, string[]>();
  for (const m of messages) {
    const h = headersOf(m);
    const tx = h['docv-transaction-id']!;
    const seen = order.get(tx) ?? [];
    if (!seen.includes(h['docv-event-id']!)) seen.push(h['docv-event-id']!);
    order.set(tx, seen);
  }
  return order;
}

describe('RabbitMQ destination through a receiver', () => {
  let r: TestReceiver | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await r?.destroy();
    await proxy?.close();
    r = undefined;
    proxy = undefined;
  });

  it('publishes every accepted event in each transaction order; replay publishes them again', async () => {
    const { exchange, messages } = await exchangeWithQueue('receiver');
    r = await startTestReceiver({
      dispatch: {
        forwardUrls: [`${RABBIT}/?exchange=${exchange}`],
        forwardSigningSecrets: [SECRET],
        retry: FAST_RETRY,
        pollMs: 50,
      },
    });
    const posted = await postTransactions(r, 5);
    await waitFor(() => messages.length >= 15, 'the 15 events published', 15_000);
    expect(arrivalOrder(messages)).toEqual(posted);
    for (const m of messages) expect(signatureValid(headersOf(m), m.content.toString())).toBe(true);
    expect(messages.filter((m) => m.fields.routingKey === 'docv.VERIFICATION_COMPLETED.accept')).toHaveLength(5);

    const name = `rabbitmq:127.0.0.1:5672/%2F/${exchange}/docv.{eventType}.{decision}`;
    const delivered = await waitFor(async () => {
      const d = await r!.admin(`/v1/deliveries?state=delivered&destination=${encodeURIComponent(name)}&limit=100`);
      return d.json.items.length === 15 ? d.json.items : null;
    }, 'every delivery recorded delivered');
    expect(delivered.every((d: { attempts: number }) => d.attempts === 1)).toBe(true);

    const [tx, events] = [...posted][0]!;
    const firstIds = messages
      .filter((m) => headersOf(m)['docv-transaction-id'] === tx)
      .map((m) => headersOf(m)['webhook-id']);
    const replay = await r.admin('/v1/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ docvTransactionId: tx }),
    });
    expect(replay).toMatchObject({ status: 202, json: { requeued: 3 } });
    await waitFor(() => messages.length >= 18, 'the replayed events', 10_000);
    const again = messages.slice(15);
    expect(again.map((m) => headersOf(m)['docv-event-id'])).toEqual(events);
    expect(again.map((m) => headersOf(m)['webhook-id'])).toEqual(firstIds);
  });

  it('RabbitMQ out of reach: deliveries wait and retry, ingest answers 200 meanwhile, everything arrives once it is back', async () => {
    const { exchange, messages } = await exchangeWithQueue('outage');
    proxy = await startTcpProxy(5672);
    r = await startTestReceiver({
      dispatch: {
        forwardUrls: [`amqp://guest:guest@127.0.0.1:${proxy.port}/?exchange=${exchange}`],
        forwardTimeoutMs: 1_000,
        retry: FAST_RETRY,
        pollMs: 50,
      },
    });
    const before = await postTransactions(r, 3);
    await waitFor(() => messages.length >= 9, 'the events before the outage', 10_000);

    await proxy.cut();
    const answers: number[] = [];
    const during = await postTransactions(r, 4, (ms) => answers.push(ms));
    // Ingest does not wait for RabbitMQ.
    expect(Math.max(...answers)).toBeLessThan(1_000);
    const failing = await waitFor(async () => {
      const d = await r!.admin('/v1/deliveries?state=failed&limit=100');
      const retried = d.json.items.filter((x: { attempts: number }) => x.attempts >= 3);
      return retried.length > 0 ? retried : null;
    }, 'deliveries retried while RabbitMQ is away');
    expect(failing[0].lastError).toMatch(/RabbitMQ at 127\.0\.0\.1:\d+\/%2F|connection to RabbitMQ/);
    expect(failing[0].lastError).not.toContain('guest');
    const countDuringOutage = messages.length;
    expect(countDuringOutage).toBe(9);

    await proxy.restore();
    await waitFor(
      () => arrivalOrder(messages).size === 7 && messages.length >= 21,
      'every event after the outage',
      15_000,
    );
    const arrived = arrivalOrder(messages);
    expect(arrived).toEqual(new Map([...before, ...during]));
    await waitFor(async () => {
      const d = await r!.admin('/v1/deliveries?state=delivered&limit=100');
      return d.json.items.length === 21;
    }, 'all 21 deliveries delivered');
    expect((await r.admin('/v1/deliveries?state=dead')).json.items).toHaveLength(0);
  });
});

describe('RabbitMQ destination URLs', () => {
  const problem = (url: string) => {
    try {
      storedForwardUrl(url);
    } catch (err) {
      expect(err).toBeInstanceOf(TypeError);
      return (err as Error).message;
    }
    throw new Error(`${url} was accepted`);
  };

  it('names the destination by host, port, vhost, exchange and routing key, never the credentials', () => {
    expect(storedForwardUrl('amqp://user:s3cret@mq.example:5672/?exchange=docv')).toEqual({
      name: 'rabbitmq:mq.example:5672/%2F/docv/docv.{eventType}.{decision}',
      url: 'amqp://mq.example:5672/?exchange=docv',
      urlCredentials: true,
      transport: 'rabbitmq',
    });
    expect(storedForwardUrl('amqps://mq.example/prod?exchange=docv.{source}&routingKey={eventType}').name).toBe(
      'rabbitmq:mq.example:5671/prod/docv.{source}/{eventType}',
    );
    expect(rabbitmqTransport.nameOf(new URL('amqp://h/%2F?exchange=x&routingKey='))).toBe('rabbitmq:h:5672/%2F/x/');
    expect(rabbitmqTransport.nameOf(new URL('amqp://[::1]:5673/a%2Fb?exchange=x'))).toBe(
      'rabbitmq:[::1]:5673/a%2Fb/x/docv.{eventType}.{decision}',
    );
  });

  it('refuses what could never work, saying what', () => {
    expect(problem('amqp://user:s3cret@mq.example/')).toBe(
      'RabbitMQ URL amqp://mq.example:5672/ needs ?exchange=<name or template>: the exchange messages are published to',
    );
    expect(problem('amqp://mq.example/?exchange=')).toContain('needs ?exchange=');
    const unknown = problem('amqp://user:s3cret@mq.example/?exchange=x&routing_key=a&durable=true');
    expect(unknown).toBe(
      'RabbitMQ URL amqp://mq.example:5672/: unknown options "routing_key", "durable" (it takes exchange and routingKey)',
    );
    expect(problem('amqp://mq.example/?exchange=x&exchange=y')).toContain('gives exchange twice');
    expect(problem('amqp://mq.example/?exchange=docv&routingKey=docv.{eventtype}')).toBe(
      'routing key "docv.{eventtype}" names {eventtype}: use {eventType}, {decision}, {source}, {docvTransactionId}, {dialect}',
    );
    expect(problem('amqp://mq.example/?exchange=docv-{transaction}')).toContain(
      'exchange "docv-{transaction}" names {transaction}',
    );
    expect(problem('amqp://mq.example/a/b?exchange=x')).toContain(
      'the vhost is one path segment (write a / inside it as %2F)',
    );
    expect(problem('amqp://mq.example/?exchange=x&routingKey=docv.#')).toContain('#fragment');
    expect(problem('amqp://mq.example/?exchange=x&routingKey=docv.#.accept')).toContain('%23');
    expect(problem(`amqp://mq.example/?exchange=${'x'.repeat(256)}`)).toContain("longer than AMQP's 255 bytes");
    expect(problem('amqp:///?exchange=x')).toContain('names no host');
    for (const url of ['amqp://user:s3cret@mq.example/', 'amqp://user:s3cret@mq.example/?exchange=x&nope=1'])
      expect(problem(url)).not.toContain('s3cret');
  });
});
