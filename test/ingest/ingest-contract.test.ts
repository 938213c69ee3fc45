import Database from 'better-sqlite3';
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/drivers.js';
import { postgresBackend, skipUnavailable, testBackends } from '../helpers/backends.js';
import { docvEvent, startTestReceiver, tempDir, type TestReceiver } from '../helpers/receiver.js';

const backends = await testBackends();

function expectProblem(res: { status: number; headers: Headers; json: any }, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({
    status,
    type: expect.stringMatching(/^urn:docv-webhooks:problem:/),
    title: expect.any(String),
    detail: expect.any(String),
  });
}

describe.each(backends)(
  'ingest contract: every row of the status table in docs/http-contract.md ($name)',
  (backend) => {
    if (skipUnavailable(backend)) return;
    let r: TestReceiver;
    /** Reads stored rows straight from the database, as another process would. */
    const rows = <T = unknown>(sql: string, ...params: unknown[]) => r.database.rows<T>(sql, ...params);
    beforeAll(async () => {
      r = await startTestReceiver({ database: await backend.create() });
    });
    afterAll(async () => r.destroy());

    it('200 accepted: committed durably before the answer, with raw bytes and headers minus credentials', async () => {
      const tx = `tx-accept-${Date.now()}`;
      const raw = `{ "eventType": "APP_OPENED",  "docvTransactionId": "${tx}", "eventTime": "2026-03-01T10:00:00Z", "extra": {"kept": true} }`;
      const res = await r.deliver(raw, { authorization: 'Bearer not-stored', cookie: 'a=b', 'x-request-id': 'abc' });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ status: 'accepted', eventId: expect.stringMatching(/^evt_/) });
      const [row] = await rows<{ event_id: string; raw_body: Buffer; headers: string; event_type: string }>(
        'SELECT * FROM events WHERE docv_transaction_id = ?',
        tx,
      );
      expect(row!.event_id).toBe(res.json.eventId);
      expect(row!.raw_body.toString('utf8')).toBe(raw);
      const headers = JSON.parse(row!.headers);
      expect(headers['x-request-id']).toBe('abc');
      expect(headers).not.toHaveProperty('authorization');
      expect(headers).not.toHaveProperty('cookie');
      const [tr] = await rows<{ status: string }>('SELECT status FROM transactions WHERE docv_transaction_id = ?', tx);
      expect(tr!.status).toBe('APP_OPENED');
    });

    it('200 duplicate by content: same canonical payload (other key order, whitespace) → the first eventId', async () => {
      const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
      const first = await r.deliver(event);
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(event).reverse()), null, 2);
      const again = await r.deliver(reordered);
      expect(first.json.status).toBe('accepted');
      expect(again).toMatchObject({ status: 200, json: { status: 'duplicate', eventId: first.json.eventId } });
      expect(await rows('SELECT 1 FROM events WHERE docv_transaction_id = ?', event.docvTransactionId)).toHaveLength(1);
    });

    it('200 duplicate by delivery id (webhook-id), even when the payload is reformatted', async () => {
      const event = docvEvent();
      const id = `msg_${Date.now()}`;
      const first = await r.deliver(event, { 'webhook-id': id });
      const again = await r.deliver(JSON.stringify(event, null, 4), { 'webhook-id': id });
      expect(again.json).toEqual({ status: 'duplicate', eventId: first.json.eventId });
    });

    it('a new delivery id is a new delivery, even with a payload seen before', async () => {
      // With delivery ids the sender tells us what is a retry; a new id is a new event.
      const event = docvEvent();
      const a = await r.deliver(event, { 'webhook-id': `a-${Date.now()}` });
      const b = await r.deliver(event, { 'webhook-id': `b-${Date.now()}` });
      expect(a.json.status).toBe('accepted');
      expect(b.json.status).toBe('accepted');
      expect(b.json.eventId).not.toBe(a.json.eventId);
    });

    it('409 when a delivery id comes back with a different body', async () => {
      const id = `msg-conflict-${Date.now()}`;
      const event = docvEvent();
      const first = await r.deliver(event, { 'webhook-id': id });
      const res = await r.deliver({ ...event, eventType: 'DOCUMENTS_UPLOADED' }, { 'webhook-id': id });
      expectProblem(res, 409);
      expect(res.json.eventId).toBe(first.json.eventId);
      expect(res.json.detail).toContain(id);
    });

    it('400 when the body is not JSON, or not UTF-8', async () => {
      const res = await r.deliver('{"eventType": "APP_OPENED",');
      expectProblem(res, 400);
      expect(res.json.detail).toMatch(/not valid JSON/);
      const latin1 = await r.deliver(Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]));
      expectProblem(latin1, 400);
      expect(latin1.json.detail).toMatch(/UTF-8/);
      expectProblem(await r.deliver(''), 400);
    });

    it.each(['GET', 'PUT', 'DELETE', 'PATCH'])('405 with Allow: POST for %s', async (method) => {
      const res = await fetch(r.webhookUrl, {
        method,
        ...(method === 'GET' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }),
      });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    });

    it('413 over the limit, announced by Content-Length: refused without reading the body', async () => {
      const res = await r.deliver(JSON.stringify(docvEvent({ padding: 'x'.repeat(300 * 1024) })));
      expectProblem(res, 413);
      expect(res.json.limit).toBe(256 * 1024);
    });

    it('413 for a chunked body that grows past the limit: the read stops there', async () => {
      const url = new URL(r.webhookUrl);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', (err) =>
          (err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET'
            ? undefined
            : reject(err),
        );
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let sent = 0;
        const pump = () => {
          // Bounded: at most 4 MiB, far past the limit; the server answers long before.
          while (sent < 64 && req.write(chunk)) sent++;
          if (sent < 64 && !req.destroyed) req.once('drain', pump);
        };
        pump();
        setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref();
      });
      expect(status).toBe(413);
    });

    it.each([
      [undefined, 'missing'],
      ['text/plain', 'not JSON'],
      ['application/x-www-form-urlencoded', 'not JSON'],
      ['application/json; charset=latin1', 'UTF-8'],
    ])('415 for content type %s', async (contentType, detail) => {
      const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
      const res = await fetch(r.webhookUrl, { method: 'POST', body: new Blob([JSON.stringify(docvEvent())]), headers });
      expect(res.status).toBe(415);
      expect((await res.json()).detail).toContain(detail);
    });

    it('accepts application/json with charset and application/*+json', async () => {
      expect((await r.deliver(docvEvent(), { 'content-type': 'application/json; charset=UTF-8' })).status).toBe(200);
      expect((await r.deliver(docvEvent(), { 'content-type': 'application/cloudevents+json' })).status).toBe(200);
    });

    it('422 lists every violation with a JSON Pointer', async () => {
      const res = await r.deliver({
        eventType: 'APP_OPENED',
        docvTransactionId: '',
        eventTime: '2026-03-01 10:00',
        decision: 'accept',
      });
      expectProblem(res, 422);
      expect(res.json.errors).toEqual(
        expect.arrayContaining([
          { path: '/docvTransactionId', message: 'must not be empty' },
          { path: '/eventTime', message: expect.stringContaining('RFC 3339') },
          { path: '/decision', message: expect.stringContaining('absent on APP_OPENED') },
        ]),
      );
      expect(res.json.errors).toHaveLength(3);
    });

    it('accepts VERIFICATION_COMPLETED without a decision; the lifecycle waits for it', async () => {
      const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED' });
      expect((await r.deliver(event)).status).toBe(200);
      const tx = await r.admin(`/v1/transactions/${event.docvTransactionId}`);
      expect(tx.json).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: null });
    });

    it('400 for a delivery id longer than 256 characters', async () => {
      expectProblem(await r.deliver(docvEvent(), { 'webhook-id': 'x'.repeat(257) }), 400);
    });

    it('without authentication configured, nothing rejected is quarantined', async () => {
      await r.deliver('not json');
      expect(await rows('SELECT 1 FROM quarantine')).toHaveLength(0);
    });
  },
);

describe('ingest contract: 503 when the store cannot commit (sqlite)', () => {
  it('answers 503 with Retry-After while another process holds the write lock, and recovers', async () => {
    const dir = tempDir();
    const dbPath = `${dir}/busy.db`;
    const store = new SqliteStore({ path: dbPath, busyTimeoutMs: 50 });
    const r = await startTestReceiver({ dir, store });
    try {
      const other = new Database(dbPath);
      other.prepare('BEGIN IMMEDIATE').run();
      const event = docvEvent();
      const res = await r.deliver(event);
      expectProblem(res, 503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      other.prepare('ROLLBACK').run();
      other.close();
      expect((await r.deliver(event)).json.status).toBe('accepted');
    } finally {
      await r.destroy();
    }
  });
});

const postgres = await postgresBackend();
describe.skipIf(postgres.skipReason !== null)('ingest contract: 503 when the store cannot commit (postgres)', () => {
  it('answers 503 with Retry-After while a lock outlasts statement_timeout, and recovers', async () => {
    const database = await postgres.create();
    const url = new URL(database.url);
    url.searchParams.set('statement_timeout', '300');
    const r = await startTestReceiver({ database: { ...database, url: url.toString() } });
    const other = new pg.Client({
      connectionString: database.url.replace(/\?.*$/, ''),
      options: `-c search_path=${url.searchParams.get('schema')}`,
    });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const event = docvEvent();
      const res = await r.deliver(event);
      expectProblem(res, 503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await r.admin('/readyz')).status).toBe(200); // the database is up, only busy
      await other.query('ROLLBACK');
      expect((await r.deliver(event)).json.status).toBe('accepted');
    } finally {
      await other.end();
      await r.destroy();
    }
  });
});
