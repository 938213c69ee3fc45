import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, createLogger, defaultReceiverConfig } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';

const PROBLEM = 'application/problem+json';

const backends = await testBackends();

let run = 0;

/** A customerUserId no other test uses, so list filters see only this test's rows. */
function uniqueUser(label: string): string {
  run += 1;
  return `${label}-${process.pid}-${run}-${Math.random().toString(36).slice(2, 8)}`;
}

function expectProblem(res: { status: number; headers: Headers; json: any }, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({
    status,
    title: expect.any(String),
    type: expect.any(String),
    detail: expect.any(String),
  });
}

function expectSecurityHeaders(headers: Headers): void {
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('cache-control')).toBe('no-store');
}

// Every case runs against each store backend; one receiver per backend serves the whole block.
describe.each(backends)('admin API ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await startTestReceiver({ database: await backend.create() });
  });

  afterAll(async () => {
    await receiver?.destroy();
  });

  async function deliverOk(body: unknown, headers?: Record<string, string>): Promise<string> {
    const res = await receiver.deliver(body, headers);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.status).toBe('accepted');
    return res.json.eventId as string;
  }

  /** Follows nextCursor until the last page; bounded so a cursor that never ends fails instead of hanging. */
  async function collectPages(path: string, maxPages = 20): Promise<{ pages: any[][]; items: any[] }> {
    const pages: any[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < maxPages; i += 1) {
      const sep = path.includes('?') ? '&' : '?';
      const res = await receiver.admin(cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      pages.push(res.json.items);
      cursor = res.json.nextCursor;
      if (cursor === null) return { pages, items: pages.flat() };
      expect(typeof cursor).toBe('string');
    }
    throw new Error(`more than ${maxPages} pages for ${path}`);
  }

  describe('GET /v1/transactions', () => {
    it('filters by status, decision and customerUserId, alone and combined', async () => {
      const user = uniqueUser('filters');
      const other = uniqueUser('filters-other');
      const opened = docvEvent({ customerUserId: user });
      const accepted = docvEvent({ customerUserId: user, eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
      const rejected = docvEvent({ customerUserId: user, eventType: 'VERIFICATION_COMPLETED', decision: 'reject' });
      const uploadedOther = docvEvent({ customerUserId: other, eventType: 'DOCUMENTS_UPLOADED' });
      const acceptedOther = docvEvent({
        customerUserId: other,
        eventType: 'VERIFICATION_COMPLETED',
        decision: 'accept',
      });
      for (const e of [opened, accepted, rejected, uploadedOther, acceptedOther]) await deliverOk(e);

      const ids = async (query: string) => {
        const res = await receiver.admin(`/v1/transactions?${query}`);
        expect(res.status, JSON.stringify(res.json)).toBe(200);
        return (res.json.items as Array<{ docvTransactionId: string }>).map((t) => t.docvTransactionId).sort();
      };
      const sorted = (...events: Array<Record<string, unknown>>) =>
        events.map((e) => e.docvTransactionId as string).sort();

      expect(await ids(`customerUserId=${encodeURIComponent(user)}`)).toEqual(sorted(opened, accepted, rejected));
      expect(await ids(`customerUserId=${encodeURIComponent(user)}&status=VERIFICATION_COMPLETED`)).toEqual(
        sorted(accepted, rejected),
      );
      expect(await ids(`customerUserId=${encodeURIComponent(user)}&decision=accept`)).toEqual(sorted(accepted));
      expect(await ids(`customerUserId=${encodeURIComponent(user)}&status=APP_OPENED`)).toEqual(sorted(opened));
      expect(await ids(`customerUserId=${encodeURIComponent(user)}&status=SESSION_EXPIRED`)).toEqual([]);

      // Without the customer filter the other filters still hold across everyone's rows.
      const byDecision = await receiver.admin('/v1/transactions?decision=accept&limit=500');
      expect(byDecision.status).toBe(200);
      const acceptedIds = (byDecision.json.items as Array<{ docvTransactionId: string; decision: string }>).map(
        (t) => t.docvTransactionId,
      );
      expect(acceptedIds).toEqual(expect.arrayContaining(sorted(accepted, acceptedOther)));
      expect(acceptedIds).not.toContain(rejected.docvTransactionId);
      for (const t of byDecision.json.items) expect(t.decision).toBe('accept');

      const byStatus = await receiver.admin('/v1/transactions?status=DOCUMENTS_UPLOADED&limit=500');
      for (const t of byStatus.json.items) expect(t.status).toBe('DOCUMENTS_UPLOADED');
      expect(byStatus.json.items.map((t: { docvTransactionId: string }) => t.docvTransactionId)).toContain(
        uploadedOther.docvTransactionId,
      );
    });

    it('lists lifecycle summaries without internal bookkeeping', async () => {
      const user = uniqueUser('shape');
      const e = docvEvent({
        customerUserId: user,
        eventType: 'VERIFICATION_COMPLETED',
        decision: 'resubmit',
        eventTime: '2026-03-02T08:00:00Z',
      });
      await deliverOk(e);
      const res = await receiver.admin(`/v1/transactions?customerUserId=${encodeURIComponent(user)}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json.nextCursor).toBeNull();
      expect(res.json.items).toHaveLength(1);
      const summary = res.json.items[0];
      expect(summary).toMatchObject({
        docvTransactionId: e.docvTransactionId,
        status: 'VERIFICATION_COMPLETED',
        decision: 'resubmit',
        customerUserId: user,
        firstEventAt: '2026-03-02T08:00:00Z',
        lastEventAt: '2026-03-02T08:00:00Z',
        eventCount: 1,
        anomalies: [],
      });
      expect(Number.isNaN(Date.parse(summary.firstReceivedAt))).toBe(false);
      expect(Number.isNaN(Date.parse(summary.lastReceivedAt))).toBe(false);
      // The fold's bookkeeping and the stored row's internals stay inside the store.
      expect(summary).not.toHaveProperty('seen');
      expect(summary).not.toHaveProperty('state');
      expect(summary).not.toHaveProperty('events');
    });

    it('pages with a cursor across several pages, newest first, with no duplicates or gaps', async () => {
      const user = uniqueUser('pages');
      const created: string[] = [];
      for (let i = 0; i < 23; i += 1) {
        const e = docvEvent({ customerUserId: user });
        await deliverOk(e);
        created.push(e.docvTransactionId as string);
      }
      const { pages, items } = await collectPages(
        `/v1/transactions?customerUserId=${encodeURIComponent(user)}&limit=5`,
      );
      expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
      const ids = items.map((t: { docvTransactionId: string }) => t.docvTransactionId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual([...created].reverse());
    });

    it('ends without an empty trailing page when the total is a multiple of the limit', async () => {
      const user = uniqueUser('exact');
      for (let i = 0; i < 6; i += 1) await deliverOk(docvEvent({ customerUserId: user }));
      const { pages } = await collectPages(`/v1/transactions?customerUserId=${encodeURIComponent(user)}&limit=3`);
      expect(pages.map((p) => p.length)).toEqual([3, 3]);
    });

    it('keeps pages stable when transactions arrive or change between page requests', async () => {
      const user = uniqueUser('stable');
      const created: string[] = [];
      for (let i = 0; i < 9; i += 1) {
        const e = docvEvent({ customerUserId: user });
        await deliverOk(e);
        created.push(e.docvTransactionId as string);
      }
      const path = `/v1/transactions?customerUserId=${encodeURIComponent(user)}&limit=4`;
      const first = await receiver.admin(path);
      expect(first.status).toBe(200);
      // A new transaction and an update to one already listed land between the two requests.
      const late = docvEvent({ customerUserId: user });
      await deliverOk(late);
      await deliverOk({
        ...docvEvent({ customerUserId: user }),
        docvTransactionId: created[8],
        eventType: 'DOCUMENTS_UPLOADED',
      });

      const seen: string[] = first.json.items.map((t: { docvTransactionId: string }) => t.docvTransactionId);
      let cursor: string | null = first.json.nextCursor;
      for (let i = 0; cursor !== null && i < 10; i += 1) {
        const next = await receiver.admin(`${path}&cursor=${encodeURIComponent(cursor)}`);
        expect(next.status).toBe(200);
        seen.push(...next.json.items.map((t: { docvTransactionId: string }) => t.docvTransactionId));
        cursor = next.json.nextCursor;
      }
      expect(cursor).toBeNull();
      expect(seen).toEqual([...created].reverse());
    });

    it.each([
      ['limit above 500', 'limit=501', '/limit'],
      ['limit 0', 'limit=0', '/limit'],
      ['a non-numeric limit', 'limit=ten', '/limit'],
      ['an unknown status', 'status=FINISHED', '/status'],
      ['an unknown decision', 'decision=maybe', '/decision'],
    ])('answers 400 problem+json with errors for %s', async (_label, query, path) => {
      const res = await receiver.admin(`/v1/transactions?${query}`);
      expectProblem(res, 400);
      expect(res.json.errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ path, message: expect.any(String) })]),
      );
    });

    it('accepts the largest limit, 500', async () => {
      const res = await receiver.admin('/v1/transactions?limit=500');
      expect(res.status).toBe(200);
      expect(Array.isArray(res.json.items)).toBe(true);
    });

    it.each([
      ['garbage', 'not-a-cursor!'],
      ['a well-formed base64url of something else', Buffer.from('p:abc').toString('base64url')],
      ['a negative position', Buffer.from('p:-1').toString('base64url')],
      ['an over-long cursor', 'A'.repeat(300)],
    ])('answers 400 problem+json for a bad cursor: %s', async (_label, cursor) => {
      const res = await receiver.admin(`/v1/transactions?cursor=${encodeURIComponent(cursor)}`);
      expectProblem(res, 400);
    });

    it('searches by transaction id, customer user id or event id (exact or prefix) and filters by anomaly and activity time', async () => {
      const user = uniqueUser('search');
      const quiet = docvEvent({ customerUserId: user });
      const quietEvent = await deliverOk(quiet);
      const torn = docvEvent({ customerUserId: user, eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
      await deliverOk(torn);
      await deliverOk({ ...torn, decision: 'reject', eventTime: '2026-03-01T10:01:00Z' });
      const ids = (path: string) =>
        receiver.admin(path).then((res) => {
          expect(res.status, JSON.stringify(res.json)).toBe(200);
          return (res.json.items as Array<{ docvTransactionId: string }>).map((t) => t.docvTransactionId);
        });
      // The one with the latest activity comes first.
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(user)}`)).toEqual([
        torn.docvTransactionId,
        quiet.docvTransactionId,
      ]);
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(user.slice(0, -3))}`)).toHaveLength(2);
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(String(quiet.docvTransactionId))}`)).toEqual([
        quiet.docvTransactionId,
      ]);
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(quietEvent.slice(0, 12))}`)).toContain(
        quiet.docvTransactionId,
      );
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(user)}&anomaly=conflicting_decisions`)).toEqual([
        torn.docvTransactionId,
      ]);
      const future = new Date(Date.now() + 60_000).toISOString();
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(user)}&from=${future}`)).toEqual([]);
      expect(await ids(`/v1/transactions?q=${encodeURIComponent(user)}&to=${future}&dialect=asyncapi`)).toHaveLength(2);
      expectProblem(await receiver.admin('/v1/transactions?from=yesterday'), 400);
      expectProblem(await receiver.admin(`/v1/transactions?q=${'x'.repeat(300)}`), 400);
    });

    it('answers 400 problem+json naming an unknown query parameter', async () => {
      const res = await receiver.admin('/v1/transactions?stauts=APP_OPENED');
      expectProblem(res, 400);
      expect(res.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/stauts' })]));
    });
  });

  describe('GET /v1/transactions/{docvTransactionId}', () => {
    it('returns the lifecycle and its events in eventTime order whatever the delivery order', async () => {
      const id = docvEvent().docvTransactionId as string;
      const user = uniqueUser('lifecycle');
      // 11:30+02:00 is 09:30Z: earlier than 10:00Z although it sorts later as text.
      const opened = {
        eventType: 'APP_OPENED',
        docvTransactionId: id,
        eventTime: '2026-03-01T11:30:00+02:00',
        customerUserId: user,
      };
      const uploaded = {
        eventType: 'DOCUMENTS_UPLOADED',
        docvTransactionId: id,
        eventTime: '2026-03-01T10:00:00Z',
        customerUserId: user,
      };
      const completed = {
        eventType: 'VERIFICATION_COMPLETED',
        docvTransactionId: id,
        eventTime: '2026-03-01T10:05:00Z',
        customerUserId: user,
        decision: 'accept',
      };
      const completedId = await deliverOk(completed);
      const uploadedId = await deliverOk(uploaded);
      const openedId = await deliverOk(opened);

      const res = await receiver.admin(`/v1/transactions/${encodeURIComponent(id)}`);
      expect(res.status).toBe(200);
      expectSecurityHeaders(res.headers);
      expect(res.json).toMatchObject({
        docvTransactionId: id,
        status: 'VERIFICATION_COMPLETED',
        decision: 'accept',
        customerUserId: user,
        eventCount: 3,
        anomalies: [],
      });
      expect(Date.parse(res.json.firstEventAt)).toBe(Date.parse(opened.eventTime));
      expect(Date.parse(res.json.lastEventAt)).toBe(Date.parse(completed.eventTime));
      expect(res.json).not.toHaveProperty('seen');
      expect(res.json.events.map((e: { eventId: string }) => e.eventId)).toEqual([openedId, uploadedId, completedId]);
      expect(res.json.events.map((e: { eventType: string }) => e.eventType)).toEqual([
        'APP_OPENED',
        'DOCUMENTS_UPLOADED',
        'VERIFICATION_COMPLETED',
      ]);
      expect(res.json.events[2]).toMatchObject({
        docvTransactionId: id,
        eventTime: completed.eventTime,
        decision: 'accept',
        customerUserId: user,
      });
    });

    it('records a contradiction as an anomaly instead of overwriting the decision silently', async () => {
      const id = docvEvent().docvTransactionId as string;
      await deliverOk({
        eventType: 'VERIFICATION_COMPLETED',
        docvTransactionId: id,
        eventTime: '2026-03-01T10:00:00Z',
        decision: 'accept',
      });
      await deliverOk({
        eventType: 'VERIFICATION_COMPLETED',
        docvTransactionId: id,
        eventTime: '2026-03-01T10:01:00Z',
        decision: 'reject',
      });
      const res = await receiver.admin(`/v1/transactions/${encodeURIComponent(id)}`);
      expect(res.status).toBe(200);
      expect(res.json.anomalies).toEqual([expect.objectContaining({ code: 'conflicting_decisions' })]);
      expect(res.json.events).toHaveLength(2);
    });

    it('answers 404 problem+json for an unknown id', async () => {
      const res = await receiver.admin('/v1/transactions/no-such-transaction');
      expectProblem(res, 404);
      expect(res.json.detail).toContain('no-such-transaction');
      expectSecurityHeaders(res.headers);
    });

    it.each([
      ['reserved URL characters', "a/b c?d#e%f&g=h+;,:@!$'()*[]".padEnd(256, 'x')],
      ['percent signs that look like escapes', '%2F%20%41'.repeat(28).padEnd(256, '%')],
      ['non-ASCII characters', 'ü€中'.repeat(86).slice(0, 256)],
      ['emoji (surrogate pairs)', '🙂'.repeat(128)],
    ])('serves ids of 256 characters with %s', async (_label, id) => {
      expect(id.length).toBe(256);
      const eventId = await deliverOk(docvEvent({ docvTransactionId: id }));
      const res = await receiver.admin(`/v1/transactions/${encodeURIComponent(id)}`);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      expect(res.json.docvTransactionId).toBe(id);
      expect(res.json.events.map((e: { eventId: string }) => e.eventId)).toEqual([eventId]);

      const events = await receiver.admin(`/v1/events?docvTransactionId=${encodeURIComponent(id)}`);
      expect(events.status).toBe(200);
      expect(events.json.items.map((e: { eventId: string }) => e.eventId)).toEqual([eventId]);
    });
  });

  describe('GET /v1/events', () => {
    it('filters by docvTransactionId and eventType', async () => {
      const id = docvEvent().docvTransactionId as string;
      const openedId = await deliverOk({
        eventType: 'APP_OPENED',
        docvTransactionId: id,
        eventTime: '2026-03-01T10:00:00Z',
      });
      const uploadedId = await deliverOk({
        eventType: 'DOCUMENTS_UPLOADED',
        docvTransactionId: id,
        eventTime: '2026-03-01T10:01:00Z',
      });
      const otherId = await deliverOk(docvEvent({ eventType: 'DOCUMENTS_UPLOADED' }));

      const byTx = await receiver.admin(`/v1/events?docvTransactionId=${encodeURIComponent(id)}`);
      expect(byTx.status).toBe(200);
      expect(byTx.json.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual([openedId, uploadedId].sort());
      expect(byTx.json.nextCursor).toBeNull();
      expect(byTx.json.items.find((e: { eventId: string }) => e.eventId === uploadedId)).toMatchObject({
        docvTransactionId: id,
        eventType: 'DOCUMENTS_UPLOADED',
        eventTime: '2026-03-01T10:01:00Z',
        decision: null,
        receivedAt: expect.any(String),
      });

      const both = await receiver.admin(
        `/v1/events?docvTransactionId=${encodeURIComponent(id)}&eventType=DOCUMENTS_UPLOADED`,
      );
      expect(both.json.items.map((e: { eventId: string }) => e.eventId)).toEqual([uploadedId]);

      const byType = await receiver.admin('/v1/events?eventType=DOCUMENTS_UPLOADED&limit=500');
      expect(byType.status).toBe(200);
      for (const e of byType.json.items) expect(e.eventType).toBe('DOCUMENTS_UPLOADED');
      expect(byType.json.items.map((e: { eventId: string }) => e.eventId)).toEqual(
        expect.arrayContaining([uploadedId, otherId]),
      );
      expect(byType.json.items.map((e: { eventId: string }) => e.eventId)).not.toContain(openedId);
    });

    it('pages with a cursor, newest first, with no duplicates or gaps', async () => {
      const id = docvEvent().docvTransactionId as string;
      const created: string[] = [];
      for (let i = 0; i < 11; i += 1) {
        created.push(
          await deliverOk({
            eventType: 'APP_OPENED',
            docvTransactionId: id,
            eventTime: `2026-03-01T10:${String(i).padStart(2, '0')}:00Z`,
          }),
        );
      }
      const { pages, items } = await collectPages(`/v1/events?docvTransactionId=${encodeURIComponent(id)}&limit=4`);
      expect(pages.map((p) => p.length)).toEqual([4, 4, 3]);
      const ids = items.map((e: { eventId: string }) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual([...created].reverse());
    });

    it.each([
      ['limit above 500', 'limit=501'],
      ['an eventType no sender could write', 'eventType=APP%20CLOSED!'],
      ['an unknown dialect', 'dialect=soap'],
      ['a bad cursor', 'cursor=bm9wZQ'],
      ['an unknown parameter', 'transactionId=abc'],
    ])('answers 400 problem+json for %s', async (_label, query) => {
      expectProblem(await receiver.admin(`/v1/events?${query}`), 400);
    });
  });

  describe('GET /v1/events/{eventId}', () => {
    it('returns the raw payload exactly as sent, unknown properties, whitespace and key order included', async () => {
      const id = docvEvent().docvTransactionId as string;
      const raw = `{\n  "zExtra" : {"nested": [1, 2.50, "é"]},\r\n\t"eventTime":"2026-03-01T10:00:00.123+01:00",  "docvTransactionId": ${JSON.stringify(id)},\n  "eventType": "APP_OPENED", "vendorField": null\n}\n`;
      const eventId = await deliverOk(raw);
      const res = await receiver.admin(`/v1/events/${encodeURIComponent(eventId)}`);
      expect(res.status).toBe(200);
      expectSecurityHeaders(res.headers);
      expect(res.json.rawBody).toBe(raw);
      expect(res.json.payload).toEqual({
        zExtra: { nested: [1, 2.5, 'é'] },
        eventTime: '2026-03-01T10:00:00.123+01:00',
        docvTransactionId: id,
        eventType: 'APP_OPENED',
        vendorField: null,
      });
      expect(res.json).toMatchObject({
        eventId,
        docvTransactionId: id,
        eventType: 'APP_OPENED',
        eventTime: '2026-03-01T10:00:00.123+01:00',
      });
    });

    it('stores request headers without Authorization or Cookie', async () => {
      const eventId = await deliverOk(docvEvent(), {
        authorization: 'Bearer super-secret-token',
        cookie: 'session=also-secret',
        'x-request-source': 'admin-api-test',
        'webhook-id': `msg_${uniqueUser('hdr')}`,
      });
      const res = await receiver.admin(`/v1/events/${encodeURIComponent(eventId)}`);
      expect(res.status).toBe(200);
      const headers = res.json.headers as Record<string, string>;
      expect(headers['x-request-source']).toBe('admin-api-test');
      expect(headers['content-type']).toBe('application/json');
      expect(Object.keys(headers).map((h) => h.toLowerCase())).not.toContain('authorization');
      expect(Object.keys(headers).map((h) => h.toLowerCase())).not.toContain('cookie');
      expect(JSON.stringify(res.json)).not.toContain('super-secret-token');
      expect(JSON.stringify(res.json)).not.toContain('also-secret');
      expect(res.json.webhookId).toMatch(/^msg_hdr-/);
      expect(res.json).not.toHaveProperty('deliveryId');
    });

    it('answers 404 problem+json for an unknown event id', async () => {
      const res = await receiver.admin('/v1/events/evt_does_not_exist');
      expectProblem(res, 404);
      expectSecurityHeaders(res.headers);
    });
  });

  describe('GET /v1/quarantine', () => {
    it('keeps nothing when no webhook authentication is configured', async () => {
      const bad = await receiver.deliver({ eventType: 'APP_OPENED' });
      expect(bad.status).toBe(422);
      const res = await receiver.admin('/v1/quarantine');
      expect(res.status).toBe(200);
      expectSecurityHeaders(res.headers);
      expect(res.json).toEqual({ items: [], nextCursor: null });
    });

    it.each([
      ['limit above 500', 'limit=501'],
      ['a bad cursor', 'cursor=bm9wZQ'],
      ['an unknown parameter', 'bogus=invalid'],
      ['a from that is no date-time', 'from=yesterday'],
    ])('answers 400 problem+json for %s', async (_label, query) => {
      expectProblem(await receiver.admin(`/v1/quarantine?${query}`), 400);
    });

    describe('with webhook authentication configured', () => {
      let database: TestDatabase;
      let store: Store;
      let app: FastifyInstance;
      let base: string;

      beforeAll(async () => {
        database = await backend.create();
        store = await openStore(database.url);
        app = await buildApp({
          config: defaultReceiverConfig({ port: 0, logLevel: 'silent', auth: { webhookSecrets: ['hook-secret-1'] } }),
          store,
          logger: createLogger({ level: 'silent', pretty: false }),
        });
        await app.listen({ port: 0, host: '127.0.0.1' });
        const address = app.server.address();
        base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      });

      afterAll(async () => {
        await app?.close();
        await store?.close();
        await database?.drop();
      });

      const post = (body: string, headers: Record<string, string>) =>
        fetch(`${base}/socure/docv/webhook`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', ...headers },
        });

      it('lists authenticated rejections newest first, headers without credentials, and never unauthenticated traffic', async () => {
        const unauthenticated = await post('{"eventType":"APP_OPENED"}', { authorization: 'Bearer wrong' });
        expect(unauthenticated.status).toBe(401);
        const invalid = await post('{"eventType":"APP_OPENED","extra":1}', {
          authorization: 'Bearer hook-secret-1',
          cookie: 'sid=secret-cookie',
          'x-trace': 't1',
        });
        expect(invalid.status).toBe(422);
        const notJson = await post('{not json', { authorization: 'Bearer hook-secret-1' });
        expect(notJson.status).toBe(400);

        const res = await fetch(`${base}/v1/quarantine`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { items: any[]; nextCursor: string | null };
        expect(body.items).toHaveLength(2);
        expect(body.items.map((q) => q.status)).toEqual([400, 422]);
        const q = body.items[1];
        expect(q).toMatchObject({
          reason: 'invalid',
          status: 422,
          body: '{"eventType":"APP_OPENED","extra":1}',
          bodyTruncated: false,
          quarantineId: expect.any(String),
        });
        expect(q.detail.errors).toEqual(
          expect.arrayContaining([expect.objectContaining({ path: '/docvTransactionId' })]),
        );
        expect(q.headers['x-trace']).toBe('t1');
        expect(q.headers).not.toHaveProperty('authorization');
        expect(q.headers).not.toHaveProperty('cookie');
        expect(JSON.stringify(body)).not.toContain('hook-secret-1');
        expect(JSON.stringify(body)).not.toContain('secret-cookie');

        const first = (await (await fetch(`${base}/v1/quarantine?limit=1`)).json()) as {
          items: any[];
          nextCursor: string;
        };
        expect(first.items.map((x) => x.status)).toEqual([400]);
        const second = (await (
          await fetch(`${base}/v1/quarantine?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)
        ).json()) as { items: any[]; nextCursor: string | null };
        expect(second.items.map((x) => x.status)).toEqual([422]);
        expect(second.nextCursor).toBeNull();
      });
    });
  });

  describe('health', () => {
    it('/healthz and /readyz answer 200 while the store is open', async () => {
      const health = await receiver.admin('/healthz');
      expect(health.status).toBe(200);
      expect(health.json).toEqual({ status: 'ok' });
      const ready = await receiver.admin('/readyz');
      expect(ready.status).toBe(200);
      expect(ready.json).toEqual({ status: 'ready', store: backend.name });
    });

    it('/readyz answers 503 problem+json with Retry-After once the store is closed; /healthz stays 200', async () => {
      const r = await startTestReceiver({ database: await backend.create() });
      try {
        await r.store.close();
        const ready = await r.admin('/readyz');
        expectProblem(ready, 503);
        expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
        expect((await r.admin('/healthz')).status).toBe(200);
        // Ingest agrees: nothing can be committed, so the sender is told to retry.
        const delivery = await r.deliver(docvEvent());
        expect(delivery.status).toBe(503);
        expect(delivery.headers.get('retry-after')).toMatch(/^\d+$/);
      } finally {
        await r.destroy();
      }
    });
  });

  describe('admin auth', () => {
    describe('with an admin token', () => {
      const token = 'admin-token-for-tests';
      let secured: TestReceiver;
      let eventId: string;

      beforeAll(async () => {
        secured = await startTestReceiver({ adminToken: token, database: await backend.create() });
        const res = await secured.deliver(docvEvent());
        expect(res.status).toBe(200);
        eventId = res.json.eventId;
      });

      afterAll(async () => {
        await secured?.destroy();
      });

      it.each(['/v1/transactions', '/v1/events', '/v1/quarantine', '/v1/transactions/x', '/v1/events/x'])(
        '%s answers 401 without a bearer token',
        async (path) => {
          const res = await secured.admin(path);
          expectProblem(res, 401);
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
          expectSecurityHeaders(res.headers);
          expect(JSON.stringify(res.json)).not.toContain(token);
        },
      );

      it.each([
        ['a wrong token', `Bearer ${token}x`],
        ['a prefix of the token', `Bearer ${token.slice(0, -1)}`],
        ['the token without the scheme', token],
        ['another scheme', `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`],
        ['an empty bearer', 'Bearer '],
      ])('answers 401 for %s', async (_label, authorization) => {
        const res = await secured.admin('/v1/transactions', { headers: { authorization } });
        expectProblem(res, 401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      });

      it('answers 200 with the right token', async () => {
        const res = await secured.admin('/v1/transactions', { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
        expectSecurityHeaders(res.headers);
        expect(res.json.items).toHaveLength(1);
        const event = await secured.admin(`/v1/events/${eventId}`, { headers: { authorization: `Bearer ${token}` } });
        expect(event.status).toBe(200);
        expect(event.json.eventId).toBe(eventId);
      });

      it('leaves health and ingest outside admin auth', async () => {
        expect((await secured.admin('/healthz')).status).toBe(200);
        expect((await secured.admin('/readyz')).status).toBe(200);
        expect((await secured.deliver(docvEvent())).status).toBe(200);
      });
    });

    it('without a token, is open on loopback', async () => {
      const res = await receiver.admin('/v1/transactions?limit=1');
      expect(res.status).toBe(200);
      expect(res.headers.get('www-authenticate')).toBeNull();
    });

    it('sends the security headers on admin errors too', async () => {
      const bad = await receiver.admin('/v1/transactions?limit=501');
      expect(bad.status).toBe(400);
      expectSecurityHeaders(bad.headers);
      const list = await receiver.admin('/v1/events');
      expect(list.status).toBe(200);
      expectSecurityHeaders(list.headers);
    });

    describe('listening beyond loopback', () => {
      let database: TestDatabase;
      let store: Store;

      beforeAll(async () => {
        database = await backend.create();
        store = await openStore(database.url);
      });

      afterAll(async () => {
        await store?.close();
        await database?.drop();
      });

      const build = (adminToken?: string) =>
        buildApp({
          config: defaultReceiverConfig({
            host: '0.0.0.0',
            port: 0,
            logLevel: 'silent',
            ...(adminToken ? { adminToken } : {}),
          }),
          store,
          logger: createLogger({ level: 'silent', pretty: false }),
        });

      it('without a token, refuses the admin API with 403 problem+json but still answers health', async () => {
        const app = await build();
        try {
          for (const url of ['/v1/transactions', '/v1/events', '/v1/quarantine', '/v1/transactions/x']) {
            const res = await app.inject({ method: 'GET', url });
            expect(res.statusCode, url).toBe(403);
            expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
            expect(res.json()).toMatchObject({ status: 403, detail: expect.stringContaining('DOCV_ADMIN_TOKEN') });
            expect(res.headers['x-content-type-options']).toBe('nosniff');
          }
          expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
        } finally {
          await app.close();
        }
      });

      it('with a token, requires it', async () => {
        const app = await build('public-admin-token');
        try {
          expect((await app.inject({ method: 'GET', url: '/v1/transactions' })).statusCode).toBe(401);
          const ok = await app.inject({
            method: 'GET',
            url: '/v1/transactions',
            headers: { authorization: 'Bearer public-admin-token' },
          });
          expect(ok.statusCode).toBe(200);
          expect(ok.json()).toEqual({ items: [], nextCursor: null });
        } finally {
          await app.close();
        }
      });
    });
  });

  describe('problem responses', () => {
    it('use application/problem+json for unknown routes', async () => {
      const res = await receiver.admin('/v1/nothing-here');
      expectProblem(res, 404);
      expect(res.headers.get('content-type')).toContain(PROBLEM);
    });
  });
});
