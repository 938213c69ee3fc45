import { afterEach, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../src/server/index.js';
import { skipUnavailable, testBackends, type Backend, type TestDatabase } from '../helpers/backends.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { memoryLogger, newSigningSecret } from '../security/helpers.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The destinations live in the store, so a receiver that only ingests (`serve --no-dispatch`) and
 * a worker started with `--forward-url` agree on them: the receiver makes the outbox rows of the
 * worker's destination even though its own flags name none (issue 15, item 5).
 */
const backends = await testBackends();

describe.each(backends)('destinations kept in the store ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });

  async function database(): Promise<TestDatabase> {
    const db = await backend.create();
    cleanup.push(() => db.drop());
    return db;
  }
  async function sink(): Promise<HttpSink> {
    const s = await startSink();
    cleanup.push(() => s.close());
    return s;
  }
  /** `serve --no-dispatch`: ingest only, no destination flags. */
  async function receiver(
    db: TestDatabase,
    options: Parameters<typeof startTestReceiver>[0] = {},
  ): Promise<TestReceiver> {
    const r = await startTestReceiver({
      database: { ...db, drop: async () => undefined },
      dispatch: { enabled: false },
      ...options,
    });
    cleanup.push(() => r.destroy());
    return r;
  }
  async function worker(db: TestDatabase, options: Parameters<typeof startWorker>[0] = {}): Promise<RunningWorker> {
    const w = await startWorker({
      db: db.url,
      logLevel: 'silent',
      dispatch: { pollMs: 50, destinationsRefreshMs: 100 },
      ...options,
    });
    cleanup.push(() => w.close());
    return w;
  }

  it("serve --no-dispatch + worker --forward-url: the event reaches the worker's destination", async () => {
    const db = await database();
    const target = await sink();
    const serve = await receiver(db);
    await worker(db, { dispatch: { forwardUrls: [`${target.url}/in`], pollMs: 50 } });

    const event = docvEvent({ eventType: 'APP_OPENED' });
    const answer = await serve.deliver(event);
    expect(answer.status).toBe(200);
    await waitFor(() => target.requests.length === 1, 'the forward at the sink');
    const forwarded = JSON.parse(target.requests[0]!.body);
    expect(forwarded).toMatchObject({ eventId: answer.json.eventId, docvTransactionId: event.docvTransactionId });
    expect(target.requests[0]!.url).toBe('/in');
  });

  it('the same when the worker started first and the receiver after it', async () => {
    const db = await database();
    const target = await sink();
    await worker(db, { dispatch: { forwardUrls: [target.url], pollMs: 50 } });
    const serve = await receiver(db);
    expect((await serve.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => target.requests.length === 1, 'the forward at the sink');
  });

  it('a worker whose flags do not name an active destination of the store says so at start', async () => {
    const db = await database();
    const mine = await sink();
    const theirs = await sink();
    const serve = await receiver(db, { dispatch: { enabled: false, forwardUrls: [`${theirs.url}/theirs`] } });
    const log = memoryLogger('info');
    await worker(db, { logger: log.logger, dispatch: { forwardUrls: [`${mine.url}/mine`], pollMs: 50 } });
    const theirName = `forward:${new URL(theirs.url).host}/theirs`;
    const warning = log.lines().find((l) => l.level === 40 && String(l.msg).includes(theirName));
    expect(warning, log.text()).toBeDefined();
    expect(warning.msg).toMatch(/not named by this process's flags/);
    // It delivers them from the store: one source of truth, every worker can take any delivery.
    expect((await serve.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => mine.requests.length === 1 && theirs.requests.length === 1, 'a forward at each sink');
  });

  it('disabling a destination pauses it: what it has and what comes meanwhile wait, and go with enable', async () => {
    const db = await database();
    const target = await sink();
    const serve = await receiver(db, { dispatch: { enabled: false, forwardUrls: [target.url] } });
    const name = `forward:${new URL(target.url).host}/`;
    const before = await serve.deliver(docvEvent());
    expect(
      (await serve.admin(`/v1/destinations/${encodeURIComponent(name)}/disable`, { method: 'POST' })).json,
    ).toMatchObject({ name, state: 'disabled' });
    const after = await serve.deliver(docvEvent());
    const rows = await serve.store.listDeliveries({ limit: 10, destination: name });
    expect(rows.items.map((d) => [d.eventId, d.state])).toEqual([
      [after.json.eventId, 'pending'],
      [before.json.eventId, 'pending'],
    ]);
    expect(after.json.status).toBe('accepted');

    // A worker started now does not take the disabled destination's rows: they wait.
    const log = memoryLogger('info');
    await worker(db, {
      logger: log.logger,
      dispatch: { forwardUrls: [target.url], pollMs: 50, destinationsRefreshMs: 100 },
    });
    expect(
      log.lines().some((l) => l.level === 40 && String(l.msg).includes(`${name} is disabled in the store`)),
      log.text(),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(target.requests).toHaveLength(0);

    // Enabled again (by another process, through the admin API): the worker picks it up and what waited goes, in order.
    expect(
      (await serve.admin(`/v1/destinations/${encodeURIComponent(name)}/enable`, { method: 'POST' })).json,
    ).toMatchObject({ name, state: 'active' });
    await waitFor(() => target.requests.length === 2, 'the deliveries that waited');
    expect(target.requests.map((r) => JSON.parse(r.body).eventId)).toEqual([before.json.eventId, after.json.eventId]);
  });

  it('the admin API lists, adds, disables and enables destinations, and a running worker follows', async () => {
    const db = await database();
    const target = await sink();
    const other = await sink();
    const serve = await receiver(db);
    await worker(db, { dispatch: { forwardUrls: [other.url], pollMs: 50, destinationsRefreshMs: 100 } });

    const added = await serve.admin('/v1/destinations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://user:pw@${new URL(target.url).host}/hook?x=1` }),
    });
    expect(added.status).toBe(201);
    const name = `forward:${new URL(target.url).host}/hook`;
    expect(added.json).toMatchObject({
      name,
      kind: 'forward',
      state: 'active',
      url: `http://${new URL(target.url).host}/hook?x=1`,
      urlCredentials: true,
    });
    expect(JSON.stringify(added.json)).not.toContain('pw');
    const again = await serve.admin('/v1/destinations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${target.url}/hook` }),
    });
    expect(again.status).toBe(200);

    const listed = await serve.admin('/v1/destinations');
    expect(listed.status).toBe(200);
    expect(listed.json.items.map((d: { name: string }) => d.name).sort()).toEqual(
      [`forward:${new URL(other.url).host}/`, name].sort(),
    );

    expect((await serve.admin('/v1/destinations/forward%3Anowhere%2F/disable', { method: 'POST' })).status).toBe(404);
    const invalid = await serve.admin('/v1/destinations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'ftp://x/y' }),
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json.detail).toMatch(/http\(s\)/);

    // The URL held credentials the store does not keep: only a process whose flags give it delivers.
    // Re-added without them, any worker can.
    const plain = await serve.admin('/v1/destinations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${target.url}/hook?x=1` }),
    });
    expect(plain.json).toMatchObject({ name, urlCredentials: false });
    // The worker follows the store every 100 ms (destinationsRefreshMs): until then it still knows
    // the URL the second add left (/hook, no query), and could claim the row with it.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await serve.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => target.requests.length === 1 && other.requests.length === 1, 'a forward at each sink');
    expect(target.requests[0]!.url).toBe('/hook?x=1');
  });

  it('a destination that must be signed is left to workers that have a signing secret, and the others say so', async () => {
    const db = await database();
    const target = await sink();
    const secret = newSigningSecret();
    const serve = await receiver(db, {
      dispatch: { enabled: false, forwardUrls: [target.url], forwardSigningSecrets: [secret] },
    });
    const name = `forward:${new URL(target.url).host}/`;
    expect((await serve.admin('/v1/destinations')).json.items).toEqual([
      expect.objectContaining({ name, signed: true }),
    ]);

    const log = memoryLogger('info');
    const unsigned = await startWorker({
      db: db.url,
      logger: log.logger,
      dispatch: { forwardUrls: [target.url] },
    }).catch((err: Error) => err);
    expect(unsigned).toBeInstanceOf(Error);
    expect((unsigned as Error).message).toMatch(/nowhere to deliver/);
    expect(
      log
        .lines()
        .some(
          (l) =>
            l.level === 40 &&
            String(l.msg).includes(`cannot deliver ${name}`) &&
            /no --forward-signing-secret/.test(String(l.msg)),
        ),
      log.text(),
    ).toBe(true);

    await worker(db, { dispatch: { forwardUrls: [target.url], forwardSigningSecrets: [secret], pollMs: 50 } });
    expect((await serve.deliver(docvEvent())).status).toBe(200);
    await waitFor(() => target.requests.length === 1, 'the signed forward');
    expect(target.requests[0]!.headers['webhook-signature']).toMatch(/^v1,/);
  });
});
