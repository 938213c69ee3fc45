import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFailureLimiter, createInboundAuth } from '../../src/auth/index.js';
import { createIngestPipeline, type IngestPipelineOptions } from '../../src/ingest/pipeline.js';
import type { IngestRequest } from '../../src/ingest/types.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * The pipeline in process: no HTTP framework, no port, a SQLite store on a temp file. What is
 * checked here is the order of the checks (SECURITY.md): source, failure limiter, body size,
 * credentials on the raw bytes, then content type and body, and a 200 only once the store has
 * the event. The HTTP status table is test/ingest/ingest-contract.test.ts, on real servers.
 */
const SECRET = 'pipeline-test-secret';
const SENDER = '203.0.113.7';

let dir: string;
let store: Store;
let clock: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'docv-pipeline-'));
  store = await openStore(`sqlite:${join(dir, 'receiver.db')}`);
  clock = 1_767_225_600_000;
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function pipeline(overrides: Partial<IngestPipelineOptions> = {}) {
  const failureLimiter = createFailureLimiter({ maxFailures: 2, windowMs: 60_000, blockMs: 120_000, now: () => clock });
  const auth = createInboundAuth({ webhookSecrets: [SECRET], allowIps: ['203.0.113.0/24'], now: () => clock });
  return createIngestPipeline({ store, auth, failureLimiter, maxBodyBytes: 4_096, ...overrides });
}

let transactions = 0;
function eventBody(overrides: Record<string, unknown> = {}): string {
  transactions += 1;
  return JSON.stringify({
    eventType: 'APP_OPENED',
    docvTransactionId: `tx-pipeline-${transactions}`,
    eventTime: '2026-03-01T10:00:00Z',
    customerUserId: 'user-1',
    ...overrides,
  });
}

function request(
  body: string | Uint8Array,
  options: { secret?: string | null; from?: string; contentType?: string; extra?: Partial<IngestRequest> } = {},
): IngestRequest {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  const secret = options.secret === undefined ? SECRET : options.secret;
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  return {
    method: 'POST',
    headers,
    remoteAddress: options.from ?? SENDER,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    ...options.extra,
  };
}

async function quarantined(): Promise<number> {
  return (await store.listQuarantine({ limit: 100 })).items.length;
}

describe('ingest pipeline, in process', () => {
  it('accepts a delivery only once the store has it, and answers a resend as a duplicate of it', async () => {
    const p = pipeline();
    const body = eventBody();
    const first = await p.handle(request(body));
    expect(first).toMatchObject({ status: 200, outcome: 'accepted', eventType: 'APP_OPENED' });
    const stored = await store.getEvent(first.eventId!);
    expect(stored?.rawBody).toBe(body);
    // Credentials are never kept with the event.
    expect(stored?.headers.authorization).toBeUndefined();

    const again = await p.handle(request(body));
    expect(again).toMatchObject({ status: 200, outcome: 'duplicate', eventId: first.eventId });
  });

  it('refuses a source outside the allow-list before looking at credentials or body', async () => {
    const response = await pipeline().handle(request('not json', { from: '198.51.100.1', secret: 'wrong' }));
    expect(response).toMatchObject({ status: 403, outcome: 'forbidden' });
    expect(await quarantined()).toBe(0);
  });

  it('checks credentials on the raw bytes before parsing: a wrong secret with a broken body is a 401, and nothing is kept', async () => {
    const response = await pipeline().handle(request('{"broken', { secret: 'wrong' }));
    expect(response).toMatchObject({ status: 401, outcome: 'unauthorized' });
    expect(await quarantined()).toBe(0);
  });

  it('refuses a body over the limit before its credentials are checked', async () => {
    const response = await pipeline().handle(request(eventBody({ padding: 'x'.repeat(5_000) }), { secret: 'wrong' }));
    expect(response).toMatchObject({ status: 413, outcome: 'too_large' });
  });

  it('quarantines an authenticated delivery it refuses, so nothing sent with the right secret is lost', async () => {
    const p = pipeline();
    expect(await p.handle(request('{"broken'))).toMatchObject({ status: 400, outcome: 'bad_request' });
    expect(await p.handle(request(eventBody({ eventType: 'NOT_A_TYPE' })))).toMatchObject({
      status: 422,
      outcome: 'invalid',
    });
    expect(await p.handle(request(eventBody(), { contentType: 'text/plain' }))).toMatchObject({
      status: 415,
      outcome: 'unsupported_media_type',
    });
    expect(await quarantined()).toBe(3);
  });

  it('limits an address after repeated failures, before credentials (even right ones), until the block ends on its clock', async () => {
    const p = pipeline();
    expect((await p.handle(request(eventBody(), { secret: 'wrong-1' }))).status).toBe(401);
    expect((await p.handle(request(eventBody(), { secret: 'wrong-2' }))).status).toBe(401);
    expect((await p.handle(request(eventBody(), { secret: 'wrong-3' }))).status).toBe(401);
    const limited = await p.handle(request(eventBody()));
    expect(limited).toMatchObject({ status: 429, outcome: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(p.admit({ method: 'POST', headers: {}, remoteAddress: SENDER })).toMatchObject({ status: 429 });
    // Another address is not held back by this one's failures.
    expect((await p.handle(request(eventBody(), { from: '203.0.113.8' }))).status).toBe(200);

    clock += 120_000;
    expect(p.admit({ method: 'POST', headers: {}, remoteAddress: SENDER })).toBeNull();
    expect((await p.handle(request(eventBody()))).status).toBe(200);
  });

  it('answers 503 with Retry-After when the store cannot commit, so the sender retries', async () => {
    const down: Store = Object.create(store, {
      ingest: {
        value: async () => {
          const { StoreUnavailableError } = await import('../../src/store/index.js');
          throw new StoreUnavailableError('database is locked');
        },
      },
    });
    const response = await pipeline({ store: down }).handle(request(eventBody()));
    expect(response).toMatchObject({ status: 503, outcome: 'unavailable' });
    expect(response.headers['retry-after']).toBeDefined();
  });
});
