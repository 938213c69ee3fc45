import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocvReceiver, type CanonicalEvent, type DocvReceiver } from '../../src/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { docvEvent } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'adapter-test-secret';
const PATH = '/socure/docv/webhook';

const backends = await testBackends();

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

async function post(url: string, body: unknown, auth = `Bearer ${SECRET}`) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/**
 * Each framework example of docs/library.md, mounted for real and driven over its own transport,
 * with the library receiver on each store backend (`store: <database URL>`).
 */
describe.each(backends)('framework adapters (docs/library.md examples; $name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase;
  let receiver: DocvReceiver;
  const handled: CanonicalEvent[] = [];
  beforeAll(async () => {
    database = await backend.create();
    receiver = createDocvReceiver({ store: database.url, auth: { webhookSecrets: [SECRET] } });
    receiver.on('VERIFICATION_COMPLETED', (event) => {
      handled.push(event);
    });
    await receiver.ready();
  });
  afterAll(async () => {
    await receiver?.close();
    await database?.drop();
  });

  it('Node http / Express: nodeHandler()', async () => {
    const app = express();
    app.post(PATH, receiver.nodeHandler());
    app.use(express.json()); // other routes may parse JSON; the DocV route comes first
    const server = createServer(app);
    const url = await listen(server);
    try {
      const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
      expect(await post(url + PATH, event)).toMatchObject({ status: 200, json: { status: 'accepted' } });
      expect((await post(url + PATH, event, 'Bearer wrong')).status).toBe(401);
      expect((await post(url + PATH, '{"eventType":1}')).status).toBe(422);
      await waitFor(() => handled.some((e) => e.docvTransactionId === event.docvTransactionId), 'handler run');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('Express with express.json() in front: a clear error instead of a wrong signature check', async () => {
    const app = express();
    app.use(express.json());
    app.post(PATH, receiver.nodeHandler());
    const server = createServer(app);
    const url = await listen(server);
    try {
      const res = await post(url + PATH, docvEvent());
      expect(res.status).toBe(500);
      expect(res.json.detail).toContain('express.raw');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('Fastify: raw-body route calling receiver.handle()', async () => {
    const app = Fastify();
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      scope.post(PATH, async (request, reply) => {
        const res = await receiver.handle({ method: request.method, headers: request.headers, remoteAddress: request.ip, body: request.body as Buffer });
        return reply.code(res.status).headers(res.headers).send(res.body);
      });
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'reject' });
      expect(await post(url + PATH, event)).toMatchObject({ status: 200, json: { status: 'accepted' } });
      expect(await post(url + PATH, event)).toMatchObject({ status: 200, json: { status: 'duplicate' } });
      await waitFor(() => handled.some((e) => e.docvTransactionId === event.docvTransactionId), 'handler run');
    } finally {
      await app.close();
    }
  });

  it('Hono: fetchHandler() on c.req.raw', async () => {
    const app = new Hono();
    const handler = receiver.fetchHandler();
    app.post(PATH, (c) => handler(c.req.raw));
    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'resubmit' });
    const req = (body: string, auth: string) => new Request(`http://localhost${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body });
    const ok = await app.fetch(req(JSON.stringify(event), `Bearer ${SECRET}`));
    expect(ok.status).toBe(200);
    expect((await ok.json()).status).toBe('accepted');
    expect((await app.fetch(req(JSON.stringify(event), 'Bearer nope'))).status).toBe(401);
    const tooBig = await app.fetch(req('x'.repeat(300 * 1024), `Bearer ${SECRET}`));
    expect(tooBig.status).toBe(413);
    await waitFor(() => handled.some((e) => e.docvTransactionId === event.docvTransactionId), 'handler run');
  });

  it('Next.js route handler: export const POST = receiver.fetchHandler()', async () => {
    // app/socure/docv/webhook/route.ts
    const POST = receiver.fetchHandler();
    const event = docvEvent({ eventType: 'APP_OPENED' });
    const res = await POST(new Request('https://example.test/socure/docv/webhook', { method: 'POST', headers: { 'content-type': 'application/json', authorization: SECRET }, body: JSON.stringify(event) }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const store = await receiver.store;
    expect((await store.getTransaction(event.docvTransactionId as string))?.status).toBe('APP_OPENED');
  });
});
