import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocvReceiver, type DocvReceiver } from '../../src/index.js';
import { sqliteDatabase, type TestDatabase } from '../helpers/backends.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { count, eventJson, memoryLogger, newSharedSecret, newSigningSecret, signatureHeaders } from './helpers.js';

/**
 * The front door of every adapter (issue 16, items 5 and 6), over raw sockets on loopback:
 *
 * - a credential header sent twice is a 401 whatever the order of its copies. Node keeps the first
 *   `Authorization` and drops the rest, so `s3cr3t` then `wrong` used to pass and `wrong` then
 *   `s3cr3t` not; Node and the Web `Headers` join two `webhook-signature` headers into one list,
 *   so a valid one beside a made-up one used to pass.
 * - the allow-list and the failure limiter answer before the body is read. A blocked address
 *   that announced 200 000 bytes and sent 100 used to get no answer until the request timeout
 *   (30 s in `serve`, 300 s in Node's own server) ended the read.
 *
 * Each client connects from an address of its own in 127.0.0.0/8, so the allow-list can tell
 * them apart and the failure limiter blocks only the one a test means it to.
 */

const PATH = '/socure/docv/webhook';
/** An early answer must come well within this; the request timeouts are 30 s and more. */
const PROMPT_MS = 3_000;
/** How long a client that is still sending its body is watched for an answer it should not get. */
const STILL_READING_MS = 500;
/** The failure limiter's default of 10: the failure after that many starts a block. */
const FAILURES_TO_BLOCK = 11;

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over a socket: duplicate headers and bodies shorter than announced, which no
// HTTP client library will send.

type HeaderList = [string, string][];

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface RawExchange {
  answer?: RawAnswer;
  answeredAfterMs?: number;
  /** When the server closed the connection (or undefined: still open when the watch ended). */
  closedAfterMs?: number;
}

function requestText(headers: HeaderList, body: string, contentLength = Buffer.byteLength(body)): string {
  const lines = [
    `POST ${PATH} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    ...headers.map(([n, v]) => `${n}: ${v}`),
    `Content-Length: ${contentLength}`,
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

function parseAnswer(text: string): RawAnswer | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = text.slice(end + 4);
  if (Buffer.byteLength(body) < length) return undefined;
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

const sockets = new Set<Socket>();
afterAll(() => {
  for (const socket of sockets) socket.destroy();
});

/**
 * Sends `text` from `localAddress` and watches for at most `watchMs`: until the answer is in
 * (`until: 'answer'`) or until the server closes the connection too (`until: 'close'`).
 */
function exchange(
  port: number,
  localAddress: string,
  text: string,
  until: 'answer' | 'close',
  watchMs = PROMPT_MS,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const result: RawExchange = {};
    let received = '';
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    sockets.add(socket);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      sockets.delete(socket);
      resolve(result);
    };
    const timer = setTimeout(finish, watchMs);
    socket.setEncoding('utf8');
    socket.on('error', () => undefined); // a reset is one way of being closed
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (result.answer !== undefined) return;
      result.answer = parseAnswer(received);
      if (result.answer === undefined) return;
      result.answeredAfterMs = Date.now() - started;
      if (until === 'answer') finish();
    });
    socket.on('close', () => {
      result.closedAfterMs = Date.now() - started;
      finish();
    });
    socket.on('connect', () => socket.write(text));
  });
}

/** A complete request: its answer. */
async function send(port: number, from: string, headers: HeaderList, body = eventJson()): Promise<RawAnswer> {
  const { answer } = await exchange(port, from, requestText(headers, body), 'answer');
  expect(answer, 'an answer to a complete request').toBeDefined();
  return answer!;
}

/** Announces 200 000 bytes, sends 100 and waits. */
function partialBody(headers: HeaderList): string {
  return requestText(headers, 'x'.repeat(100), 200_000);
}

// ---------------------------------------------------------------------------------------------
// The front doors: `serve` (fastify), the Node adapter and the Web adapter, each on a real server.

interface DoorOptions {
  webhookSecrets?: string[];
  signingSecrets?: string[];
  basicAuth?: string[];
  allowIps?: string[];
}

interface Door {
  port: number;
  database: TestDatabase;
  log: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

interface FrontDoor {
  name: string;
  start(options: DoorOptions): Promise<Door>;
  /** Whether this door closes the connection after an early answer (the Web adapter leaves that to its runtime). */
  closesAfterEarlyAnswer: boolean;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** createDocvReceiver on a fresh SQLite file, mounted by `mount` on a Node http server. */
async function libraryDoor(
  options: DoorOptions,
  mount: (receiver: DocvReceiver) => (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Door> {
  const dir = mkdtempSync(join(tmpdir(), 'docv-front-door-'));
  const database = sqliteDatabase(join(dir, 'receiver.db'), dir);
  const log = memoryLogger();
  const receiver = createDocvReceiver({
    store: database.url,
    auth: options,
    logger: log.logger,
    dispatch: { enabled: false },
  });
  await receiver.ready();
  const server = createServer(mount(receiver));
  const port = await listen(server);
  return {
    port,
    database,
    log,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await receiver.close();
      await database.drop();
    },
  };
}

/**
 * What a runtime such as @hono/node-server does: a Web Request whose `Headers` are built from the
 * raw headers (so copies are joined, as in every Fetch runtime) and whose body streams from the
 * socket, unread until the handler reads it.
 */
function fetchBridge(receiver: DocvReceiver) {
  const handler = receiver.fetchHandler();
  return (req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers,
      body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit);
    void handler(request, { remoteAddress: req.socket.remoteAddress }).then(async (response) => {
      const body = Buffer.from(await response.arrayBuffer());
      response.headers.forEach((value, name) => res.setHeader(name, value));
      res.setHeader('content-length', body.byteLength);
      res.writeHead(response.status);
      res.end(body);
    });
  };
}

const FRONT_DOORS: FrontDoor[] = [
  {
    name: 'serve (fastify)',
    closesAfterEarlyAnswer: true,
    async start(options) {
      const log = memoryLogger();
      const { allowIps, ...credentials } = options;
      const r = await startTestReceiver({
        ...credentials,
        auth: allowIps ? { allowIps } : {},
        logger: log.logger,
        dispatch: { enabled: false },
      });
      return { port: Number(new URL(r.webhookUrl).port), database: r.database, log, close: () => r.destroy() };
    },
  },
  {
    name: 'Node adapter (nodeHandler)',
    closesAfterEarlyAnswer: true,
    start: (options) => libraryDoor(options, (receiver) => receiver.nodeHandler()),
  },
  {
    name: 'Web adapter (fetchHandler)',
    closesAfterEarlyAnswer: false,
    start: (options) => libraryDoor(options, fetchBridge),
  },
];

let nextHost = 10;
/** A loopback address no other test in this file connects from. */
function freshAddress(): string {
  nextHost += 1;
  return `127.0.0.${nextHost}`;
}

async function stored(door: Door): Promise<{ events: number; quarantine: number }> {
  return { events: await count(door.database, 'events'), quarantine: await count(door.database, 'quarantine') };
}

function expectUnauthorized(answer: RawAnswer, challenge?: string): void {
  expect(answer.status, answer.body).toBe(401);
  expect(JSON.parse(answer.body)).toMatchObject({ type: 'urn:docv-webhooks:problem:unauthorized' });
  expect(answer.headers['www-authenticate']).toBe(challenge);
}

describe.each(FRONT_DOORS)('$name', (frontDoor) => {
  describe('a credential header sent twice is refused, whatever the order (item 5)', () => {
    describe('shared secret', () => {
      const secret = newSharedSecret('front-door');
      let door: Door;
      beforeAll(async () => {
        door = await frontDoor.start({ webhookSecrets: [secret] });
      });
      afterAll(async () => door?.close());

      it.each<[string, HeaderList]>([
        [
          'the secret, then a wrong one',
          [
            ['Authorization', secret],
            ['Authorization', 'wrong'],
          ],
        ],
        [
          'a wrong one, then the secret',
          [
            ['Authorization', 'wrong'],
            ['Authorization', secret],
          ],
        ],
        [
          'Bearer wrong, then Bearer <secret>',
          [
            ['Authorization', 'Bearer wrong'],
            ['Authorization', `Bearer ${secret}`],
          ],
        ],
        [
          'the secret twice',
          [
            ['Authorization', `Bearer ${secret}`],
            ['authorization', `Bearer ${secret}`],
          ],
        ],
      ])('%s: 401 with the challenge, nothing stored', async (_name, headers) => {
        const before = await stored(door);
        expectUnauthorized(await send(door.port, freshAddress(), headers), 'Bearer realm="docv-webhooks"');
        expect(await stored(door)).toEqual(before);
      });

      it('the secret once is still accepted', async () => {
        const answer = await send(door.port, freshAddress(), [['Authorization', `Bearer ${secret}`]]);
        expect(answer.status, answer.body).toBe(200);
        expect(JSON.parse(answer.body)).toMatchObject({ status: 'accepted' });
      });

      it('a repeat counts as a failed authentication: the limiter blocks after the limit, the right secret included', async () => {
        const from = freshAddress();
        for (let i = 0; i < FAILURES_TO_BLOCK; i += 1) {
          expectUnauthorized(
            await send(door.port, from, [
              ['Authorization', secret],
              ['Authorization', secret],
            ]),
            'Bearer realm="docv-webhooks"',
          );
        }
        const blocked = await send(door.port, from, [['Authorization', `Bearer ${secret}`]]);
        expect(blocked.status).toBe(429);
        const block = door.log
          .lines()
          .find((l) => typeof l.msg === 'string' && l.msg.includes('blocked') && l.address === from);
        expect(block?.reason, 'the block is logged with why the last authentication failed').toMatch(
          /^Authorization (sent 2 times|holds a comma and a space)/,
        );
        expect(door.log.text()).not.toContain(secret);
      });
    });

    describe('Basic', () => {
      const right = `Basic ${Buffer.from('socure:right-password').toString('base64')}`;
      const wrong = `Basic ${Buffer.from('socure:wrong-password').toString('base64')}`;
      let door: Door;
      beforeAll(async () => {
        door = await frontDoor.start({ basicAuth: ['socure:right-password'] });
      });
      afterAll(async () => door?.close());

      it.each<[string, HeaderList]>([
        [
          'right, then wrong',
          [
            ['Authorization', right],
            ['Authorization', wrong],
          ],
        ],
        [
          'wrong, then right',
          [
            ['Authorization', wrong],
            ['Authorization', right],
          ],
        ],
      ])('%s: 401 with the Basic challenge', async (_name, headers) => {
        expectUnauthorized(await send(door.port, freshAddress(), headers), 'Basic realm="docv-webhooks"');
        expect(await stored(door)).toEqual({ events: 0, quarantine: 0 });
      });
    });

    describe('Standard Webhooks signature', () => {
      const signing = newSigningSecret();
      let door: Door;
      beforeAll(async () => {
        door = await frontDoor.start({ signingSecrets: [signing] });
      });
      afterAll(async () => door?.close());

      /** The headers of a correctly signed `body`, in `spelling`, with `extra` added after them. */
      function signed(
        body: string,
        spelling: 'webhook' | 'svix',
        extra: (h: Record<string, string>) => HeaderList,
      ): HeaderList {
        const h = signatureHeaders(signing, body, { spelling });
        return [...(Object.entries(h) as HeaderList), ...extra(h)];
      }
      const bogus = `v1,${Buffer.alloc(32, 7).toString('base64')}`;

      it.each(['webhook', 'svix'] as const)(
        '%s-signature twice, a valid one and a made-up one, in either order: 401',
        async (spelling) => {
          const body = eventJson();
          const valid = signed(body, spelling, () => []);
          const withBogusAfter: HeaderList = [...valid, [`${spelling}-signature`, bogus]];
          const withBogusBefore: HeaderList = [[`${spelling}-signature`, bogus], ...valid];
          expectUnauthorized(await send(door.port, freshAddress(), withBogusAfter, body));
          expectUnauthorized(await send(door.port, freshAddress(), withBogusBefore, body));
          expect(await stored(door)).toEqual({ events: 0, quarantine: 0 });
        },
      );

      it.each(['webhook-id', 'webhook-timestamp'])('%s twice: 401', async (name) => {
        const body = eventJson();
        const headers = signed(body, 'webhook', (h) => [[name, h[name]!]]);
        expectUnauthorized(await send(door.port, freshAddress(), headers, body));
      });

      it('a correctly signed delivery is still accepted', async () => {
        const body = eventJson();
        const answer = await send(
          door.port,
          freshAddress(),
          signed(body, 'webhook', () => []),
          body,
        );
        expect(answer.status, answer.body).toBe(200);
      });
    });
  });

  describe('the source is decided before the body is read (item 6)', () => {
    const secret = newSharedSecret('front-door');
    const allowed = freshAddress();
    let door: Door;
    beforeAll(async () => {
      door = await frontDoor.start({ webhookSecrets: [secret], allowIps: [`${allowed}/32`] });
    });
    afterAll(async () => door?.close());

    it('an address off the allow-list that announces 200 000 bytes and sends 100 gets its 403 at once, the right secret notwithstanding', async () => {
      const from = freshAddress();
      const result = await exchange(door.port, from, partialBody([['Authorization', `Bearer ${secret}`]]), 'close');
      expect(result.answer?.status, 'a 403 within the watch').toBe(403);
      expect(result.answeredAfterMs).toBeLessThan(PROMPT_MS);
      expect(JSON.parse(result.answer!.body)).toMatchObject({ type: 'urn:docv-webhooks:problem:forbidden' });
      if (frontDoor.closesAfterEarlyAnswer) {
        expect(result.answer!.headers.connection).toBe('close');
        expect(result.closedAfterMs, 'the server closes the connection it will not read').toBeLessThan(PROMPT_MS);
      }
      expect(await stored(door)).toEqual({ events: 0, quarantine: 0 });
    });

    it('an address on the list with the same partial body is still being read: no answer yet', async () => {
      const result = await exchange(
        door.port,
        allowed,
        partialBody([['Authorization', `Bearer ${secret}`]]),
        'answer',
        STILL_READING_MS,
      );
      expect(result.answer).toBeUndefined();
    });

    it('an address on the list delivers as before', async () => {
      const answer = await send(door.port, allowed, [['Authorization', `Bearer ${secret}`]]);
      expect(answer.status, answer.body).toBe(200);
    });
  });

  describe('the failure limiter answers before the body is read (item 6)', () => {
    const secret = newSharedSecret('front-door');
    let door: Door;
    beforeAll(async () => {
      door = await frontDoor.start({ webhookSecrets: [secret] });
    });
    afterAll(async () => door?.close());

    it('a blocked address that announces 200 000 bytes and sends 100 gets its 429 at once; another address is still read', async () => {
      const blocked = freshAddress();
      for (let i = 0; i < FAILURES_TO_BLOCK; i += 1)
        expectUnauthorized(
          await send(door.port, blocked, [['Authorization', 'Bearer wrong']]),
          'Bearer realm="docv-webhooks"',
        );

      const result = await exchange(door.port, blocked, partialBody([['Authorization', `Bearer ${secret}`]]), 'close');
      expect(result.answer?.status, 'a 429 within the watch').toBe(429);
      expect(result.answeredAfterMs).toBeLessThan(PROMPT_MS);
      expect(Number(result.answer!.headers['retry-after'])).toBeGreaterThan(0);
      if (frontDoor.closesAfterEarlyAnswer) {
        expect(result.answer!.headers.connection).toBe('close');
        expect(result.closedAfterMs, 'the server closes the connection it will not read').toBeLessThan(PROMPT_MS);
      }

      const other = await exchange(
        door.port,
        freshAddress(),
        partialBody([['Authorization', `Bearer ${secret}`]]),
        'answer',
        STILL_READING_MS,
      );
      expect(other.answer).toBeUndefined();
      expect(await stored(door)).toEqual({ events: 0, quarantine: 0 });
    });
  });
});

describe('serve logs one line per early answer, with the reason', () => {
  const secret = newSharedSecret('front-door');
  const allowed = freshAddress();
  let door: Door;
  beforeAll(async () => {
    door = await FRONT_DOORS[0]!.start({ webhookSecrets: [secret], allowIps: [`${allowed}/32`] });
  });
  afterAll(async () => door?.close());

  const deliveries = () => door.log.lines().filter((l) => l.msg === 'delivery');

  it('a 403 before the body: one warn line with the address', async () => {
    const from = freshAddress();
    const before = deliveries().length;
    expect(
      (await exchange(door.port, from, partialBody([['Authorization', `Bearer ${secret}`]]), 'close')).answer?.status,
    ).toBe(403);
    const lines = deliveries().slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      outcome: 'forbidden',
      status: 403,
      reason: `client address ${from} is not on the allow-list`,
    });
  });

  it('a 429 before the body: one warn line that says why', async () => {
    for (let i = 0; i < FAILURES_TO_BLOCK; i += 1) await send(door.port, allowed, [['Authorization', 'Bearer wrong']]);
    const before = deliveries().length;
    expect(
      (await exchange(door.port, allowed, partialBody([['Authorization', `Bearer ${secret}`]]), 'close')).answer
        ?.status,
    ).toBe(429);
    const lines = deliveries().slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      outcome: 'rate_limited',
      status: 429,
      reason: expect.stringMatching(/^address blocked after too many failed authentications/),
    });
  });

  it('a repeated Authorization: the 401 line says it was sent twice, and never the secret', async () => {
    // A receiver of its own, without an allow-list: `allowed` is blocked by now.
    const other = await FRONT_DOORS[0]!.start({ webhookSecrets: [secret] });
    try {
      expectUnauthorized(
        await send(other.port, freshAddress(), [
          ['Authorization', secret],
          ['Authorization', 'wrong'],
        ]),
        'Bearer realm="docv-webhooks"',
      );
      const line = other.log.lines().find((l) => l.msg === 'delivery');
      expect(line).toMatchObject({ outcome: 'unauthorized', status: 401, reason: 'Authorization sent 2 times' });
      expect(other.log.text()).not.toContain(secret);
    } finally {
      await other.close();
    }
  });
});
