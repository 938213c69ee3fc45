import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

/** The request body as a Web stream; once the reader cancels (413), the rest is drained unread. */
function webStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on('data', (chunk: Buffer) => open && controller.enqueue(new Uint8Array(chunk)));
      req.on('end', () => open && controller.close());
      req.on('error', (err) => open && controller.error(err));
    },
    cancel() {
      open = false;
      req.resume();
    },
  });
}

/**
 * A Web `(Request) => Response` app served by Node's http on loopback, as Hono's node server and
 * Next.js do: the request body is streamed in, not buffered first.
 */
function serveFetch(fetchApp: (request: Request) => Response | Promise<Response>): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      ...(hasBody ? { body: webStream(req), duplex: 'half' } : {}),
    } as RequestInit);
    void Promise.resolve(fetchApp(request)).then(async (response) => {
      response.headers.forEach((value, name) => res.setHeader(name, value));
      res.statusCode = response.status;
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  });
}

async function post(url: string, body: unknown, auth = `Bearer ${SECRET}`) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/**
 * Each framework example of docs/library.md, mounted for real and driven over its own transport,
 * with the library receiver on each store backend (`databaseUrl`).
 */
describe.each(backends)('framework adapters (docs/library.md examples; $name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase;
  let receiver: DocvReceiver;
  const handled: CanonicalEvent[] = [];
  beforeAll(async () => {
    database = await backend.create();
    receiver = createDocvReceiver({ databaseUrl: database.url, auth: { webhookSecrets: [SECRET] } });
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

  it('Fastify: app.register(receiver.fastifyPlugin()), beside routes that parse JSON', async () => {
    const app = Fastify();
    await app.register(receiver.fastifyPlugin());
    // The plugin is encapsulated: the app's own routes keep fastify's JSON parser.
    app.post('/echo', async (request) => ({ parsed: request.body }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'reject' });
      expect(await post(url + PATH, event)).toMatchObject({ status: 200, json: { status: 'accepted' } });
      expect(await post(url + PATH, event)).toMatchObject({ status: 200, json: { status: 'duplicate' } });
      expect((await post(url + PATH, event, 'Bearer wrong')).status).toBe(401);
      // The pipeline judges the content type itself (after the credentials), not fastify.
      const text = await fetch(url + PATH, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${SECRET}` },
        body: JSON.stringify(event),
      });
      expect(text.status).toBe(415);
      expect(await post(url + '/echo', { a: 1 })).toMatchObject({ status: 200, json: { parsed: { a: 1 } } });
      await waitFor(() => handled.some((e) => e.docvTransactionId === event.docvTransactionId), 'handler run');
    } finally {
      await app.close();
    }
  });

  it('Fastify: fastifyPlugin({ path }) under a prefix', async () => {
    const app = Fastify();
    await app.register(receiver.fastifyPlugin({ path: '/docv' }), { prefix: '/hooks' });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect(await post(url + '/hooks/docv', docvEvent())).toMatchObject({ status: 200, json: { status: 'accepted' } });
      expect((await post(url + PATH, docvEvent())).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('Hono: fetchHandler() on c.req.raw, served on loopback', async () => {
    const app = new Hono();
    const handler = receiver.fetchHandler();
    app.post(PATH, (c) => handler(c.req.raw));
    const server = serveFetch((request) => app.fetch(request));
    const url = await listen(server);
    try {
      const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'resubmit' });
      expect(await post(url + PATH, event)).toMatchObject({ status: 200, json: { status: 'accepted' } });
      expect((await post(url + PATH, event, 'Bearer nope')).status).toBe(401);
      expect((await post(url + PATH, 'x'.repeat(300 * 1024))).status).toBe(413);
      await waitFor(() => handled.some((e) => e.docvTransactionId === event.docvTransactionId), 'handler run');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('Next.js route handler: export async function POST(request: Request)', async () => {
    // app/socure/docv/webhook/route.ts
    const handler = receiver.fetchHandler();
    async function POST(request: Request): Promise<Response> {
      return handler(request);
    }
    const server = serveFetch((request) =>
      request.method === 'POST' && new URL(request.url).pathname === PATH
        ? POST(request)
        : new Response(null, { status: 405 }),
    );
    const url = await listen(server);
    try {
      const event = docvEvent({ eventType: 'APP_OPENED' });
      const res = await fetch(url + PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: SECRET },
        body: JSON.stringify(event),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      const store = await receiver.store;
      expect((await store.getTransaction(event.docvTransactionId as string))?.status).toBe('APP_OPENED');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
