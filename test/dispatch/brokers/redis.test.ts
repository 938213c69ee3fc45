import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStandardWebhookVerifier } from '../../../src/auth/standard-webhooks.js';
import { forwardBody } from '../../../src/dispatch/destinations/forward.js';
import { createBrokerDestination, storedForwardUrl, type Destination } from '../../../src/dispatch/index.js';
import type { ClaimedDelivery } from '../../../src/store/index.js';
import type { CanonicalEvent } from '../../../src/contract/index.js';
import { testWebhookEvent, uniqueId, v5Event } from '../../helpers/canonical-events.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../../helpers/receiver.js';
import {
  freePort,
  readStream,
  REDIS_URL,
  startThrowawayRedis,
  testRedisClient,
  type StreamEntry,
  type ThrowawayRedis,
} from '../../helpers/redis-server.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Redis Streams destinations (issue 21) against a real Redis: the one every machine runs on 6379
 * for what needs no outage, a throwaway redis-server the test starts itself for a password, a
 * database that is down, and the stop and restart mid-run. Each test writes its own stream keys
 * (a prefix unique to this run) and deletes them at the end.
 */

const SECRET_KEY = Buffer.from('redis-broker-test-key-0123456789');
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;
const PREFIX = `docv-test-${process.pid}-${randomBytes(4).toString('hex')}`;
const FAST_RETRY = { schedule: [50, 100, 200], maxAttempts: 1_000, jitter: 0 };

let consumer: Redis;
const written = new Set<string>();

/** A stream key of this run, deleted at the end (each test names its own). */
function streamKey(name: string): string {
  const key = `${PREFIX}.${name}`;
  written.add(key);
  return key;
}

beforeAll(() => {
  consumer = testRedisClient();
});

afterAll(async () => {
  for (const db of [0, 3]) {
    await consumer.select(db);
    const keys = await consumer.keys(`${PREFIX}.*`);
    if (keys.length > 0) await consumer.del(...keys);
  }
  await consumer.quit();
});

function claimed(event: CanonicalEvent, overrides: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  const now = new Date().toISOString();
  return {
    deliveryId: uniqueId('dlv'),
    eventId: uniqueId('evt'),
    docvTransactionId: event.docvTransactionId,
    source: 'default',
    eventType: event.eventType,
    destination: 'redis:test',
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
    event,
    ...overrides,
  };
}

function redisDestination(url: string, options: { signingSecrets?: string[]; timeoutMs?: number } = {}): Destination {
  return createBrokerDestination('redis', {
    url,
    name: storedForwardUrl(url).name,
    signingSecrets: options.signingSecrets,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

const signal = () => new AbortController().signal;

/** Standard Webhooks, recomputed here rather than through the code under test. */
function signatureValid(entry: StreamEntry): boolean {
  const id = entry.headers['webhook-id'];
  const ts = entry.headers['webhook-timestamp'];
  const expected = createHmac('sha256', SECRET_KEY).update(`${id}.${ts}.${entry.body}`).digest();
  return (entry.headers['webhook-signature'] ?? '').split(' ').some((s) => {
    const sig = Buffer.from(s.replace(/^v1,/, ''), 'base64');
    return sig.length === expected.length && timingSafeEqual(sig, expected);
  });
}

describe('Redis Streams destination on its own', () => {
  const closing: Destination[] = [];
  afterEach(async () => {
    await Promise.all(closing.splice(0).map((d) => d.close?.()));
  });
  const open = (...args: Parameters<typeof redisDestination>) => {
    const d = redisDestination(...args);
    closing.push(d);
    return d;
  };

  it('XADDs the forward body and every header to the stream its template names, signed', async () => {
    const base = streamKey('docv');
    const url = `${REDIS_URL}?stream=${encodeURIComponent(`${base}.{eventType}.{decision}`)}`;
    const destination = open(url, { signingSecrets: [SECRET] });
    expect(destination.name).toBe(`redis:127.0.0.1:6379/0/${base}.{eventType}.{decision}`);
    const delivery = claimed(v5Event({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' }), {
      source: 'eu.prod',
    });

    expect(await destination.deliver(delivery, signal())).toEqual({ outcome: 'delivered' });

    const entries = await readStream(consumer, streamKey('docv.VERIFICATION_COMPLETED.accept'));
    expect(entries).toHaveLength(1);
    const [entry] = entries as [StreamEntry];
    expect(entry.fields[0]).toBe('body');
    expect(entry.body).toBe(forwardBody(delivery));
    expect(JSON.parse(entry.body)).toMatchObject({ eventId: delivery.eventId, source: 'eu.prod' });
    expect(entry.headers).toEqual({
      'content-type': 'application/json',
      'webhook-id': delivery.deliveryId,
      'docv-event-id': delivery.eventId,
      'docv-event-type': 'VERIFICATION_COMPLETED',
      'docv-transaction-id': delivery.docvTransactionId,
      'docv-source': 'eu.prod',
      'webhook-timestamp': expect.stringMatching(/^\d+$/),
      'webhook-signature': expect.stringMatching(/^v1,/),
    });
    expect(Math.abs(Number(entry.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(signatureValid(entry)).toBe(true);
    const verified = createStandardWebhookVerifier({ secrets: [SECRET] }).verify(
      entry.headers,
      Buffer.from(entry.body),
    );
    expect(verified.webhookId).toBe(delivery.deliveryId);
  });

  it('an event without transaction or decision: `none` in the name, no transaction header, unsigned without a secret', async () => {
    const base = streamKey('plain');
    const destination = open(`${REDIS_URL}?stream=${base}.{decision}.{dialect}.{source}`);
    const delivery = claimed(testWebhookEvent(), { source: 'a b.c' });
    expect(await destination.deliver(delivery, signal())).toEqual({ outcome: 'delivered' });
    // tokenSafe, as for subjects and routing keys: `.` and spaces in a value become `_`.
    const [entry] = (await readStream(consumer, streamKey('plain.none.socure-v5.a_b_c'))) as [StreamEntry];
    expect(entry.headers).toEqual({
      'content-type': 'application/json',
      'webhook-id': delivery.deliveryId,
      'docv-event-id': delivery.eventId,
      'docv-event-type': delivery.eventType,
      'docv-source': 'a b.c',
    });
  });

  it('writes into the database the path names and caps the stream with MAXLEN ~ (0: no cap)', async () => {
    const capped = streamKey('capped');
    const uncapped = streamKey('uncapped');
    const small = open(`${REDIS_URL}/3?stream=${capped}&maxlen=10`);
    const unlimited = open(`${REDIS_URL}/3?stream=${uncapped}&maxlen=0`);
    for (let i = 0; i < 300; i++) {
      expect((await small.deliver(claimed(v5Event()), signal())).outcome).toBe('delivered');
      if (i < 150) expect((await unlimited.deliver(claimed(v5Event()), signal())).outcome).toBe('delivered');
    }
    const db3 = testRedisClient(`${REDIS_URL}/3`);
    try {
      // `~` trims whole nodes of the stream only (100 entries each by default): fewer, never under 10.
      const length = await db3.xlen(capped);
      expect(length).toBeGreaterThanOrEqual(10);
      expect(length).toBeLessThan(300);
      expect(await db3.xlen(uncapped)).toBe(150);
      expect(await consumer.exists(capped, uncapped)).toBe(0);
    } finally {
      await db3.del(capped, uncapped);
      await db3.quit();
    }
  });

  it('a Redis error reply fails the attempt with it, and the next attempt succeeds once the cause is gone', async () => {
    const key = streamKey('wrongtype');
    await consumer.set(key, 'not a stream');
    const destination = open(`${REDIS_URL}?stream=${key}`);
    const failed = await destination.deliver(claimed(v5Event()), signal());
    expect(failed).toEqual({
      outcome: 'failed',
      error: `redis 127.0.0.1:6379/0: XADD to stream "${key}" failed: WRONGTYPE Operation against a key holding the wrong kind of value`,
    });
    await consumer.del(key);
    expect(await destination.deliver(claimed(v5Event()), signal())).toEqual({ outcome: 'delivered' });
    expect(await consumer.xlen(key)).toBe(1);
  });

  it('a database the server does not have fails the attempt rather than writing to database 0', async () => {
    const key = streamKey('nodb');
    const destination = open(`${REDIS_URL}/99999?stream=${key}`);
    const failed = await destination.deliver(claimed(v5Event()), signal());
    expect(failed).toMatchObject({ outcome: 'failed' });
    expect(failed.outcome === 'failed' && failed.error).toMatch(
      /^redis 127\.0\.0\.1:6379\/99999: connecting failed: cannot use database 99999: ERR DB index is out of range/,
    );
    expect(await consumer.exists(key)).toBe(0);
  });

  it('a Redis that is down fails the attempt at once; the next attempt after it is up delivers', async () => {
    const port = await freePort();
    const key = 'down.stream';
    const destination = open(`redis://127.0.0.1:${port}?stream=${key}`, { timeoutMs: 5_000 });
    const started = Date.now();
    const failed = await destination.deliver(claimed(v5Event()), signal());
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(failed).toEqual({
      outcome: 'failed',
      error: `redis 127.0.0.1:${port}/0: connecting failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    const server = await startThrowawayRedis({ port });
    try {
      const delivery = claimed(v5Event());
      expect(await destination.deliver(delivery, signal())).toEqual({ outcome: 'delivered' });
      const reader = testRedisClient(server.url);
      const entries = await readStream(reader, key);
      await reader.quit();
      expect(entries.map((e) => e.headers['webhook-id'])).toEqual([delivery.deliveryId]);
    } finally {
      await destination.close?.();
      await server.destroy();
    }
  });

  it('one connection serves every attempt and survives error replies; a hung XADD times out; a restart while idle costs no attempt', async () => {
    const server = await startThrowawayRedis();
    const admin = testRedisClient(server.url);
    /** The destination's connections, by CLIENT LIST (it names them docv-webhooks). */
    const connections = async () =>
      String(await admin.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => / name=docv-webhooks /.test(line))
        .map((line) => /\bid=(\d+)/.exec(line)![1]);
    try {
      const destination = open(`${server.url}?stream=s`, { timeoutMs: 300 });
      for (let i = 0; i < 5; i++)
        expect((await destination.deliver(claimed(v5Event()), signal())).outcome).toBe('delivered');
      const [first] = await connections();
      expect(await connections()).toEqual([first]);
      await admin.set('s', 'not a stream');
      expect(await destination.deliver(claimed(v5Event()), signal())).toMatchObject({ outcome: 'failed' });
      expect(await connections()).toEqual([first]);
      await admin.del('s');

      // Redis holds every write for 1.5 s: the attempt gives up after its 300 ms and drops the connection.
      await admin.client('PAUSE', 1_500, 'WRITE');
      const started = Date.now();
      const hung = await destination.deliver(claimed(v5Event()), signal());
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(hung).toEqual({
        outcome: 'failed',
        error: `redis 127.0.0.1:${server.port}/0: XADD to stream "s" failed: timed out after 300 ms`,
      });
      await admin.client('UNPAUSE');
      await waitFor(async () => !(await connections()).includes(first!), 'the timed-out connection closed', 2_000);
      expect(await destination.deliver(claimed(v5Event()), signal())).toEqual({ outcome: 'delivered' });
      const [second] = await connections();

      // Restarted between two attempts: the closed connection is noticed, not tried.
      admin.disconnect();
      await server.stop('SIGTERM');
      await server.start();
      const again = claimed(v5Event());
      expect(await destination.deliver(again, signal())).toEqual({ outcome: 'delivered' });
      const reader = testRedisClient(server.url);
      const entries = await readStream(reader, 's');
      await reader.quit();
      expect(entries.at(-1)!.headers['webhook-id']).toBe(again.deliveryId);
      expect(second).toBeDefined();
    } finally {
      admin.disconnect();
      await Promise.all(closing.splice(0).map((d) => d.close?.()));
      await server.destroy();
    }
  });

  it('rediss:// speaks TLS and checks the certificate: an untrusted one fails the attempt saying so', async () => {
    const certs = mkdtempSync(join(tmpdir(), 'docv-redis-tls-'));
    const tlsPort = await freePort();
    let server: ThrowawayRedis | undefined;
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-keyout',
          'key.pem',
          '-out',
          'cert.pem',
        ],
        { cwd: certs, stdio: 'ignore', input: '' },
      );
      server = await startThrowawayRedis({
        args: [
          '--tls-port',
          String(tlsPort),
          '--tls-cert-file',
          join(certs, 'cert.pem'),
          '--tls-key-file',
          join(certs, 'key.pem'),
          '--tls-auth-clients',
          'no',
        ],
      });
      const destination = open(`rediss://localhost:${tlsPort}?stream=tls.s`, { timeoutMs: 3_000 });
      const failed = await destination.deliver(claimed(v5Event()), signal());
      expect(failed).toEqual({
        outcome: 'failed',
        error: `redis localhost:${tlsPort}/0: connecting failed: self-signed certificate`,
      });
    } finally {
      await Promise.all(closing.splice(0).map((d) => d.close?.()));
      await server?.destroy();
      rmSync(certs, { recursive: true, force: true });
    }
  });

  it('a password in the URL authenticates; a wrong one fails the attempt without the password in the error', async () => {
    const server = await startThrowawayRedis({ args: ['--requirepass', 'right p@ss'] });
    try {
      const good = open(`redis://:${encodeURIComponent('right p@ss')}@127.0.0.1:${server.port}/2?stream=auth.s`);
      expect(await good.deliver(claimed(v5Event()), signal())).toEqual({ outcome: 'delivered' });
      const bad = open(`redis://:wrong-s3cret@127.0.0.1:${server.port}?stream=auth.s`);
      const failed = await bad.deliver(claimed(v5Event()), signal());
      expect(failed).toMatchObject({ outcome: 'failed', error: expect.stringContaining('WRONGPASS') });
      expect(JSON.stringify(failed)).not.toContain('s3cret');
      const reader = testRedisClient(`redis://:${encodeURIComponent('right p@ss')}@127.0.0.1:${server.port}/2`);
      expect(await reader.xlen('auth.s')).toBe(1);
      await reader.quit();
    } finally {
      await Promise.all(closing.splice(0).map((d) => d.close?.()));
      await server.destroy();
    }
  });

  describe('a server that accepts and never answers', () => {
    let silent: Server;
    let port: number;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((socket) => {
        // Reads (so it sees the client leave) and never answers, like a Redis that hangs.
        socket.resume();
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      port = (silent.address() as AddressInfo).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('the attempt times out after timeoutMs, saying so without the password, and lets go of the socket', async () => {
      const destination = open(`redis://:hush-s3cret@127.0.0.1:${port}?stream=x`, { timeoutMs: 300 });
      const started = Date.now();
      const failed = await destination.deliver(claimed(v5Event()), signal());
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(1_500);
      expect(failed).toEqual({
        outcome: 'failed',
        error: `redis 127.0.0.1:${port}/0: connecting failed: timed out after 300 ms`,
      });
      expect(JSON.stringify(failed)).not.toContain('s3cret');
      await waitFor(() => sockets.size === 0, 'the abandoned connection closed', 2_000);
    });

    it('the dispatcher aborting the attempt ends it at once', async () => {
      const destination = open(`redis://127.0.0.1:${port}?stream=x`, { timeoutMs: 10_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('dispatcher stopping')), 100);
      const started = Date.now();
      const failed = await destination.deliver(claimed(v5Event()), controller.signal);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(failed).toEqual({
        outcome: 'failed',
        error: `redis 127.0.0.1:${port}/0: connecting failed: dispatcher stopping`,
      });
    });
  });
});

/** The first time each delivery id appears, in stream order (a retry may append it again). */
function firstSeen(entries: StreamEntry[]): StreamEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const id = e.headers['webhook-id']!;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** POSTs each transaction's events in order (transactions interleaved); returns the accepted event ids per transaction. */
async function postTransactions(
  r: TestReceiver,
  transactions: string[],
  types: readonly string[],
  minute: number,
): Promise<Map<string, string[]>> {
  const accepted = new Map<string, string[]>(transactions.map((tx) => [tx, []]));
  for (const [i, eventType] of types.entries()) {
    for (const tx of transactions) {
      const event = docvEvent({
        eventType,
        docvTransactionId: tx,
        eventTime: `2026-03-01T10:${String(minute).padStart(2, '0')}:${String(i).padStart(2, '0')}Z`,
      });
      const started = Date.now();
      const res = await r.deliver(event);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2_000);
      accepted.get(tx)!.push(res.json.eventId as string);
    }
  }
  return accepted;
}

/** Every accepted event arrived, each transaction's in the order it was posted. */
function expectAllInOrder(entries: StreamEntry[], accepted: Map<string, string[]>): void {
  const first = firstSeen(entries);
  for (const [tx, eventIds] of accepted) {
    const arrived = first.filter((e) => e.headers['docv-transaction-id'] === tx).map((e) => e.headers['docv-event-id']);
    expect(arrived, `transaction ${tx}`).toEqual(eventIds);
  }
}

describe('Redis Streams through a receiver', () => {
  let r: TestReceiver | undefined;
  afterEach(async () => {
    await r?.destroy();
    r = undefined;
  });

  it('every accepted event arrives once, in order per transaction; replay publishes again with the same webhook-id', async () => {
    const stream = streamKey('receiver');
    const url = `${REDIS_URL}?stream=${stream}`;
    r = await startTestReceiver({ dispatch: { forwardUrls: [url], retry: FAST_RETRY } });
    const transactions = Array.from({ length: 5 }, () => uniqueId('tx'));
    const types = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'] as const;
    const accepted = await postTransactions(r, transactions, types, 0);
    const total = transactions.length * types.length;

    const entries = await waitFor(async () => {
      const e = await readStream(consumer, stream);
      return e.length >= total ? e : null;
    }, `${total} entries`);
    expect(entries).toHaveLength(total);
    expectAllInOrder(entries, accepted);
    const delivered = await waitFor(async () => {
      const d = await r!.admin(`/v1/deliveries?state=delivered&limit=100`);
      return d.json.items.length === total ? d.json.items : null;
    }, 'every delivery recorded as delivered');
    expect(new Set(delivered.map((d: { destination: string }) => d.destination))).toEqual(
      new Set([`redis:127.0.0.1:6379/0/${stream}`]),
    );

    const replay = await r.admin('/v1/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventType: 'DOCUMENTS_UPLOADED' }),
    });
    expect(replay).toMatchObject({ status: 202, json: { requeued: transactions.length } });
    const after = await waitFor(async () => {
      const e = await readStream(consumer, stream);
      return e.length >= total + transactions.length ? e : null;
    }, 'the replayed entries');
    const replayed = after.slice(total);
    const original = new Map(entries.map((e) => [e.headers['docv-event-id'], e]));
    expect(replayed).toHaveLength(transactions.length);
    for (const e of replayed) {
      expect(e.headers['docv-event-type']).toBe('DOCUMENTS_UPLOADED');
      const before = original.get(e.headers['docv-event-id'])!;
      expect(e.headers['webhook-id']).toBe(before.headers['webhook-id']);
      expect(e.body).toBe(before.body);
    }
  });

  it('Redis stopped mid-run: ingest keeps answering, deliveries wait and retry, none lost, all arrive after the restart', async () => {
    const server: ThrowawayRedis = await startThrowawayRedis();
    const reader = testRedisClient(server.url);
    try {
      const stream = 'outage';
      r = await startTestReceiver({
        dispatch: { forwardUrls: [`${server.url}?stream=${stream}`], retry: FAST_RETRY, forwardTimeoutMs: 1_000 },
      });
      const transactions = Array.from({ length: 4 }, () => uniqueId('tx'));
      const before = await postTransactions(r, transactions, ['APP_OPENED'], 0);
      await waitFor(async () => (await reader.xlen(stream)) === transactions.length, 'the first events');

      await server.stop('SIGKILL');
      const during = await postTransactions(r, transactions, ['DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'], 1);
      // They wait and are retried with the schedule, each failure saying why.
      const waiting = await waitFor(
        async () => {
          const items = (await r!.admin('/v1/deliveries?state=failed&limit=100')).json.items as Array<{
            attempts: number;
            lastError: string | null;
          }>;
          return items.some((d) => d.attempts >= 2) ? items : null;
        },
        'retried deliveries',
        10_000,
      );
      expect(waiting.find((d) => d.lastError)?.lastError).toMatch(
        new RegExp(`^redis 127\\.0\\.0\\.1:${server.port}/0: connecting failed: .*ECONNREFUSED`),
      );
      expect((await r.admin('/v1/deliveries?state=dead')).json.items).toEqual([]);
      // Ingest is not slowed by the broker being away.
      await postTransactions(r, [uniqueId('tx')], ['APP_OPENED'], 2).then((m) => {
        for (const [tx, ids] of m) before.set(tx, ids);
      });

      await server.start();
      const total = transactions.length * 3 + 1;
      const entries = await waitFor(
        async () => {
          const e = await readStream(reader, stream).catch(() => []);
          return firstSeen(e).length >= total ? e : null;
        },
        `all ${total} events after the restart`,
        15_000,
      );
      const accepted = new Map([...before].map(([tx, ids]) => [tx, [...ids, ...(during.get(tx) ?? [])]]));
      expect(firstSeen(entries)).toHaveLength(total);
      expectAllInOrder(entries, accepted);
      await waitFor(
        async () => (await r!.admin('/v1/deliveries?state=delivered&limit=100')).json.items.length === total,
        'every delivery recorded as delivered',
      );
    } finally {
      await r?.destroy();
      r = undefined;
      reader.disconnect();
      await server.destroy();
    }
  });
});

describe('Redis Streams URLs', () => {
  it('the name says where, never a credential; the stored URL loses the password', () => {
    expect(storedForwardUrl('redis://:s3cret@cache.internal/2?stream=docv.{eventType}&maxlen=500')).toEqual({
      name: 'redis:cache.internal:6379/2/docv.{eventType}',
      url: 'redis://cache.internal/2?stream=docv.{eventType}&maxlen=500',
      urlCredentials: true,
      transport: 'redis',
    });
    expect(storedForwardUrl('rediss://app:pw@[::1]:6380?stream=s').name).toBe('redis:[::1]:6380/0/s');
  });

  it.each([
    [
      'redis://127.0.0.1:6379',
      'a Redis Streams URL needs the stream to add to: ?stream=<name or template, e.g. docv.{eventType}>',
    ],
    ['redis://127.0.0.1:6379?stream=', 'a Redis Streams URL needs the stream to add to'],
    [
      'redis://127.0.0.1:6379?stream=s&exchange=x&maxLen=3',
      'a Redis Streams URL takes the options stream, maxlen; unknown: "exchange", "maxLen"',
    ],
    ['redis://127.0.0.1:6379?stream=docv.{eventKind}', 'stream "docv.{eventKind}" names {eventKind}: use {eventType}'],
    [
      'redis://127.0.0.1:6379?stream=s&maxlen=-1',
      'maxlen= is the number of entries a stream keeps (0: no cap), not "-1"',
    ],
    ['redis://127.0.0.1:6379?stream=s&maxlen=1e5', 'not "1e5"'],
    ['redis://127.0.0.1:6379?stream=a&stream=b', 'a Redis Streams URL gives stream= more than once'],
    [
      'redis://127.0.0.1:6379/db1?stream=s',
      'the path of a Redis Streams URL is the database number (/0, /1…), not "/db1"',
    ],
    ['redis:///0?stream=s', 'a Redis Streams URL needs a host'],
  ])('%s → %s', (url, message) => {
    expect(() => storedForwardUrl(url)).toThrow(TypeError);
    expect(() => storedForwardUrl(url)).toThrow(message);
  });
});
