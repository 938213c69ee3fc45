import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalDecision, CanonicalEvent } from '../../src/contract/index.js';
import {
  createDecisionFetchDestination,
  type DecisionFetchOptions,
  type DecisionFetchStore,
} from '../../src/dispatch/index.js';
import type { AttemptOutcome } from '../../src/dispatch/index.js';
import {
  DECISION_FETCH_DESTINATION,
  type ClaimedDelivery,
  type FetchedDecision,
  type TransactionView,
} from '../../src/store/index.js';

/**
 * The decision-fetch destination on its own: a real HTTP server on 127.0.0.1 plays Socure, a
 * store stub records what the destination asks of the store. The receiver-level behaviour (rows,
 * lifecycle, admin API) is in decision-fetch.test.ts.
 */

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let baseUrl: string;
let requests: SeenRequest[] = [];
let respond: (req: SeenRequest, res: ServerResponse) => void = (_req, res) => res.writeHead(200).end('{}');

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      respond(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
  respond = (_req, res) => res.writeHead(200).end('{}');
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function idplusAnswer(
  decision?: { name?: string; value: string },
  reasonCodes: string[] = [],
): Record<string, unknown> {
  return {
    referenceId: 'ref-2',
    documentVerification: {
      reasonCodes,
      documentType: { type: 'Drivers License', country: 'USA', state: 'MD' },
      ...(decision ? { decision } : {}),
      documentData: { firstName: 'Dwayne', surName: 'Denver', documentNumber: 'D-123' },
    },
    customerProfile: { customerUserId: 'user-1' },
  };
}

/** A store that knows one transaction and records what the fetch tells it. */
function stubStore(
  initial: {
    decision?: CanonicalDecision;
    decisionSource?: 'event' | 'api';
    customerUserId?: string;
    markFails?: boolean;
  } = {},
) {
  const state = {
    decision: initial.decision ?? null,
    decisionSource: initial.decision ? (initial.decisionSource ?? 'event') : null,
  };
  const recorded: Array<{ eventId: string; docvTransactionId: string; decision: FetchedDecision; source?: string }> =
    [];
  const unavailable: Array<{ docvTransactionId: string; reason: string; at: Date; source?: string }> = [];
  const looked: Array<string | undefined> = [];
  const store: DecisionFetchStore = {
    async getTransaction(id, source): Promise<TransactionView> {
      looked.push(source);
      return {
        docvTransactionId: id,
        source: source ?? 'default',
        status: 'DOCUMENTS_UPLOADED',
        decision: state.decision,
        decisionSource: state.decisionSource,
        reasonCodes: [],
        customerUserId: initial.customerUserId ?? null,
        firstEventAt: '2026-03-01T10:00:00Z',
        lastEventAt: '2026-03-01T10:00:00Z',
        firstReceivedAt: '2026-03-01T10:00:00Z',
        lastReceivedAt: '2026-03-01T10:00:00Z',
        eventCount: 1,
        anomalies: [],
        events: [],
      };
    },
    async recordDecision(eventId, docvTransactionId, decision, source) {
      recorded.push({ eventId, docvTransactionId, decision, ...(source !== 'default' ? { source } : {}) });
    },
    async markDecisionUnavailable(docvTransactionId, reason, at, source) {
      if (initial.markFails) throw new Error('database is locked');
      unavailable.push({ docvTransactionId, reason, at, ...(source !== 'default' ? { source } : {}) });
    },
  };
  return { store, recorded, unavailable, looked };
}

const NOW = Date.parse('2026-03-01T12:00:00Z');

function claimed(
  overrides: {
    attempts?: number;
    createdAt?: string;
    docvTransactionId?: string | null;
    source?: string;
    event?: Partial<CanonicalEvent>;
  } = {},
): ClaimedDelivery {
  const docvTransactionId = overrides.docvTransactionId === undefined ? 'tx-1' : overrides.docvTransactionId;
  return {
    deliveryId: 'dl-1',
    eventId: 'ev-1',
    docvTransactionId,
    source: overrides.source ?? 'default',
    eventType: 'DOCUMENTS_UPLOADED',
    destination: DECISION_FETCH_DESTINATION,
    state: 'pending',
    attempts: overrides.attempts ?? 0,
    nextAttemptAt: null,
    lastStatus: null,
    lastError: null,
    createdAt: overrides.createdAt ?? new Date(NOW - 1_000).toISOString(),
    updatedAt: new Date(NOW).toISOString(),
    deliveredAt: null,
    receivedAt: new Date(NOW - 1_000).toISOString(),
    fetchedDecision: null,
    event: {
      dialect: 'asyncapi',
      eventType: 'DOCUMENTS_UPLOADED',
      docvTransactionId,
      eventTime: '2026-03-01T10:00:00Z',
      eventTimeSource: 'event',
      customerUserId: 'user-1',
      test: false,
      payload: {},
      ...overrides.event,
    },
  };
}

function destination(store: DecisionFetchStore, options: Partial<DecisionFetchOptions> = {}) {
  return createDecisionFetchDestination({
    store,
    baseUrl: `${baseUrl}/`,
    apiKey: 'key-1',
    timeoutMs: 2_000,
    storeDocumentData: false,
    pendingMaxMs: 10 * 60_000,
    maxAttempts: 5,
    now: () => NOW,
    ...options,
  });
}

function deliver(dest: ReturnType<typeof destination>, delivery: ClaimedDelivery): Promise<AttemptOutcome> {
  return dest.deliver(delivery, new AbortController().signal);
}

describe('decision fetch, ID+ (default)', () => {
  it('POSTs EmailAuthScore with the key, JSON headers, the token and the customerUserId', async () => {
    respond = (_req, res) => json(res, 200, idplusAnswer({ name: 'lenient', value: 'accept' }, ['I831', 'R810']));
    const { store, recorded } = stubStore();
    const outcome = await deliver(destination(store), claimed());
    expect(outcome).toEqual({ outcome: 'delivered', status: 200 });
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/api/3.0/EmailAuthScore');
    expect(req!.headers.authorization).toBe('SocureApiKey key-1');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers.accept).toBe('application/json');
    expect(JSON.parse(req!.body)).toEqual({
      modules: ['documentverification'],
      docvTransactionToken: 'tx-1',
      customerUserId: 'user-1',
    });
    expect(recorded).toEqual([
      {
        eventId: 'ev-1',
        docvTransactionId: 'tx-1',
        decision: {
          decision: 'accept',
          decisionName: 'lenient',
          reasonCodes: ['I831', 'R810'],
          fetchedAt: new Date(NOW).toISOString(),
          details: null,
        },
      },
    ]);
  });

  it.each([
    [{ name: 'standard', value: 'review' }, 'review', 'standard'],
    [{ value: 'ACCEPT' }, 'accept', undefined],
    [{ name: 'lenient', value: 'Reject' }, 'reject', 'lenient'],
  ])('reads %j as %s', async (decision, canonical, name) => {
    respond = (_req, res) => json(res, 200, idplusAnswer(decision, ['R810']));
    const { store, recorded } = stubStore();
    expect(await deliver(destination(store), claimed())).toMatchObject({ outcome: 'delivered' });
    expect(recorded[0]!.decision.decision).toBe(canonical);
    expect(recorded[0]!.decision.decisionName).toBe(name);
    expect(recorded[0]!.decision.reasonCodes).toEqual(['R810']);
  });

  it("takes the transaction's customerUserId when the event has none, and sends none when nobody knows it", async () => {
    respond = (_req, res) => json(res, 200, idplusAnswer({ value: 'accept' }));
    const known = stubStore({ customerUserId: 'user-from-tx' });
    await deliver(destination(known.store), claimed({ event: { customerUserId: undefined } }));
    expect(JSON.parse(requests[0]!.body).customerUserId).toBe('user-from-tx');

    const unknown = stubStore();
    const event = claimed().event;
    delete event.customerUserId;
    await deliver(destination(unknown.store), { ...claimed(), event });
    expect(JSON.parse(requests[1]!.body)).toEqual({ modules: ['documentverification'], docvTransactionToken: 'tx-1' });
  });

  it('keeps the whole answer (document data) only when storeDocumentData is on', async () => {
    const answer = idplusAnswer({ value: 'accept' });
    respond = (_req, res) => json(res, 200, answer);
    const off = stubStore();
    await deliver(destination(off.store), claimed());
    expect(off.recorded[0]!.decision.details).toBeNull();
    const on = stubStore();
    await deliver(destination(on.store, { storeDocumentData: true }), claimed());
    expect(on.recorded[0]!.decision.details).toEqual(answer);
  });
});

describe('decision fetch, per source (issue 20)', () => {
  it("asks each source's own Socure account, the receiver-wide one for the others, and files the answer under the source", async () => {
    respond = (_req, res) => json(res, 200, idplusAnswer({ value: 'accept' }));
    const { store, recorded, looked } = stubStore();
    const credentialsFor = (source: string) =>
      source === 'prod' ? { baseUrl: `${baseUrl}/prod-account/`, apiKey: 'prod-key' } : undefined;
    const dest = destination(store, { credentialsFor });
    await deliver(dest, claimed({ source: 'prod' }));
    await deliver(dest, claimed({ source: 'sandbox' }));
    expect(requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['/prod-account/api/3.0/EmailAuthScore', 'SocureApiKey prod-key'],
      ['/api/3.0/EmailAuthScore', 'SocureApiKey key-1'],
    ]);
    expect(looked).toEqual(['prod', 'sandbox']);
    expect(recorded.map((r) => r.source)).toEqual(['prod', 'sandbox']);
  });

  it('ends dead, saying what to configure, and marks the transaction when a source has no credentials at all', async () => {
    const { store, unavailable } = stubStore();
    const outcome = await deliver(destination(store, { credentialsFor: () => null }), claimed({ source: 'eu' }));
    expect(outcome.outcome).toBe('dead');
    expect(outcome.outcome !== 'delivered' && outcome.error).toContain('no Socure API credentials for source "eu"');
    expect(requests).toHaveLength(0);
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]!.source).toBe('eu');
  });
});

describe('decision fetch, profile', () => {
  it('GETs documents/{id} and reads decision.value and decision.reasonCodes at the top level', async () => {
    respond = (_req, res) =>
      json(res, 200, { docvTransactionId: 'tx 1', decision: { value: 'RESUBMIT', reasonCodes: ['I834', 5] } });
    const { store, recorded } = stubStore();
    expect(await deliver(destination(store, { api: 'profile' }), claimed({ docvTransactionId: 'tx 1' }))).toEqual({
      outcome: 'delivered',
      status: 200,
    });
    expect(requests[0]).toMatchObject({ method: 'GET', url: '/api/3.0/documents/tx%201', body: '' });
    expect(requests[0]!.headers.authorization).toBe('SocureApiKey key-1');
    expect(requests[0]!.headers['content-type']).toBeUndefined();
    expect(recorded[0]!.decision).toMatchObject({ decision: 'resubmit', reasonCodes: ['I834'] });
  });
});

describe('when there is nothing to fetch', () => {
  it("a decision only an event gave is asked about all the same (it is the sender's word)", async () => {
    const { store } = stubStore({ decision: 'accept' });
    await deliver(destination(store), claimed());
    expect(requests).toHaveLength(1);
  });

  it('a transaction the API already decided: delivered, no request', async () => {
    const { store, recorded } = stubStore({ decision: 'accept', decisionSource: 'api' });
    const outcome = await deliver(destination(store), claimed());
    expect(outcome).toMatchObject({ outcome: 'delivered' });
    expect(outcome.outcome === 'delivered' && outcome.note).toMatch(
      /API already gave the transaction its decision \(accept\)/,
    );
    expect(requests).toEqual([]);
    expect(recorded).toEqual([]);
  });

  it('a row without a docvTransactionId: delivered with a note, no request', async () => {
    const { store } = stubStore();
    const outcome = await deliver(destination(store), claimed({ docvTransactionId: null }));
    expect(outcome).toMatchObject({ outcome: 'delivered', note: expect.stringMatching(/no docvTransactionId/) });
    expect(requests).toEqual([]);
  });
});

describe('an answer without a decision yet', () => {
  beforeEach(() => {
    respond = (_req, res) => json(res, 200, idplusAnswer(undefined));
  });

  it('is retried while within the bound and the attempt budget', async () => {
    const { store, unavailable } = stubStore();
    expect(await deliver(destination(store), claimed({ attempts: 2 }))).toEqual({
      outcome: 'failed',
      status: 200,
      error: 'no decision in the response yet',
    });
    expect(unavailable).toEqual([]);
  });

  it('past the bound: the transaction is marked decision-unavailable and the row is dead, saying why', async () => {
    const { store, unavailable } = stubStore();
    const createdAt = new Date(NOW - 11 * 60_000).toISOString();
    const outcome = await deliver(destination(store), claimed({ attempts: 1, createdAt }));
    expect(outcome.outcome).toBe('dead');
    expect(outcome.outcome !== 'delivered' && outcome.error).toBe(
      'decision unavailable: no decision in the response yet after 2 attempts over 11m 0s (past the 10m bound); the transaction is marked decision-unavailable',
    );
    expect(unavailable).toEqual([
      {
        docvTransactionId: 'tx-1',
        reason: 'no decision in the response yet after 2 attempts over 11m 0s (past the 10m bound)',
        at: new Date(NOW),
      },
    ]);
  });

  it('at the last attempt the retry policy allows: marked and dead too', async () => {
    const { store, unavailable } = stubStore();
    const outcome = await deliver(destination(store, { maxAttempts: 3 }), claimed({ attempts: 2 }));
    expect(outcome).toMatchObject({
      outcome: 'dead',
      error: expect.stringMatching(/after 3 attempts .*at the last attempt allowed/),
    });
    expect(unavailable).toHaveLength(1);
  });

  it('an unknown decision value counts as none yet, and the reason says what it was', async () => {
    respond = (_req, res) => json(res, 200, idplusAnswer({ value: 'maybe' }));
    const { store, unavailable } = stubStore();
    await deliver(destination(store, { maxAttempts: 1 }), claimed());
    expect(unavailable[0]!.reason).toMatch(/^unrecognised decision "maybe" in the response after 1 attempt /);
  });

  it('when the mark cannot be written, the attempt fails loudly instead of ending quietly', async () => {
    const { store } = stubStore({ markFails: true });
    const outcome = await deliver(destination(store, { maxAttempts: 1 }), claimed());
    expect(outcome).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/could not mark the transaction decision-unavailable: database is locked/),
    });
  });
});

describe('errors', () => {
  it('a 5xx is retried as before, with a bounded snippet of the body, and the transaction is left alone', async () => {
    respond = (_req, res) => res.writeHead(503, { 'retry-after': '7' }).end('x'.repeat(100_000));
    const { store, unavailable } = stubStore();
    const outcome = await deliver(destination(store), claimed());
    expect(outcome).toMatchObject({ outcome: 'failed', status: 503, retryAfterMs: 7_000 });
    expect(outcome.outcome === 'failed' && outcome.error.length).toBeLessThan(260);
    expect(unavailable).toEqual([]);
  });

  it('an error on the last attempt keeps its outcome, and the transaction says no decision came', async () => {
    respond = (_req, res) => res.writeHead(401).end('bad key');
    const { store, unavailable } = stubStore();
    const outcome = await deliver(destination(store, { maxAttempts: 2 }), claimed({ attempts: 1 }));
    expect(outcome).toMatchObject({
      outcome: 'failed',
      status: 401,
      error: 'HTTP 401: bad key; the transaction is marked decision-unavailable',
    });
    expect(unavailable[0]!.reason).toBe('the decision fetch gave up after 2 attempts: HTTP 401: bad key');
  });

  it('410 Gone ends the row at once, and marks the transaction', async () => {
    respond = (_req, res) => res.writeHead(410).end();
    const { store, unavailable } = stubStore();
    expect(await deliver(destination(store), claimed())).toMatchObject({ outcome: 'dead', status: 410 });
    expect(unavailable).toHaveLength(1);
  });

  it('a 200 that is not a JSON object fails the attempt', async () => {
    respond = (_req, res) => res.writeHead(200).end('[1,2]');
    const { store } = stubStore();
    expect(await deliver(destination(store), claimed())).toEqual({
      outcome: 'failed',
      status: 200,
      error: 'response is not a JSON object',
    });
  });

  it('times out', async () => {
    respond = () => undefined; // never answers
    const { store } = stubStore();
    expect(await deliver(destination(store, { timeoutMs: 150 }), claimed())).toEqual({
      outcome: 'failed',
      error: 'timed out after 150 ms',
    });
  });
});

describe('the 1 MiB response limit', () => {
  const MiB = 1024 * 1024;

  /** A JSON answer padded to exactly `size` bytes. */
  function paddedAnswer(size: number): string {
    const base = JSON.stringify({ ...idplusAnswer({ value: 'accept' }), padding: '' });
    return base.replace('"padding":""', `"padding":"${'p'.repeat(size - base.length)}"`);
  }

  it('without content-length, stops reading past 1 MiB and fails the attempt', async () => {
    let aborted = false;
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no content-length
      res.on('close', () => (aborted = !res.writableFinished));
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        // 8 MiB in all, unless the client stops reading first.
        while (sent < 8 * MiB && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const { store, recorded } = stubStore();
    const outcome = await deliver(destination(store), claimed());
    expect(requests).toHaveLength(1);
    expect(outcome).toEqual({
      outcome: 'failed',
      status: 200,
      error: `response is over ${MiB} bytes (stopped reading there)`,
    });
    expect(recorded).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(aborted).toBe(true);
    // The answer really had no content-length to go by.
    const probe = await fetch(baseUrl);
    expect(probe.headers.get('content-length')).toBeNull();
    expect(probe.headers.get('transfer-encoding')).toBe('chunked');
    await probe.body?.cancel();
  });

  it('with a content-length over 1 MiB, fails without reading', async () => {
    respond = (_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-length': String(MiB + 1) })
        .end('x'.repeat(MiB + 1));
    const { store } = stubStore();
    expect(await deliver(destination(store), claimed())).toEqual({
      outcome: 'failed',
      status: 200,
      error: `response of ${MiB + 1} bytes is over ${MiB}`,
    });
  });

  it('an answer of exactly 1 MiB, chunked, is read', async () => {
    const body = paddedAnswer(MiB);
    expect(Buffer.byteLength(body)).toBe(MiB);
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < body.length; i += 100_000) res.write(body.slice(i, i + 100_000));
      res.end();
    };
    const { store, recorded } = stubStore();
    expect(await deliver(destination(store), claimed())).toEqual({ outcome: 'delivered', status: 200 });
    expect(recorded[0]!.decision.decision).toBe('accept');
  });
});
