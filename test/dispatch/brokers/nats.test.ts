import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { MsgHdrs, Subscription } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStandardWebhookVerifier } from '../../../src/auth/standard-webhooks.js';
import { brokerMessage } from '../../../src/dispatch/destinations/brokers/message.js';
import { natsTransport } from '../../../src/dispatch/destinations/brokers/nats.js';
import { forwardBody } from '../../../src/dispatch/destinations/forward.js';
import { createBrokerDestination, storedForwardUrl, type Destination } from '../../../src/dispatch/index.js';
import type { CanonicalEvent } from '../../../src/contract/index.js';
import type { ClaimedDelivery } from '../../../src/store/index.js';
import { uniqueId } from '../../helpers/canonical-events.js';
import {
  freePort,
  NATS_ADDRESS,
  natsTestClient,
  startThrowawayNats,
  uniqueNatsName,
  type NatsTestClient,
  type ThrowawayNats,
} from '../../helpers/nats-server.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../../helpers/receiver.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * NATS JetStream destinations (issue 21) against a real server: the one every machine runs on
 * 4222 for what needs no outage, a throwaway nats-server the test starts itself for the stop and
 * restart mid-run. Each test publishes to its own stream and subjects (names unique to this run)
 * and deletes the streams at the end.
 */

const SECRET = `whsec_${Buffer.from('nats-broker-test-key-0123456789a').toString('base64')}`;
const FAST_RETRY = { schedule: [50, 100, 200], maxAttempts: 1_000, jitter: 0 };
const SUBJECT_TEMPLATE = '{eventType}.{decision}';

interface Consumed {
  subject: string;
  seq: number;
  headers: Record<string, string>;
  body: string;
}

let client: NatsTestClient;
const streams: Array<{ client: NatsTestClient; name: string }> = [];

/** A stream of this run capturing `<prefix>.>`, deleted at the end. */
async function testStream(on: NatsTestClient = client): Promise<{ name: string; prefix: string }> {
  const name = uniqueNatsName('DOCV_TEST');
  const prefix = name.toLowerCase();
  await on.jsm.streams.add({ name, subjects: [`${prefix}.>`] });
  streams.push({ client: on, name });
  return { name, prefix };
}

/** Everything the stream holds, read by an ordered consumer of its own. */
async function readStream(stream: string, on: NatsTestClient = client): Promise<Consumed[]> {
  const { state } = await on.jsm.streams.info(stream);
  const out: Consumed[] = [];
  if (state.messages === 0) return out;
  const consumer = await on.js.consumers.get(stream);
  const batch = await consumer.fetch({ max_messages: state.messages, expires: 5_000 });
  for await (const m of batch) {
    out.push({ subject: m.subject, seq: m.seq, headers: headerObject(m.headers), body: m.string() });
    if (out.length >= state.messages) break;
  }
  return out;
}

function headerObject(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of h?.keys() ?? []) out[key] = h!.get(key);
  return out;
}

async function streamCount(stream: string, on: NatsTestClient = client): Promise<number> {
  return (await on.jsm.streams.info(stream)).state.messages;
}

/** A delivery as the dispatcher claims it: a VERIFICATION_COMPLETED with an accept decision fetched. */
function claimed(overrides: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  const docvTransactionId = uniqueId('tx');
  const event: CanonicalEvent = {
    dialect: 'asyncapi',
    eventType: 'VERIFICATION_COMPLETED',
    docvTransactionId,
    eventTime: '2026-03-01T10:00:00Z',
    eventTimeSource: 'event',
    customerUserId: 'user-1',
    test: false,
    payload: { eventType: 'VERIFICATION_COMPLETED', docvTransactionId, customerUserId: 'user-1' },
  };
  return {
    deliveryId: uniqueId('dlv'),
    eventId: uniqueId('evt'),
    docvTransactionId,
    source: 'default',
    eventType: 'VERIFICATION_COMPLETED',
    destination: 'nats:test',
    state: 'pending',
    attempts: 0,
    nextAttemptAt: null,
    lastStatus: null,
    lastError: null,
    createdAt: '2026-03-01T10:00:01.000Z',
    updatedAt: '2026-03-01T10:00:01.000Z',
    deliveredAt: null,
    receivedAt: '2026-03-01T10:00:01.000Z',
    fetchedDecision: {
      decision: 'accept',
      reasonCodes: ['I831'],
      fetchedAt: '2026-03-01T10:00:02.000Z',
      details: null,
    },
    event,
    ...overrides,
  };
}

function natsDestination(url: string, extra: { signingSecrets?: string[]; timeoutMs?: number } = {}): Destination {
  return natsTransport.create({
    url,
    name: natsTransport.nameOf(new URL(url)),
    signingSecrets: extra.signingSecrets,
    timeoutMs: extra.timeoutMs ?? 5_000,
  });
}

const never = new AbortController().signal;

beforeAll(async () => {
  client = await natsTestClient();
});

afterAll(async () => {
  const failures: string[] = [];
  // A throwaway server's streams went with its data directory (its client is closed by then).
  for (const { client: on, name } of streams.filter((s) => !s.client.nc.isClosed()))
    await on.jsm.streams.delete(name).catch((err: Error) => failures.push(`${name}: ${err.message}`));
  await client?.nc.close();
  if (failures.length) throw new Error(`test streams left behind: ${failures.join('; ')}`);
});

describe('NATS JetStream destination, alone', () => {
  const open: Destination[] = [];
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close?.();
  });

  it('publishes the forward body with every header, signed, to the rendered subject, delivered on the PubAck', async () => {
    const { name: stream, prefix } = await testStream();
    const destination = natsDestination(
      `nats://${NATS_ADDRESS}?subject=${prefix}.docv.${SUBJECT_TEMPLATE}&stream=${stream}`,
      {
        signingSecrets: [SECRET],
      },
    );
    open.push(destination);
    expect(destination.name).toBe(`nats:${NATS_ADDRESS}/${prefix}.docv.{eventType}.{decision}`);
    const delivery = claimed();
    expect(await destination.deliver(delivery, never)).toEqual({ outcome: 'delivered' });

    const [message, ...more] = await readStream(stream);
    expect(more).toEqual([]);
    expect(message!.subject).toBe(`${prefix}.docv.VERIFICATION_COMPLETED.accept`);
    expect(message!.body).toBe(forwardBody(delivery));
    expect(JSON.parse(message!.body)).toMatchObject({ eventId: delivery.eventId, decision: { value: 'accept' } });
    const expected = brokerMessage(delivery, [SECRET]).headers;
    expect(Object.keys(expected).sort()).toEqual([
      'content-type',
      'docv-event-id',
      'docv-event-type',
      'docv-source',
      'docv-transaction-id',
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
    ]);
    expect(message!.headers).toEqual({
      'content-type': 'application/json',
      'webhook-id': delivery.deliveryId,
      'docv-event-id': delivery.eventId,
      'docv-event-type': 'VERIFICATION_COMPLETED',
      'docv-transaction-id': delivery.docvTransactionId,
      'docv-source': 'default',
      'webhook-timestamp': expect.stringMatching(/^\d+$/),
      'webhook-signature': expect.stringMatching(/^v1,/),
      // JetStream's deduplication key: the delivery id.
      'Nats-Msg-Id': delivery.deliveryId,
      // stream= makes JetStream check the stream that captures it.
      'Nats-Expected-Stream': stream,
    });
    // What a consumer with the signing secret checks (Standard Webhooks, over the body as published).
    const verified = createStandardWebhookVerifier({ secrets: [SECRET] }).verify(
      message!.headers,
      Buffer.from(message!.body),
    );
    expect(verified.webhookId).toBe(delivery.deliveryId);
  });

  it('a second publish of the same delivery (a lost PubAck, a retry) is delivered and stored once', async () => {
    const { name: stream, prefix } = await testStream();
    const destination = natsDestination(`nats://${NATS_ADDRESS}?subject=${prefix}.{source}.{docvTransactionId}`);
    open.push(destination);
    const delivery = claimed({ source: 'eu.main', docvTransactionId: 'tx 1*>' });
    expect(await destination.deliver(delivery, never)).toEqual({ outcome: 'delivered' });
    expect(await destination.deliver(delivery, never)).toEqual({
      outcome: 'delivered',
      note: `already in stream ${stream}`,
    });
    const consumed = await readStream(stream);
    // Each field is one token: its dots, wildcards and spaces become _.
    expect(consumed.map((m) => m.subject)).toEqual([`${prefix}.eu_main.tx_1__`]);
    // Unsigned without a secret.
    expect(consumed[0]!.headers['webhook-signature']).toBeUndefined();
  });

  it('no stream for the subject, or another stream than stream= names: failed saying so, and the connection stays usable', async () => {
    const { name: stream, prefix } = await testStream();
    const nowhere = natsDestination(`nats://${NATS_ADDRESS}?subject=${prefix}-nowhere.{eventType}`, {
      timeoutMs: 3_000,
    });
    const other = natsDestination(`nats://${NATS_ADDRESS}?subject=${prefix}.x&stream=${stream}_OTHER`);
    open.push(nowhere, other);
    const started = Date.now();
    const missing = await nowhere.deliver(claimed(), never);
    expect(missing).toEqual({
      outcome: 'failed',
      error: expect.stringContaining(`no JetStream stream captures subject "${prefix}-nowhere.VERIFICATION_COMPLETED"`),
    });
    // The server answers at once (no responders): no waiting out the timeout.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await other.deliver(claimed(), never)).toEqual({
      outcome: 'failed',
      error: expect.stringContaining('is not the one stream= names (expected stream does not match)'),
    });
    expect(await streamCount(stream)).toBe(0);
    // Kept: the same destination publishes once a stream captures the subject.
    const late = await testStream();
    await client.jsm.streams.update(late.name, { subjects: [`${late.prefix}.>`, `${prefix}-nowhere.>`] });
    expect(await nowhere.deliver(claimed(), never)).toEqual({ outcome: 'delivered' });
    expect(await streamCount(late.name)).toBe(1);
  });

  it('a message NATS cannot carry: too large fails (the server may be given a larger max_payload), a header with a line break is dead', async () => {
    const { name: stream, prefix } = await testStream();
    const destination = natsDestination(`nats://${NATS_ADDRESS}?subject=${prefix}.{source}`);
    open.push(destination);
    const big = claimed();
    big.event = { ...big.event, payload: { blob: 'x'.repeat(2 * 1024 * 1024) } };
    expect(await destination.deliver(big, never)).toEqual({
      outcome: 'failed',
      error: `nats ${NATS_ADDRESS}: publishing to subject "${prefix}.default" failed: the message is larger than the server takes (max_payload)`,
    });
    expect(await destination.deliver(claimed({ source: 'eu\r\nInjected: 1' }), never)).toEqual({
      outcome: 'dead',
      error: expect.stringContaining('a message header NATS cannot carry'),
    });
    // Neither is the connection's fault: it is kept and the next message goes through.
    expect(await destination.deliver(claimed(), never)).toEqual({ outcome: 'delivered' });
    expect(await streamCount(stream)).toBe(1);
  });

  it('a server that is not there fails the attempt at once; one that never answers, within the timeout; neither leaks a credential', async () => {
    const closedPort = await freePort();
    const refused = natsDestination(`nats://docv:s3cret-pass@127.0.0.1:${closedPort}?subject=a.b`);
    open.push(refused);
    let started = Date.now();
    const outcome = await refused.deliver(claimed(), never);
    expect(outcome).toEqual({
      outcome: 'failed',
      error: `nats 127.0.0.1:${closedPort}: connecting failed: CONNECTION_REFUSED`,
    });
    expect(Date.now() - started).toBeLessThan(1_000);

    // Accepts the TCP connection and says nothing: the handshake never ends.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const hanging = natsDestination(`nats://tok3n-secret@127.0.0.1:${port}?subject=a.b`, { timeoutMs: 300 });
      open.push(hanging);
      started = Date.now();
      const timedOut = await hanging.deliver(claimed(), never);
      expect(timedOut).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/connecting failed: .*time/i) });
      expect(Date.now() - started).toBeLessThan(1_500);
      // The dispatcher stopping aborts the attempt at once.
      const stop = new AbortController();
      setTimeout(() => stop.abort(new Error('dispatcher stopping')), 50);
      started = Date.now();
      const stopping = natsDestination(`nats://127.0.0.1:${port}?subject=a.b`, { timeoutMs: 10_000 });
      open.push(stopping);
      const aborted = await stopping.deliver(claimed(), stop.signal);
      expect(aborted).toEqual({
        outcome: 'failed',
        error: `nats 127.0.0.1:${port}: connecting failed: dispatcher stopping`,
      });
      expect(Date.now() - started).toBeLessThan(1_000);
      for (const o of [outcome, timedOut, aborted]) expect(JSON.stringify(o)).not.toMatch(/s3cret|tok3n/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a connection lost with a publish in flight fails that attempt at once, and the next one connects again', async () => {
    // Speaks NATS up to the first publish, then hangs up without a PubAck (the server died).
    let connections = 0;
    const sockets: Socket[] = [];
    const dying: Server = createServer((s) => {
      connections++;
      sockets.push(s);
      s.write(
        `INFO ${JSON.stringify({ server_id: 'fake', version: '2.10.0', proto: 1, headers: true, max_payload: 1_048_576 })}\r\n`,
      );
      s.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        if (/^PING\r\n/m.test(text)) s.write('PONG\r\n');
        if (/^HPUB /m.test(text)) s.destroy();
      });
    });
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    try {
      const port = (dying.address() as AddressInfo).port;
      const destination = natsDestination(`nats://127.0.0.1:${port}?subject=a.b`, { timeoutMs: 5_000 });
      open.push(destination);
      for (const attempt of [1, 2]) {
        const started = Date.now();
        expect(await destination.deliver(claimed(), never)).toEqual({
          outcome: 'failed',
          error: expect.stringMatching(
            new RegExp(`^nats 127\\.0\\.0\\.1:${port}: publishing to subject "a\\.b" failed: connection lost`),
          ),
        });
        // Not the client's wait for a PubAck that can no longer come (5 s here).
        expect(Date.now() - started).toBeLessThan(1_000);
        expect(connections).toBe(attempt);
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => dying.close(resolve));
    }
  });

  it('createBrokerDestination builds it from a nats URL (as the dispatch wiring does)', async () => {
    const { name: stream, prefix } = await testStream();
    const url = `nats://${NATS_ADDRESS}?subject=${prefix}.wired`;
    const stored = storedForwardUrl(url);
    expect(stored).toMatchObject({
      transport: 'nats',
      name: `nats:${NATS_ADDRESS}/${prefix}.wired`,
      urlCredentials: false,
    });
    const destination = createBrokerDestination('nats', { url, name: stored.name, timeoutMs: 5_000 });
    open.push(destination);
    expect(await destination.deliver(claimed(), never)).toEqual({ outcome: 'delivered' });
    expect(await streamCount(stream)).toBe(1);
  });
});

describe('NATS JetStream destination, through a receiver', () => {
  let r: TestReceiver | undefined;
  let sub: Subscription | undefined;
  afterEach(async () => {
    sub?.unsubscribe();
    sub = undefined;
    await r?.destroy();
    r = undefined;
  });

  it('every accepted event arrives, each transaction in order; replay publishes again with the same webhook-id', async () => {
    const { name: stream, prefix } = await testStream();
    const url = `nats://${NATS_ADDRESS}?subject=${prefix}.docv.${SUBJECT_TEMPLATE}&stream=${stream}`;
    // A plain NATS subscriber sees every publish, also those JetStream answers as duplicates.
    const published: string[] = [];
    sub = client.nc.subscribe(`${prefix}.>`, {
      callback: (_err, m) => published.push(m.headers?.get('webhook-id') ?? ''),
    });
    r = await startTestReceiver({
      dispatch: { forwardUrls: [url], forwardSigningSecrets: [SECRET], retry: FAST_RETRY },
    });
    const steps: Array<[string, Record<string, unknown>]> = [
      ['APP_OPENED', {}],
      ['DOCUMENTS_UPLOADED', {}],
      ['VERIFICATION_COMPLETED', { decision: 'accept' }],
    ];
    const transactions = Array.from({ length: 6 }, () => uniqueId('tx'));
    const accepted = new Map<string, string[]>();
    // Transactions side by side, each one's events one after the other, as Socure sends them.
    await Promise.all(
      transactions.map(async (tx) => {
        const ids: string[] = [];
        for (const [eventType, extra] of steps) {
          const res = await r!.deliver(docvEvent({ eventType, docvTransactionId: tx, ...extra }));
          expect(res.status).toBe(200);
          ids.push(res.json.eventId as string);
        }
        accepted.set(tx, ids);
      }),
    );
    const total = transactions.length * steps.length;
    await waitFor(async () => (await streamCount(stream)) >= total, `${total} messages in the stream`, 15_000);
    const consumed = await readStream(stream);
    expect(consumed).toHaveLength(total);
    for (const tx of transactions) {
      const mine = consumed.filter((m) => m.headers['docv-transaction-id'] === tx);
      expect(mine.map((m) => m.headers['docv-event-id'])).toEqual(accepted.get(tx));
      expect(mine.map((m) => m.subject)).toEqual([
        `${prefix}.docv.APP_OPENED.none`,
        `${prefix}.docv.DOCUMENTS_UPLOADED.none`,
        `${prefix}.docv.VERIFICATION_COMPLETED.accept`,
      ]);
      for (const m of mine)
        expect(JSON.parse(m.body)).toMatchObject({ eventId: m.headers['docv-event-id'], docvTransactionId: tx });
    }
    const verifier = createStandardWebhookVerifier({ secrets: [SECRET] });
    for (const m of consumed)
      expect(verifier.verify(m.headers, Buffer.from(m.body)).webhookId).toBe(m.headers['webhook-id']);

    const delivered = await r.admin(`/v1/deliveries?state=delivered&limit=100`);
    expect(delivered.json.items).toHaveLength(total);
    for (const d of delivered.json.items)
      expect(d).toMatchObject({
        destination: `nats:${NATS_ADDRESS}/${prefix}.docv.{eventType}.{decision}`,
        attempts: 1,
      });

    // Replay: published again under the same webhook-id; JetStream's duplicate window keeps one copy.
    const before = published.length;
    const replay = await r.admin('/v1/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventType: 'VERIFICATION_COMPLETED' }),
    });
    expect(replay).toMatchObject({ status: 202, json: { requeued: transactions.length } });
    await waitFor(() => published.length >= before + transactions.length, 'the replayed publishes', 10_000);
    const replayedIds = published.slice(before);
    const completedIds = consumed
      .filter((m) => m.headers['docv-event-type'] === 'VERIFICATION_COMPLETED')
      .map((m) => m.headers['webhook-id']);
    expect([...replayedIds].sort()).toEqual([...completedIds].sort());
    // Delivered on JetStream's (duplicate) PubAck: nothing left to retry.
    for (const state of ['pending', 'failed', 'dead'])
      await waitFor(
        async () => (await r!.admin(`/v1/deliveries?state=${state}`)).json.items.length === 0,
        `no ${state} delivery`,
      );
    expect(await streamCount(stream)).toBe(total);
  });

  it('a server that stops mid-run: deliveries wait and retry, ingest keeps answering 200, all arrive once it is back', async () => {
    const server: ThrowawayNats = await startThrowawayNats();
    const own = await natsTestClient(server.address);
    try {
      const { name: stream, prefix } = await testStream(own);
      r = await startTestReceiver({
        dispatch: {
          forwardUrls: [`nats://${server.address}?subject=${prefix}.{docvTransactionId}&stream=${stream}`],
          forwardTimeoutMs: 1_000,
          retry: FAST_RETRY,
        },
      });
      const transactions = Array.from({ length: 4 }, () => uniqueId('tx'));
      const sent = new Map<string, string[]>(transactions.map((tx) => [tx, []]));
      const ingestMs: number[] = [];
      const post = async (tx: string, eventType: string) => {
        const started = Date.now();
        const res = await r!.deliver(docvEvent({ eventType, docvTransactionId: tx }));
        ingestMs.push(Date.now() - started);
        expect(res.status).toBe(200);
        sent.get(tx)!.push(res.json.eventId as string);
      };
      for (const tx of transactions) await post(tx, 'APP_OPENED');
      await waitFor(async () => (await streamCount(stream, own)) === transactions.length, 'the first events', 10_000);

      await own.nc.close();
      await server.stop('SIGKILL');
      for (const tx of transactions) await post(tx, 'DOCUMENTS_UPLOADED');
      for (const tx of transactions) await post(tx, 'VERIFICATION_COMPLETED');
      // They wait, retried on the schedule, each attempt failing fast while the server is down.
      const waiting = await waitFor(
        async () => {
          const failed = (await r!.admin('/v1/deliveries?state=failed&limit=100')).json.items as Array<{
            attempts: number;
            lastError: string;
          }>;
          return failed.some((d) => d.attempts >= 3) ? failed : null;
        },
        'deliveries retried while the server is down',
        10_000,
      );
      expect(waiting[0]!.lastError).toMatch(
        new RegExp(`^nats ${server.address.replaceAll('.', '\\.')}: (connecting|publishing)`),
      );
      expect((await r.admin('/v1/deliveries?state=dead')).json.items).toEqual([]);

      await server.start();
      const back = await natsTestClient(server.address);
      try {
        const total = transactions.length * 3;
        await waitFor(
          async () => (await streamCount(stream, back)) >= total,
          `all ${total} messages after the restart`,
          20_000,
        );
        const consumed = await readStream(stream, back);
        // Each once (the delivery id is the message id) and each transaction in order.
        expect(consumed).toHaveLength(total);
        for (const tx of transactions)
          expect(
            consumed.filter((m) => m.headers['docv-transaction-id'] === tx).map((m) => m.headers['docv-event-id']),
          ).toEqual(sent.get(tx));
        await waitFor(
          async () => (await r!.admin('/v1/deliveries?state=delivered&limit=100')).json.items.length === total,
          'every delivery recorded as delivered',
        );
        // Ingest never waited for the broker.
        expect(Math.max(...ingestMs)).toBeLessThan(1_000);
        await back.jsm.streams.delete(stream);
      } finally {
        await back.nc.close();
      }
    } finally {
      await r?.destroy();
      r = undefined;
      if (!own.nc.isClosed()) await own.nc.close();
      await server.destroy();
    }
  }, 60_000);
});

describe('NATS destination URLs', () => {
  it('names the server and subject template, never a credential', () => {
    expect(
      storedForwardUrl('nats://docv:pa%40ss@nats.internal?subject=docv.{eventType}.{decision}&stream=DOCV'),
    ).toEqual({
      name: 'nats:nats.internal:4222/docv.{eventType}.{decision}',
      url: 'nats://nats.internal?subject=docv.{eventType}.{decision}&stream=DOCV',
      urlCredentials: true,
      transport: 'nats',
    });
    expect(natsTransport.nameOf(new URL('nats://[::1]:4333/?subject=a.{source}'))).toBe('nats:[::1]:4333/a.{source}');
  });

  it.each([
    ['nats://127.0.0.1:4222', 'needs subject=<template>'],
    ['nats://127.0.0.1:4222?subject=', 'needs subject=<template>'],
    [
      'nats://127.0.0.1:4222?subject=a&exchange=x&durable=y',
      'unknown options exchange, durable (it takes subject, stream)',
    ],
    ['nats://127.0.0.1:4222?subject=a&subject=b', 'subject= is given more than once'],
    ['nats://127.0.0.1:4222?subject=docv.{eventType}.{nope}', 'names {nope}: use {eventType}, {decision}'],
    ['nats://127.0.0.1:4222?subject=docv.*', 'contains a wildcard'],
    ['nats://127.0.0.1:4222?subject=docv.>', 'contains a wildcard'],
    ['nats://127.0.0.1:4222?subject=docv..x', 'has an empty token'],
    ['nats://127.0.0.1:4222?subject=docv.{eventType}.', 'has an empty token'],
    ['nats://127.0.0.1:4222?subject=docv events', 'contains white space'],
    ['nats://127.0.0.1:4222?subject=a&stream=', 'stream= is empty'],
    ['nats://127.0.0.1:4222?subject=a&stream=DOCV.X', 'NATS stream name "DOCV.X" may not contain'],
    ['nats://127.0.0.1:4222/docv?subject=a', 'has no path'],
    ['nats://:secret@127.0.0.1:4222?subject=a', 'needs a user name'],
  ])('%s is refused: %s', (url, message) => {
    expect(() => storedForwardUrl(url)).toThrow(TypeError);
    expect(() => storedForwardUrl(url)).toThrow(message);
    expect(() => storedForwardUrl(url)).not.toThrow(/secret/);
  });
});
