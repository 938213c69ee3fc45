import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeSource } from '../../src/compose/source-summary.js';
import type { SourceConfig } from '../../src/compose/config.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { adminSourceRoutes } from '../../src/server/admin-source-routes.js';
import { buildApp, createLogger, defaultReceiverConfig } from '../../src/server/index.js';
import { openStore, type IngestInput, type Store } from '../../src/store/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import Fastify from 'fastify';
import { deliverDue } from '../helpers/outbox.js';

/**
 * Issue 20, the admin API's side of sources: every listing filters by `source` and shows it, the
 * same transaction id under two sources is two transactions (a lookup without `?source=` that
 * matches both is a 409 naming them), `GET /v1/sources` shows the sources without a secret, and
 * a destination added over the API subscribes to sources and event types.
 */

const backends = await testBackends();

const SANDBOX_SECRET = 'sandbox-shared-secret-0123456789';
const SIGNING_KEY = Buffer.from('sandbox-signing-key-0123456789ab').toString('base64');
const SANDBOX_SIGNING = `whsec_${SIGNING_KEY}`;
const PROD_PASSWORD = 'prod-basic-password-0123456789';

const SOURCES: SourceConfig[] = [
  {
    name: 'sandbox',
    path: '/hooks/sandbox',
    auth: { webhookSecrets: [SANDBOX_SECRET], signingSecrets: [SANDBOX_SIGNING] },
    environment: 'Sandbox',
  },
  { name: 'prod', path: '/hooks/prod', auth: { basicAuth: [`socure:${PROD_PASSWORD}`] }, environment: 'Production' },
];

/** What the pipeline hands the store for a flat event that came through `source`. */
function through(source: string, event: Record<string, unknown>, webhookId?: string): IngestInput {
  const input = ingestInput(event, webhookId);
  return {
    ...input,
    source,
    dedupeKey: dedupeKeyOf({ eventTime: event.eventTime as string }, input.contentHash, webhookId ?? null, source),
  };
}

let counter = 0;
function event(docvTransactionId: string, eventType: string, extra: Record<string, unknown> = {}) {
  counter += 1;
  return {
    eventType,
    docvTransactionId,
    eventTime: new Date(Date.UTC(2026, 2, 1, 10, 0, counter)).toISOString(),
    customerUserId: 'cust-any',
    ...extra,
  };
}

describe.each(backends)('admin API by source ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase;
  let store: Store;
  let app: FastifyInstance;
  /** The transaction id both sources have, and one only prod has. */
  const shared = `tx-shared-${process.pid}`;
  const onlyProd = `tx-prod-${process.pid}`;
  const onlyDefault = `tx-default-${process.pid}`;
  const allDestination = 'forward:127.0.0.1:9/all';
  const events: Record<string, string[]> = { sandbox: [], prod: [], default: [] };

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, type: res.headers['content-type'], text: res.body, json: res.json() };
  };
  const get = (url: string) => call('GET', url);
  const ids = (items: Array<{ docvTransactionId: string; source: string }>) =>
    items.map((t) => `${t.docvTransactionId}@${t.source}`).sort();

  async function accept(source: string, e: Record<string, unknown>): Promise<string> {
    const outcome = await store.ingest(through(source, e));
    expect(outcome.kind).toBe('accepted');
    const eventId = (outcome as { eventId: string }).eventId;
    events[source]!.push(eventId);
    return eventId;
  }

  beforeAll(async () => {
    database = await backend.create();
    store = await openStore(database.url);
    app = await buildApp({
      config: defaultReceiverConfig({ port: 0, logLevel: 'silent', sources: SOURCES }),
      store,
      logger: createLogger({ level: 'silent', pretty: false }),
    });
    await app.ready();
    // Every event gets a delivery to this destination (added before any event).
    expect((await call('POST', '/v1/destinations', { url: 'http://127.0.0.1:9/all' })).status).toBe(201);
    await accept('sandbox', event(shared, 'APP_OPENED', { customerUserId: 'cust-sandbox' }));
    await accept(
      'sandbox',
      event(shared, 'VERIFICATION_COMPLETED', { customerUserId: 'cust-sandbox', decision: 'accept' }),
    );
    await accept('prod', event(shared, 'APP_OPENED', { customerUserId: 'cust-prod' }));
    await accept('prod', event(onlyProd, 'DOCUMENTS_UPLOADED', { customerUserId: 'cust-prod' }));
    await accept('default', event(onlyDefault, 'APP_OPENED'));
    // Each delivery made once, so a replay has something to re-queue.
    expect(await deliverDue(store, allDestination)).toHaveLength(5);
    for (const source of ['sandbox', 'prod'])
      await store.quarantine({
        reason: 'invalid',
        dialect: null,
        status: 422,
        detail: { detail: `refused at ${source}` },
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{"eventType":1}'),
        bodySize: 15,
        receivedAt: new Date(),
        source,
      });
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    await database?.drop();
  });

  it('GET /v1/transactions filters by source and shows each transaction’s source', async () => {
    const all = await get('/v1/transactions');
    expect(all.status, all.text).toBe(200);
    expect(ids(all.json.items)).toEqual(
      [`${shared}@sandbox`, `${shared}@prod`, `${onlyProd}@prod`, `${onlyDefault}@default`].sort(),
    );
    expect(ids((await get('/v1/transactions?source=sandbox')).json.items)).toEqual([`${shared}@sandbox`]);
    expect(ids((await get('/v1/transactions?source=prod')).json.items)).toEqual(
      [`${shared}@prod`, `${onlyProd}@prod`].sort(),
    );
    expect(ids((await get('/v1/transactions?source=default')).json.items)).toEqual([`${onlyDefault}@default`]);
    expect((await get('/v1/transactions?source=nowhere')).json.items).toEqual([]);
    // Combined with the other filters, and with a search for the id: both sources' transactions.
    expect(ids((await get('/v1/transactions?source=sandbox&decision=accept')).json.items)).toEqual([
      `${shared}@sandbox`,
    ]);
    expect(ids((await get(`/v1/transactions?q=${shared}`)).json.items)).toEqual(
      [`${shared}@sandbox`, `${shared}@prod`].sort(),
    );
  });

  it('a source parameter that is no source name is a 400 naming the parameter, on every listing', async () => {
    for (const url of [
      '/v1/transactions?source=Not%20A%20Name',
      `/v1/transactions/${shared}?source=UPPER`,
      '/v1/events?source=has%2Fslash',
      '/v1/deliveries?source=-leading-dash',
      '/v1/quarantine?source=Bad!',
    ]) {
      const res = await get(url);
      expect(res.status, url).toBe(400);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.json.detail, url).toMatch(/^source: .* is not a source name/);
    }
    const replay = await call('POST', '/v1/replay', { source: 'Bad Name', destination: allDestination });
    expect(replay.status).toBe(400);
    expect(replay.json.detail).toMatch(/^source: /);
    const reprocess = await call('POST', '/v1/quarantine/reprocess', { source: 'BAD' });
    expect(reprocess.status).toBe(400);
    expect(reprocess.json.detail).toMatch(/^source: /);
    // Longer than any name: the schema's bound, still a 400.
    expect((await get(`/v1/events?source=${'a'.repeat(300)}`)).status).toBe(400);
  });

  it('GET /v1/transactions/:id: 409 naming the sources when several have the id, one with ?source=', async () => {
    const ambiguous = await get(`/v1/transactions/${shared}`);
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.type).toMatch(/^application\/problem\+json/);
    expect(ambiguous.json.type).toMatch(/ambiguous-transaction$/);
    expect([...ambiguous.json.sources].sort()).toEqual(['prod', 'sandbox']);
    expect(ambiguous.json.detail).toContain('?source=');

    const sandbox = await get(`/v1/transactions/${shared}?source=sandbox`);
    expect(sandbox.status, sandbox.text).toBe(200);
    expect(sandbox.json).toMatchObject({ docvTransactionId: shared, source: 'sandbox', eventCount: 2 });
    expect(sandbox.json.events.map((e: { source: string }) => e.source)).toEqual(['sandbox', 'sandbox']);
    expect(sandbox.json.decision).toBe('accept');
    const prod = await get(`/v1/transactions/${shared}?source=prod`);
    expect(prod.json).toMatchObject({ docvTransactionId: shared, source: 'prod', eventCount: 1, decision: null });

    // An id only one source has opens without the parameter.
    expect((await get(`/v1/transactions/${onlyProd}`)).json).toMatchObject({ source: 'prod' });
    const wrong = await get(`/v1/transactions/${onlyProd}?source=sandbox`);
    expect(wrong.status).toBe(404);
    expect(wrong.json.detail).toContain('under source sandbox');
  });

  it('GET /v1/events filters by source; docvTransactionId alone gives that id under every source', async () => {
    const bySource = await get('/v1/events?source=prod');
    expect(bySource.status).toBe(200);
    expect(bySource.json.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual([...events.prod!].sort());
    for (const e of bySource.json.items) expect(e.source).toBe('prod');

    const byId = await get(`/v1/events?docvTransactionId=${shared}`);
    expect(byId.json.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual(
      [...events.sandbox!, events.prod![0]!].sort(),
    );
    const byIdAndSource = await get(`/v1/events?docvTransactionId=${shared}&source=sandbox`);
    expect(byIdAndSource.json.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual(
      [...events.sandbox!].sort(),
    );
    for (const e of byIdAndSource.json.items) expect(e).toMatchObject({ source: 'sandbox', docvTransactionId: shared });
  });

  it('GET /v1/deliveries filters by the source of the delivered event and shows it', async () => {
    const res = await get('/v1/deliveries?source=sandbox');
    expect(res.status).toBe(200);
    expect(res.json.items.map((d: { eventId: string }) => d.eventId).sort()).toEqual([...events.sandbox!].sort());
    for (const d of res.json.items) expect(d).toMatchObject({ source: 'sandbox', docvTransactionId: shared });
    const all = await get('/v1/deliveries');
    expect(all.json.items.map((d: { source: string }) => d.source).sort()).toEqual(
      ['default', 'prod', 'prod', 'sandbox', 'sandbox'].sort(),
    );
  });

  it('POST /v1/replay with a source re-queues only that source’s deliveries', async () => {
    const res = await call('POST', '/v1/replay', { source: 'prod', destination: allDestination });
    expect(res.status, res.text).toBe(202);
    expect(res.json).toEqual({ requeued: 2 });
    const pending = await get('/v1/deliveries?state=pending');
    expect(pending.json.items.map((d: { eventId: string }) => d.eventId).sort()).toEqual([...events.prod!].sort());
    // A transaction's replay under one source leaves the other source's transaction of that id alone.
    const one = await call('POST', '/v1/replay', {
      source: 'sandbox',
      docvTransactionId: shared,
      destination: allDestination,
    });
    expect(one.json).toEqual({ requeued: 2 });
    const after = await get(`/v1/deliveries?state=pending&source=sandbox`);
    expect(after.json.items.map((d: { eventId: string }) => d.eventId).sort()).toEqual([...events.sandbox!].sort());
  });

  it('GET /v1/quarantine filters by source and shows it', async () => {
    const res = await get('/v1/quarantine?source=sandbox');
    expect(res.status, res.text).toBe(200);
    expect(res.json.items).toHaveLength(1);
    expect(res.json.items[0]).toMatchObject({ source: 'sandbox', detail: { detail: 'refused at sandbox' } });
    expect((await get('/v1/quarantine')).json.items.map((q: { source: string }) => q.source).sort()).toEqual([
      'prod',
      'sandbox',
    ]);
    expect((await get('/v1/quarantine?source=default')).json.items).toEqual([]);
  });

  it('GET /v1/sources lists the sources with their secrets only as fingerprints', async () => {
    const res = await get('/v1/sources');
    expect(res.status, res.text).toBe(200);
    expect(res.json.items.map((s: { name: string }) => s.name)).toEqual(['sandbox', 'prod']);
    expect(res.json.items[0]).toMatchObject({ path: '/hooks/sandbox', environment: 'Sandbox', dialect: 'any' });
    expect(res.json.items[0].credentials.join(' ')).toMatch(/shared secret sha256:[0-9a-f]{8}/);
    expect(res.json.items[1].credentials.join(' ')).toMatch(/basic socure:sha256:[0-9a-f]{8}/);
    for (const secret of [SANDBOX_SECRET, SIGNING_KEY, PROD_PASSWORD, 'prod-basic'])
      expect(res.text).not.toContain(secret);
    expect((await get('/v1/sources?extra=1')).status).toBe(400);
  });

  it('POST /v1/destinations takes sources and eventTypes as its subscription, shown and kept by the store', async () => {
    const created = await call('POST', '/v1/destinations', {
      url: 'http://127.0.0.1:9/completions',
      sources: ['sandbox'],
      eventTypes: ['VERIFICATION_COMPLETED'],
    });
    expect(created.status, created.text).toBe(201);
    const name = created.json.name as string;
    expect(created.json.subscription).toEqual({ sources: ['sandbox'], eventTypes: ['VERIFICATION_COMPLETED'] });
    const listed = await get('/v1/destinations');
    const shown = listed.json.items.find((d: { name: string }) => d.name === name);
    expect(shown.subscription).toEqual({ sources: ['sandbox'], eventTypes: ['VERIFICATION_COMPLETED'] });
    expect(listed.json.items.find((d: { name: string }) => d.name === allDestination).subscription).toBeNull();

    // Only the events it subscribes to become its deliveries.
    const later = `tx-later-${process.pid}`;
    const taken = await accept('sandbox', event(later, 'VERIFICATION_COMPLETED', { decision: 'accept' }));
    await accept('sandbox', event(later, 'APP_OPENED'));
    await accept('prod', event(later, 'VERIFICATION_COMPLETED', { decision: 'reject' }));
    const mine = await get(`/v1/deliveries?destination=${encodeURIComponent(name)}`);
    expect(mine.json.items.map((d: { eventId: string }) => d.eventId)).toEqual([taken]);
    const claimed = await store.claimDeliveries({
      workerId: 'w2',
      limit: 50,
      leaseMs: 60_000,
      destinations: [name],
      ordered: false,
    });
    expect(claimed.map((d) => d.eventId)).toEqual([taken]);

    // Posting the URL again replaces the subscription; without one it takes every event.
    const replaced = await call('POST', '/v1/destinations', { url: 'http://127.0.0.1:9/completions' });
    expect(replaced.status).toBe(200);
    expect(replaced.json.subscription).toBeNull();
  });

  it('POST /v1/destinations refuses a subscription it cannot keep, naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ sources: ['Not A Name'] }, /^sources: .*is not a source name/],
      [{ eventTypes: ['not an event type!'] }, /^eventTypes: /],
      [{ sources: [] }, /sources/],
      [{ eventTypes: 'VERIFICATION_COMPLETED' }, /eventTypes/],
    ];
    for (const [fields, message] of cases) {
      const res = await call('POST', '/v1/destinations', { url: 'http://127.0.0.1:9/refused', ...fields });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(`${res.json.detail} ${JSON.stringify(res.json.errors ?? [])}`).toMatch(message);
    }
    expect((await get('/v1/destinations')).json.items.map((d: { name: string }) => d.name)).not.toContain(
      'forward:127.0.0.1:9/refused',
    );
  });

  it('a gone transaction’s 404 names its source', async () => {
    const erased = await call('POST', '/v1/purge', { customerUserId: 'cust-sandbox' });
    expect(erased.status, erased.text).toBe(200);
    const gone = await get(`/v1/transactions/${shared}?source=sandbox`);
    expect(gone.status).toBe(404);
    expect(gone.json.removed).toMatchObject({ reason: 'erasure', source: 'sandbox' });
    expect(gone.json.detail).toContain('under source sandbox');
    // The other source's transaction of that id is untouched, and now the only one.
    expect((await get(`/v1/transactions/${shared}`)).json).toMatchObject({ source: 'prod', eventCount: 1 });
  });
});

describe('adminSourceRoutes', () => {
  it('answers what listSources gives now (a reload shows at once), with no secret in it', async () => {
    let sources = [SOURCES[0]!];
    const app = Fastify();
    await app.register(adminSourceRoutes, { listSources: () => sources.map(summarizeSource) });
    try {
      const first = await app.inject({ url: '/v1/sources' });
      expect(first.json().items.map((s: { name: string }) => s.name)).toEqual(['sandbox']);
      sources = SOURCES;
      const second = await app.inject({ url: '/v1/sources' });
      expect(second.json().items.map((s: { name: string }) => s.name)).toEqual(['sandbox', 'prod']);
      expect(second.body).not.toContain(SANDBOX_SECRET);
      expect(second.body).not.toContain(PROD_PASSWORD);
    } finally {
      await app.close();
    }
  });
});
