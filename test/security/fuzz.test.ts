import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocvEvent } from '../../src/contract/index.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/ingest/index.js';
import { MAX_JSON_DEPTH } from '../../src/contract/index.js';
import { exceedsJsonDepth } from '../../src/contract/json-text.js';
import { isCredentialHeader } from '../../src/auth/redact.js';
import { skipUnavailable, testBackends, type BackendName } from '../helpers/backends.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import {
  count,
  eventJson,
  JSON_CT,
  post,
  rightSharedSecretCredentials,
  sharedSecretToken,
  wrongSharedSecretCredentials,
} from './helpers.js';

/**
 * Throws thousands of random and mutated deliveries at a real receiver (shared secret, a real
 * database on each store backend). Half the cases carry the right secret, so the parser, validator
 * and store see hostile input too, not only the credential check. Invariants: never a 5xx, never a
 * crash, nothing unauthenticated accepted or quarantined, every stored event valid and read back
 * exactly as it was sent (PostgreSQL text and json are not SQLite's: odd strings must survive
 * both), memory flat.
 *
 * FUZZ_SEED=<n> replays a run (the seed is in the failure message): the shared secret is derived
 * from it too, since which cases are authenticated depends on it. Both backends use the same seed,
 * so PostgreSQL sees the first of the cases SQLite sees. FUZZ_RUNS=<n> changes the size of the
 * SQLite run, FUZZ_POSTGRES_RUNS=<n> that of the PostgreSQL one (default a third, to bound the
 * time); FUZZ_REPORT=1 prints the seed, the case count, statuses, time and heap figures.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const RUNS_ON: Record<BackendName, number> = {
  sqlite: RUNS,
  postgres: Number(process.env.FUZZ_POSTGRES_RUNS ?? Math.ceil(RUNS / 3)),
};
/**
 * Deliveries sent at once. Sequential requests would each wait for their own fsync; in flight
 * together they share commits, as real traffic does, and the run stays within its time budget.
 */
const BATCH = 6;
const SEED = process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED);
const LIMIT = DEFAULT_MAX_BODY_BYTES;
const SECRET = `fuzz-${createHash('sha256').update(`fuzz secret ${SEED}`).digest('hex').slice(0, 24)}`;
/** Behind a proxy (trustProxy) the receiver refuses to start without an admin token, and its admin API asks for it. */
const ADMIN_TOKEN = 'fuzz-admin-token-for-tests';
const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** `gc()` even without --expose-gc, so heap figures are live objects, not garbage not yet collected. */
function getGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const EVENT_TYPES = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'SESSION_EXPIRED', 'VERIFICATION_COMPLETED'];

/** Printable ASCII and Latin-1: what an HTTP client can put in a header value. */
const headerValue = fc.string({
  unit: fc
    .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09))
    .map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'authorization',
  'x-forwarded-for',
  'content-type',
  'content-encoding',
]);
const headerName = fc
  .oneof(
    fc.constantFrom(
      'webhook-id',
      'svix-id',
      'webhook-timestamp',
      'webhook-signature',
      'svix-signature',
      'x-request-id',
      'accept',
      'user-agent',
      'cookie',
      'x-api-key',
      'proxy-authorization',
      'forwarded',
      'x-real-ip',
    ),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,24}$/),
  )
  .filter((name) => !RESERVED_HEADERS.has(name));
const randomHeaders = fc.dictionary(
  headerName,
  fc.oneof(
    headerValue,
    fc.string({ minLength: 250, maxLength: 300 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x')),
  ),
  { maxKeys: 4 },
);

const contentType = fc.option(
  fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/json; charset="UTF-8"',
        'application/json;charset=UTF8',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/json; charset=',
        'application/json;;;',
        'APPLICATION/JSON',
        ' application/json ',
        'application/cloudevents+json',
        'application/vnd.socure.docv+json; version=5',
        'application/json, text/plain',
        'text/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=----x',
        '*/*',
        'application/',
        ';charset=utf-8',
      ),
    },
    { weight: 1, arbitrary: headerValue },
  ),
  { freq: 10 },
);

// Anything but identity is refused with 415, so most cases send none to keep the accept path busy.
const contentEncoding = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, deflate', 'x-unknown', 'chunked', ''),
  },
);

const eventTime = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '2026-03-01T10:00:00Z',
      '2026-03-01T10:00:00.123+05:30',
      '2026-02-30T10:00:00Z',
      '2026-03-01 10:00',
      '2026-03-01T10:00:00+0100',
      'yesterday',
      '',
    ),
  },
  {
    weight: 3,
    arbitrary: fc
      .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
);

/** A plausible event: mostly valid, sometimes not, with unknown extra properties. */
const baseEvent = fc
  .record(
    {
      eventType: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...EVENT_TYPES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
      ),
      docvTransactionId: fc.oneof(
        { weight: 8, arbitrary: fc.uuid() },
        { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
      ),
      eventTime,
      customerUserId: fc.string({ maxLength: 40 }),
      decision: fc.constantFrom('accept', 'reject', 'resubmit', 'review', 'ACCEPT', ''),
      extra: fc.jsonValue({ maxDepth: 4 }),
    },
    { requiredKeys: ['eventType', 'docvTransactionId', 'eventTime'] },
  )
  .chain((event) =>
    // A decision mostly where the contract allows one, sometimes where it does not.
    fc
      .integer({ min: 0, max: 9 })
      .map((roll) =>
        event.eventType === 'VERIFICATION_COMPLETED' || roll === 0 ? event : { ...event, decision: undefined },
      ),
  );

type Mutation =
  | { kind: 'none' }
  | { kind: 'delete'; key: string }
  | { kind: 'swap'; key: string; value: unknown }
  | { kind: 'huge'; key: string; size: number }
  | { kind: 'deep'; depth: number; open: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'wrap'; prefix: string; suffix: string }
  | { kind: 'duplicateKey'; value: string }
  | { kind: 'loneSurrogate' };

const KEYS = ['eventType', 'docvTransactionId', 'eventTime', 'customerUserId', 'decision'];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 16, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('swap' as const),
      key: fc.constantFrom(...KEYS),
      value: fc.jsonValue({ maxDepth: 3 }),
    }),
  },
  // Sizes around the limit, so the boundary itself is hit: under it accepted, over it 413.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      key: fc.constantFrom('customerUserId', 'docvTransactionId', 'padding'),
      size: fc.integer({ min: LIMIT - 300, max: LIMIT + 300 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      depth: fc.oneof(fc.integer({ min: 1, max: MAX_JSON_DEPTH + 5 }), fc.integer({ min: 1, max: 120_000 })),
      open: fc.constantFrom('[', '{"a":'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('wrap' as const),
      prefix: fc.constantFrom('', '\uFEFF', ' \n\t', '[', '"', 'null'),
      suffix: fc.constantFrom('', '\n', ']', ',', '}', ' garbage', '\u0000'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('duplicateKey' as const),
      value: fc.constantFrom('APP_OPENED', 'VERIFICATION_COMPLETED', 'bogus'),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'loneSurrogate' }) },
);

function applyMutation(event: Record<string, unknown>, m: Mutation): Buffer {
  const e = { ...event };
  switch (m.kind) {
    case 'none':
      return Buffer.from(JSON.stringify(e));
    case 'delete':
      delete e[m.key];
      return Buffer.from(JSON.stringify(e));
    case 'swap':
      e[m.key] = m.value;
      return Buffer.from(JSON.stringify(e));
    case 'huge': {
      e[m.key] = '';
      const bare = Buffer.byteLength(JSON.stringify(e));
      e[m.key] = 'x'.repeat(Math.max(0, m.size - bare));
      return Buffer.from(JSON.stringify(e));
    }
    case 'deep': {
      const close = m.open === '[' ? ']' : '}';
      const nested = `${m.open.repeat(m.depth)}0${close.repeat(m.depth)}`;
      return Buffer.from(`${JSON.stringify(e).slice(0, -1)},"nested":${nested}}`);
    }
    case 'truncate': {
      const bytes = Buffer.from(JSON.stringify(e));
      return bytes.subarray(0, m.at % (bytes.length + 1));
    }
    case 'flip': {
      const bytes = Buffer.from(JSON.stringify(e));
      if (bytes.length > 0) bytes[m.at % bytes.length] = m.byte;
      return bytes;
    }
    case 'wrap':
      return Buffer.from(`${m.prefix}${JSON.stringify(e)}${m.suffix}`);
    case 'duplicateKey':
      // Which of two equal keys wins differs between parsers: the one that was stored must be the one validated.
      return Buffer.from(`${JSON.stringify(e).slice(0, -1)},"eventType":${JSON.stringify(m.value)}}`);
    case 'loneSurrogate':
      return Buffer.from(JSON.stringify(e).replace(/"docvTransactionId":"/, '"docvTransactionId":"\\ud800'));
  }
}

const body: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.tuple(baseEvent, mutation).map(([event, m]) => applyMutation(event as Record<string, unknown>, m)),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 5 }).map((text) => Buffer.from(text)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 500 }).map((text) => Buffer.from(text)) },
);

// `authenticated` is what the test expects of the receiver, so a "wrong" credential must never carry the secret.
const wrongCredential = fc.oneof(
  fc.constant(undefined),
  headerValue.filter((value) => sharedSecretToken(value) !== SECRET),
  fc.constantFrom(...wrongSharedSecretCredentials(SECRET)),
);
const rightCredential = fc.constantFrom(...rightSharedSecretCredentials(SECRET));

interface FuzzCase {
  authenticated: boolean;
  authorization: string | undefined;
  contentType: string | null;
  contentEncoding: string | null;
  headers: Record<string, string>;
  body: Buffer;
}

const fuzzCase: fc.Arbitrary<FuzzCase> = fc.boolean().chain((authenticated) =>
  fc.record({
    authenticated: fc.constant(authenticated),
    authorization: authenticated ? rightCredential : wrongCredential,
    contentType,
    contentEncoding,
    headers: randomHeaders,
    body,
  }),
);

// ---------------------------------------------------------------------------------------------

/** Nesting depth of a parsed value, the slow and obvious way. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, child) => Math.max(max, depthOf(child)), 0);
}

describe('the nesting scan on raw bytes', () => {
  it('agrees with the depth of the parsed value, whatever the strings contain', () => {
    const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é', '\u2028') });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        text,
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(text, tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 8 }), fc.boolean(), (v, limit, pretty) => {
        const bytes = Buffer.from(JSON.stringify(v, null, pretty ? 2 : undefined));
        expect(exceedsJsonDepth(bytes, limit)).toBe(depthOf(v) > limit);
      }),
      { numRuns: 2000 },
    );
  });
});

const backends = await testBackends();

/** Header values as the server reads them: HTTP drops leading and trailing spaces and tabs. */
function asReceived(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

describe.each(backends)('fuzzing the receiver over HTTP ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const runs = RUNS_ON[backend.name];
  const warmUpRuns = Math.max(BATCH, Math.min(300, Math.floor(runs / 10)));
  let r: TestReceiver;
  const agent = new Agent({ connections: BATCH, keepAliveTimeout: 10_000, pipelining: 1 });
  beforeAll(async () => {
    // trustProxy, so each unauthenticated case can come from its own address: the failure
    // limiter would otherwise block 127.0.0.1 after ten failures and turn the rest into 429s.
    r = await startTestReceiver({
      webhookSecrets: [SECRET],
      auth: { trustProxy: true },
      adminToken: ADMIN_TOKEN,
      database: await backend.create(),
    });
  });
  afterAll(async () => {
    await agent.close();
    await r.destroy();
  });

  it('a body nested deeper than the limit is a 400 and is quarantined, not a 500', async () => {
    const auth = { ...JSON_CT, authorization: `Bearer ${SECRET}` };
    const quarantinedBefore = await count(r.database, 'quarantine');
    const atLimit = `${eventJson().slice(0, -1)},"nested":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`;
    expect((await post(r.webhookUrl, atLimit, auth)).status).toBe(200);
    for (const depth of [MAX_JSON_DEPTH, 5_000, 100_000]) {
      const deep = `${eventJson().slice(0, -1)},"nested":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const res = await post(r.webhookUrl, deep, auth);
      expect(res.status, res.text).toBe(400);
      expect(res.json).toMatchObject({
        type: 'urn:docv-webhooks:problem:invalid-json',
        detail: expect.stringContaining(`deeper than ${MAX_JSON_DEPTH} levels`),
      });
    }
    expect((await count(r.database, 'quarantine')) - quarantinedBefore).toBe(3);
    // Brackets inside strings are not nesting.
    const inString = eventJson({ note: '['.repeat(10_000) });
    expect((await post(r.webhookUrl, inString, auth)).status).toBe(200);
  });

  it('a body with a byte order mark is a 400: accepted, it could not be read back or dispatched', async () => {
    const auth = { ...JSON_CT, authorization: `Bearer ${SECRET}` };
    const res = await post(
      r.webhookUrl,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(eventJson())]),
      auth,
    );
    expect(res.status, res.text).toBe(400);
    expect(res.json.detail).toContain('byte order mark');
  });

  it('an unpaired surrogate in a stored string field is a 422, a paired one is kept exactly', async () => {
    const auth = { ...JSON_CT, authorization: `Bearer ${SECRET}` };
    for (const field of ['docvTransactionId', 'customerUserId']) {
      const lone = eventJson().replace(`"${field}":"`, `"${field}":"\\ud800`);
      const res = await post(r.webhookUrl, lone, auth);
      expect(res.status, res.text).toBe(422);
      expect(res.json.errors).toEqual([{ path: `/${field}`, message: expect.stringContaining('unpaired surrogate') }]);
    }
    const paired = eventJson().replace('"docvTransactionId":"', '"docvTransactionId":"\\ud83d\\ude00');
    const res = await post(r.webhookUrl, paired, auth);
    expect(res.status, res.text).toBe(200);
    const [row] = await r.database.rows<{ docv_transaction_id: string }>(
      'SELECT docv_transaction_id FROM events WHERE event_id = ?',
      res.json.eventId,
    );
    expect(row!.docv_transaction_id).toBe(JSON.parse(paired).docvTransactionId);
    expect(row!.docv_transaction_id.startsWith('\u{1F600}')).toBe(true);
  });

  it('a long customerUserId is stored, read back exactly and found by the admin filter', async () => {
    // PostgreSQL once answered 503 for these, for ever: the value did not fit in a btree index entry.
    const auth = { ...JSON_CT, authorization: `Bearer ${SECRET}` };
    /** `length` varied 3-byte characters (CJK): no compression makes the index entry small. */
    const cjk = (length: number, salt: string) =>
      `${salt}${Array.from({ length }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('')}`;
    // Longest the admin filter takes (1000 characters), and about as long as the body limit allows.
    for (const customerUserId of [cjk(990, `${Date.now()}-`), cjk(Math.floor((LIMIT - 300) / 3), `${Date.now()}-`)]) {
      const body = eventJson({ customerUserId });
      expect(Buffer.byteLength(body)).toBeLessThan(LIMIT);
      const res = await post(r.webhookUrl, body, auth);
      expect(res.status, res.text).toBe(200);
      const tx = JSON.parse(body).docvTransactionId as string;
      const [row] = await r.database.rows<{ customer_user_id: string }>(
        'SELECT customer_user_id FROM transactions WHERE docv_transaction_id = ?',
        tx,
      );
      expect(row!.customer_user_id === customerUserId, 'stored as sent').toBe(true);
      const view = await request(`${r.adminUrl}/events/${encodeURIComponent(res.json.eventId as string)}`, {
        headers: ADMIN_AUTH,
      });
      expect(
        ((await view.body.json()) as { customerUserId: string }).customerUserId === customerUserId,
        'read back as sent',
      ).toBe(true);
      if (customerUserId.length > 1000) continue;
      const listed = await request(`${r.adminUrl}/transactions?customerUserId=${encodeURIComponent(customerUserId)}`, {
        headers: ADMIN_AUTH,
      });
      expect(listed.statusCode).toBe(200);
      expect(
        ((await listed.body.json()) as { items: Array<{ docvTransactionId: string }> }).items.map(
          (t) => t.docvTransactionId,
        ),
      ).toEqual([tx]);
    }
  });

  it(`${runs} random and mutated deliveries: never a 5xx, nothing unauthenticated kept, every stored event valid and read back as sent, memory flat`, async () => {
    const gc = getGc();
    const eventsBefore = await count(r.database, 'events');
    const quarantineBefore = await count(r.database, 'quarantine');
    const statuses = new Map<number, number>();
    /** What was sent for each event acknowledged as accepted. */
    const sent = new Map<string, FuzzCase>();
    let accepted = 0;
    let authenticatedRejects = 0;
    let resets = 0;
    let caseNumber = 0;

    async function deliver(c: FuzzCase): Promise<void> {
      caseNumber += 1;
      const n = caseNumber;
      const headers: Record<string, string> = {
        ...c.headers,
        // One address per case: see beforeAll.
        'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      };
      if (c.authorization !== undefined) headers.authorization = c.authorization;
      if (c.contentType !== null) headers['content-type'] = c.contentType;
      if (c.contentEncoding !== null) headers['content-encoding'] = c.contentEncoding;

      let status: number;
      let text: string;
      try {
        const res = await request(r.webhookUrl, { method: 'POST', body: c.body, headers, dispatcher: agent });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        // Over the limit the server answers 413 and stops reading; the client may see the
        // connection close under it. Anything else is a failure.
        if (
          c.body.byteLength > LIMIT &&
          /ECONNRESET|EPIPE|UND_ERR_SOCKET|other side closed/.test(
            `${(err as NodeJS.ErrnoException).code} ${(err as Error).message}`,
          )
        ) {
          resets += 1;
          return;
        }
        throw err;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);

      expect(status, text).toBeLessThan(500);
      expect([200, 400, 401, 409, 413, 415, 422], text).toContain(status);
      // Every answer is JSON: a problem document or the acknowledgement.
      const answer = JSON.parse(text) as { status: unknown; eventId?: string };
      if (status !== 200) expect(answer.status).toBe(status);

      if (!c.authenticated) {
        // The only answers before the credential check: the body limit, and the 401 itself.
        expect(
          [401, 413],
          `${text} for ${JSON.stringify({ authorization: c.authorization, contentType: c.contentType, headers: c.headers }).slice(0, 300)}`,
        ).toContain(status);
        return;
      }
      if (status === 200) {
        // Only a contract-valid, uncompressed event is ever acknowledged.
        expect(parseDocvEvent(c.body).ok).toBe(true);
        expect(['identity', '', null]).toContain(c.contentEncoding);
        if (answer.status === 'accepted') {
          accepted += 1;
          sent.set(answer.eventId!, c);
        }
      } else if (status !== 413) {
        authenticatedRejects += 1;
      }
    }
    const property = fc.asyncProperty(fc.array(fuzzCase, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
      await Promise.all(cases.map(deliver));
    });

    const params = { endOnFailure: true, seed: SEED };
    const started = Date.now();
    await fc.assert(property, { ...params, numRuns: Math.ceil(warmUpRuns / BATCH) });
    gc?.();
    const heapAfterWarmUp = process.memoryUsage().heapUsed;
    await fc.assert(property, { ...params, numRuns: Math.ceil((runs - warmUpRuns) / BATCH) });
    gc?.();
    const heapAtEnd = process.memoryUsage().heapUsed;
    const elapsedMs = Date.now() - started;
    const growthMb = (heapAtEnd - heapAfterWarmUp) / 2 ** 20;
    const summary = `${backend.name}, seed ${SEED}: ${caseNumber} cases in ${elapsedMs} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}; resets ${resets}; heap ${(heapAfterWarmUp / 2 ** 20).toFixed(1)} → ${(heapAtEnd / 2 ** 20).toFixed(1)} MB (${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(1)} MB, gc ${gc ? 'forced' : 'not available'})`;
    if (process.env.FUZZ_REPORT) process.stdout.write(`fuzz: ${summary}\n`);

    expect(caseNumber).toBeGreaterThanOrEqual(runs);
    // The fuzzer reached past the credential check, into the parser, the validator and the store.
    // About 5-6 % of the cases are accepted (57 of 1,002 in one CI run), so runs / 20 sat inside
    // the spread of the seeds (49 seen); runs / 40 still proves the point without flaking.
    expect(accepted, summary).toBeGreaterThan(runs / 40);
    expect(authenticatedRejects, summary).toBeGreaterThan(runs / 20);
    expect(statuses.get(401) ?? 0, summary).toBeGreaterThan(runs / 4);

    // The server is still up and answering.
    expect(
      (await request(`${r.url}/healthz`, { dispatcher: agent }).then((res) => res.body.json())) as unknown,
    ).toEqual({ status: 'ok' });

    // Stored: exactly what was acknowledged as accepted, and all of it valid.
    const rows = await r.database.rows<{
      event_id: string;
      raw_body: Buffer;
      headers: string;
      docv_transaction_id: string;
      event_type: string;
      event_time: string;
      customer_user_id: string | null;
      decision: string | null;
    }>(
      'SELECT event_id, raw_body, headers, docv_transaction_id, event_type, event_time, customer_user_id, decision FROM events ORDER BY seq',
    );
    expect(rows.length - eventsBefore, summary).toBe(accepted);
    expect(
      rows.filter((row) => sent.has(row.event_id)),
      summary,
    ).toHaveLength(accepted);
    for (const row of rows) {
      // As the store, the outbox and the CLI read it back.
      expect(() => JSON.parse(row.raw_body.toString('utf8')) as unknown).not.toThrow();
      const parsed = parseDocvEvent(row.raw_body);
      expect(parsed.ok, row.raw_body.toString('utf8').slice(0, 300)).toBe(true);
      if (!parsed.ok) continue;
      expect(row.event_type).toBe(parsed.event.eventType);
      expect(row.docv_transaction_id).toBe(parsed.event.docvTransactionId);
      expect(row.event_time).toBe(parsed.event.eventTime);
      expect(row.customer_user_id).toBe(parsed.event.customerUserId ?? null);
      expect(row.decision).toBe(parsed.event.decision ?? null);

      const c = sent.get(row.event_id);
      if (!c) continue;
      // The very bytes that were sent, and every header but the credentials, as the server read it.
      expect(row.raw_body.equals(c.body), row.raw_body.toString('utf8').slice(0, 300)).toBe(true);
      const headers = JSON.parse(row.headers) as Record<string, string>;
      for (const [name, value] of Object.entries(c.headers)) {
        if (isCredentialHeader(name)) expect(headers).not.toHaveProperty(name);
        else expect(headers[name], name).toBe(asReceived(value));
      }
      expect(headers).not.toHaveProperty('authorization');
    }
    // And every one of them reads back the same through the admin API (the store's own read path).
    for (const row of rows) {
      const res = await request(`${r.adminUrl}/events/${encodeURIComponent(row.event_id)}`, {
        headers: ADMIN_AUTH,
        dispatcher: agent,
      });
      const view = (await res.body.json()) as {
        eventId: string;
        docvTransactionId: string;
        customerUserId: string | null;
        rawBody: string;
        payload: unknown;
        headers: unknown;
      };
      expect(res.statusCode).toBe(200);
      expect(view).toMatchObject({
        eventId: row.event_id,
        docvTransactionId: row.docv_transaction_id,
        customerUserId: row.customer_user_id,
      });
      expect(view.rawBody).toBe(row.raw_body.toString('utf8'));
      // Compared as JSON text: -0 in a body is 0 once it has been through JSON.stringify.
      expect(JSON.stringify(view.payload)).toBe(JSON.stringify(JSON.parse(row.raw_body.toString('utf8'))));
      expect(view.headers).toEqual(JSON.parse(row.headers));
    }
    // Quarantined: exactly the authenticated rejections; nothing unauthenticated.
    expect((await count(r.database, 'quarantine')) - quarantineBefore, summary).toBe(authenticatedRejects);

    // Flat: the heap after thousands of deliveries is where it was after the warm-up.
    expect(growthMb, summary).toBeLessThan(gc ? 16 : 64);
  });
});
