import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText, withConfigFile } from '../../../src/compose/config-file.js';
import { defaultReceiverConfig } from '../../../src/compose/config.js';
import { startTestReceiver, docvEvent } from '../../helpers/receiver.js';
import { NATS_ADDRESS, natsTestClient, uniqueNatsName } from '../../helpers/nats-server.js';
import { readStream, testRedisClient } from '../../helpers/redis-server.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Issue 21: a broker destination is configured like any destination — the admin API, the config
 * file, the flags (the broker suites use the flags) — and the URL's scheme picks the transport.
 * Redis stands for the three here: the receiver has no flag naming it and delivers it from the
 * store's URL alone, as it does an HTTP forward added through the API.
 */
const ADMIN = 'admin-token-configured-brokers';
const dir = mkdtempSync(join(tmpdir(), 'docv-brokers-configured-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('broker destinations, configured', () => {
  it('POST /v1/destinations with a redis:// URL: stored as a forward named by the broker, and delivered by a receiver that has no flag for it', async () => {
    const stream = `docv-test-configured-${randomBytes(4).toString('hex')}`;
    const redis = testRedisClient();
    const r = await startTestReceiver({
      adminToken: ADMIN,
      dispatch: { pollMs: 50, destinationsRefreshMs: 100 },
    });
    try {
      const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
      const created = await fetch(`${r.url}/v1/destinations`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          url: `redis://127.0.0.1:6379?stream=${stream}`,
          eventTypes: ['VERIFICATION_COMPLETED'],
        }),
      });
      expect(created.status).toBe(201);
      const destination = (await created.json()) as { name: string; kind: string };
      expect(destination).toMatchObject({ name: `redis:127.0.0.1:6379/0/${stream}`, kind: 'forward' });

      const tx = `tx-configured-${randomBytes(3).toString('hex')}`;
      expect((await r.deliver(docvEvent({ docvTransactionId: tx, eventType: 'APP_OPENED' }))).status).toBe(200);
      const completed = await r.deliver(
        docvEvent({ docvTransactionId: tx, eventType: 'VERIFICATION_COMPLETED', decision: 'accept' }),
      );
      expect(completed.status).toBe(200);
      // Its subscription takes completions only: one entry, the completion, with the message headers.
      const entries = await waitFor(async () => {
        const e = await readStream(redis, stream);
        return e.length > 0 ? e : null;
      }, 'the completion in the stream');
      expect(entries).toHaveLength(1);
      expect(entries[0]!.headers).toMatchObject({
        'docv-event-id': completed.json.eventId,
        'docv-event-type': 'VERIFICATION_COMPLETED',
        'docv-transaction-id': tx,
        'docv-source': 'default',
        'content-type': 'application/json',
      });
      expect(JSON.parse(entries[0]!.body)).toMatchObject({ eventId: completed.json.eventId, source: 'default' });
      // A wrong URL is refused with what is wrong, before anything is stored.
      const refused = await fetch(`${r.url}/v1/destinations`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ url: 'redis://127.0.0.1:6379?stream=' }),
      });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(await refused.json())).toMatch(/stream/);
    } finally {
      await r.destroy();
      await redis.del(stream);
      redis.disconnect();
    }
  });

  it('the config file takes broker URLs, each named by its transport, and refuses a bad one with its line', () => {
    const file = join(dir, 'docv-webhooks.yaml');
    const text = [
      'destinations:',
      '  - url: amqp://guest:guest@127.0.0.1:5672/?exchange=docv&routingKey=docv.{eventType}.{decision}',
      '  - url: nats://127.0.0.1:4222?subject=docv.{source}.{eventType}',
      '  - url: redis://127.0.0.1:6379/2?stream=docv:{source}&maxlen=1000',
      '',
    ].join('\n');
    writeFileSync(file, text);
    const config = withConfigFile(defaultReceiverConfig(), parseConfigText(text, file), file);
    expect(config.destinations?.map((d) => d.url)).toHaveLength(3);
    const bad = 'destinations:\n  - url: nats://127.0.0.1:4222?subjekt=docv\n';
    expect(() => parseConfigText(bad, file)).toThrow(/docv-webhooks\.yaml:2:\d+: .*subjekt/);
  });

  it('a broker that keeps refusing: the delivery goes dead after its attempts, and a replay delivers it once the broker can take it', async () => {
    const name = uniqueNatsName('docv_dead');
    const client = await natsTestClient();
    // No admin token: on loopback the admin API is open, as r.admin calls it.
    const r = await startTestReceiver({
      dispatch: {
        // No stream captures the subject yet: every attempt fails, and the third is the last.
        forwardUrls: [`nats://${NATS_ADDRESS}?subject=${name}.{eventType}`],
        retry: { schedule: [50, 50], maxAttempts: 3, jitter: 0 },
        pollMs: 50,
      },
    });
    try {
      const accepted = await r.deliver(docvEvent({ eventType: 'APP_OPENED' }));
      expect(accepted.status).toBe(200);
      const dead = await waitFor(async () => {
        const items = (await r.admin('/v1/deliveries?state=dead')).json.items as Array<Record<string, unknown>>;
        return items.length > 0 ? items : null;
      }, 'the dead letter');
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ eventId: accepted.json.eventId, attempts: 3 });
      expect(String(dead[0]!.lastError)).toMatch(/stream/i);

      // The operator creates the stream and replays the dead letters: JetStream acknowledges it now.
      await client.jsm.streams.add({ name, subjects: [`${name}.>`] });
      const replay = await r.admin('/v1/replay', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state: 'dead' }),
      });
      expect(replay).toMatchObject({ status: 202, json: { requeued: 1 } });
      await waitFor(async () => (await client.jsm.streams.info(name)).state.messages === 1, 'the replayed message');
      const message = await client.jsm.streams.getMessage(name, { seq: 1 });
      expect(message.header.get('docv-event-id')).toBe(accepted.json.eventId);
      await waitFor(
        async () => (await r.admin('/v1/deliveries?state=dead')).json.items.length === 0,
        'no dead letter left',
      );
    } finally {
      await r.destroy();
      await client.jsm.streams.delete(name).catch(() => undefined);
      await client.nc.close();
    }
  });
});
