import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { parseRetentionPolicy } from '../../src/store/retention-policy.js';
import { skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';

/**
 * Retention and erasure as users see them (issue 20): a receiver started with a policy removes
 * what is past it in the background, and the admin API and the dashboard say what was removed,
 * why and when; POST /v1/purge erases one person and GET /v1/erasures lists the record.
 */
const backends = await testBackends();
const DAY = 86_400_000;

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(backends)('retention and erasure over HTTP ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const receivers: TestReceiver[] = [];
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.destroy();
  });

  it('removes by policy in the background; the API 404 and the dashboard say "removed by retention on …"', async () => {
    const database = await backend.create();
    // What a receiver stored long ago: a finished transaction, and one still open (its raw body goes, it stays).
    const store = await openStore(database.url);
    const old = new Date(Date.now() - 500 * DAY);
    const tx = `tx-ret-${Math.random().toString(36).slice(2, 8)}`;
    await store.ingest({
      ...ingestInput(docvEvent({ docvTransactionId: tx, eventType: 'APP_OPENED' })),
      receivedAt: old,
    });
    await store.ingest({
      ...ingestInput(
        docvEvent({
          docvTransactionId: tx,
          eventType: 'VERIFICATION_COMPLETED',
          decision: 'accept',
          eventTime: '2026-03-01T10:00:05Z',
        }),
      ),
      receivedAt: old,
    });
    const open = await store.ingest({
      ...ingestInput(docvEvent({ docvTransactionId: `${tx}-open`, eventType: 'APP_OPENED' })),
      receivedAt: new Date(Date.now() - 60 * DAY),
    });
    await store.close();

    const r = await startTestReceiver({
      database,
      retention: parseRetentionPolicy('raw=30d,events=400d'),
      retentionIntervalMs: 200,
    });
    receivers.push(r);
    const gone = await until(
      () => r.admin(`/v1/transactions/${tx}`),
      (res) => res.status === 404,
    );
    expect(gone.status).toBe(404);
    expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(gone.json.detail).toMatch(/was removed by retention on \d{4}-\d\d-\d\dT/);
    expect(gone.json.removed).toMatchObject({ reason: 'retention' });

    const page = await fetch(`${r.url}/dashboard/transactions/${tx}`);
    expect(page.status).toBe(404);
    expect(await page.text()).toMatch(/was removed by retention on \d{4}-/);

    const event = await until(
      () => r.admin(`/v1/events/${open.eventId}`),
      (res) => res.json?.removedByRetention !== undefined,
    );
    expect(event.status).toBe(200);
    expect(event.json).toMatchObject({ eventId: open.eventId, payload: {}, rawBody: '', eventType: 'APP_OPENED' });
    expect(event.json.removedByRetention.raw).toMatch(/^\d{4}-/);
    const eventPage = await (await fetch(`${r.url}/dashboard/events/${open.eventId}`)).text();
    expect(eventPage).toContain('removed by retention on');
    // A transaction that never existed is a plain 404.
    const never = await r.admin('/v1/transactions/never-was');
    expect(never.json.detail).not.toMatch(/retention|erased/);
  });

  it('POST /v1/purge erases one customer and GET /v1/erasures lists the record without the id', async () => {
    const r = await startTestReceiver({ database: await backend.create() });
    receivers.push(r);
    const customer = `purge-${Math.random().toString(36).slice(2, 10)}`;
    const tx = `tx-purge-${Math.random().toString(36).slice(2, 8)}`;
    expect((await r.deliver(docvEvent({ docvTransactionId: tx, customerUserId: customer }))).status).toBe(200);
    expect((await r.deliver(docvEvent({ customerUserId: 'keep-me' }))).status).toBe(200);

    const purged = await r.admin('/v1/purge', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerUserId: customer }),
    });
    expect(purged.status).toBe(200);
    expect(purged.json.counts).toMatchObject({ events: 1, transactions: 1 });
    expect(JSON.stringify(purged.json)).not.toContain(customer);

    const gone = await r.admin(`/v1/transactions/${tx}`);
    expect(gone.status).toBe(404);
    expect(gone.json.detail).toMatch(/was erased on request on /);
    const page = await (await fetch(`${r.url}/dashboard/transactions/${tx}`)).text();
    expect(page).toContain('was erased on request on');

    const listed = await r.admin(`/v1/erasures?customerUserId=${encodeURIComponent(customer)}`);
    expect(listed.json.items).toHaveLength(1);
    expect(listed.json.items[0].erasureId).toBe(purged.json.erasureId);
    expect((await r.admin('/v1/erasures?customerUserId=keep-me')).json.items).toEqual([]);
    expect(
      (await r.admin('/v1/purge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
        .status,
    ).toBe(400);
  });
});
