import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink, type Sink } from './helpers/sink.js';

let sb: SandboxHandle;
let sink: Sink;
let api: ReturnType<typeof sandboxClient>;

beforeAll(async () => {
  sink = await startSink();
  sb = await startSandbox({ apiKey: 'test-key', retrySchedule: '20ms', timeScale: 1 });
  api = sandboxClient(sb);
});
afterAll(async () => {
  await sb?.close();
  await sink?.close();
});

const eventTypes = () => sink.received.map((r) => r.json.eventType);

describe('authentication', () => {
  it('answers 401 problem+json without the right SocureApiKey', async () => {
    for (const authorization of [undefined, 'SocureApiKey wrong', 'Bearer test-key', 'test-key']) {
      const res = await fetch(`${sb.url}/api/3.0/documents/x`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toBe('SocureApiKey');
      expect(await res.text()).not.toContain('test-key');
    }
    expect((await fetch(`${sb.url}/sandbox/deliveries`)).status).toBe(401);
  });

  it('generates a key when none is given', async () => {
    const other = await startSandbox();
    try {
      expect(other.apiKeyGenerated).toBe(true);
      expect(other.apiKey).toMatch(/^sandbox_.{20,}/);
      expect((await sandboxClient(other).getDocv('x')).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});

describe('Create A DocV Transaction', () => {
  it('answers referenceId, docvTransactionId and sessionUrl', async () => {
    const res = await api.create({ webhookUrl: sink.url, customerUserId: 'u-1' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      referenceId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      docvTransactionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      sessionUrl: expect.stringMatching(new RegExp(`^${sb.url}/capture/[A-Za-z0-9_-]{20,}$`)),
    });
  });

  it.each([
    [{ modules: [] }, 'modules must be an array that includes "docvtransaction"'],
    [{ modules: 'docvtransaction' }, 'modules must be an array'],
    [{ webhookUrl: 'not a url' }, 'webhookUrl must be an absolute URL'],
    [{ webhookUrl: 'ftp://127.0.0.1/x' }, 'webhookUrl must be an http or https URL'],
    [{ webhookUrl: 'http://u:p@127.0.0.1/x' }, 'must not carry credentials'],
    [{}, 'webhookUrl is required'],
    [{ documentType: 'visa' }, 'documentType must be one of'],
    [{ country: 'USA' }, 'country must be at most 2 characters'],
    [{ sandbox: { scenario: 'happy' } }, 'sandbox.scenario must be one of'],
    [{ sandbox: { scenaro: 'accept' } }, 'unknown sandbox setting "scenaro"'],
    [{ sandbox: { timeScale: -1 } }, 'sandbox.timeScale must be a number'],
    [{ sandbox: { chaos: { duplicates: 3 } } }, 'sandbox.chaos: chaos duplicates must be a rate'],
  ])('refuses %j with 400 and the reason', async (body, reason) => {
    const withModules = { modules: ['docvtransaction'], webhookUrl: sink.url, ...body };
    if (Object.keys(body).length === 0) delete (withModules as Record<string, unknown>).webhookUrl;
    const res = await api.call('POST', '/api/3.0/EmailAuthScore', withModules);
    expect(res.status).toBe(400);
    expect(res.contentType).toBe('application/problem+json');
    expect(res.json).toMatchObject({ status: 400, title: 'Bad Request', detail: expect.stringContaining(reason) });
  });

  it('refuses a body that is not JSON with 400 and the reason', async () => {
    const res = await fetch(`${sb.url}/api/3.0/EmailAuthScore`, {
      method: 'POST',
      headers: { authorization: 'SocureApiKey test-key', 'content-type': 'application/json' },
      body: '{"modules":',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { detail: string }).detail).toMatch(/JSON/);
  });

  it('refuses an oversized body with 413', async () => {
    const res = await api.call('POST', '/api/3.0/EmailAuthScore', {
      modules: ['docvtransaction'],
      pad: 'x'.repeat(100_000),
    });
    expect(res.status).toBe(413);
    expect(res.contentType).toBe('application/problem+json');
  });
});

describe('Get A DocV Transaction', () => {
  it('answers 404 problem+json for an unknown id', async () => {
    const res = await api.getDocv('00000000-0000-0000-0000-000000000000');
    expect(res.status).toBe(404);
    expect(res.contentType).toBe('application/problem+json');
  });

  it('has no decision until the verification completes, then the DocvDecision shape', async () => {
    const { json } = await api.create({
      webhookUrl: sink.url,
      customerUserId: 'u-2',
      documentType: 'passport',
      country: 'gb',
    });
    const id = json.docvTransactionId as string;
    const before = await api.getDocv(id);
    expect(before.status).toBe(200);
    expect(before.json).toEqual({
      referenceId: json.referenceId,
      docvTransactionId: id,
      customerUserId: 'u-2',
      status: 'CREATED',
    });

    const verifyEarly = await api.call('POST', '/api/3.0/documents/verify', { docvTransactionId: id });
    expect(verifyEarly.status).toBe(400);
    expect(verifyEarly.json.detail).toContain('missing: passport, selfie');

    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    expect((await api.getDocv(id)).json).not.toHaveProperty('decision');

    const verified = await api.call('POST', '/api/3.0/documents/verify', { docvTransactionId: id });
    expect(verified.status).toBe(200);
    expect(verified.json).toMatchObject({
      docvTransactionId: id,
      status: 'VERIFICATION_COMPLETED',
      decision: { value: 'accept', reasonCodes: expect.any(Array) },
      documentData: {
        documentType: 'passport',
        issuingCountry: 'GB',
        firstName: expect.any(String),
        dob: expect.any(String),
      },
      selfieMatch: { score: expect.any(Number), decision: 'match' },
      liveness: { decision: 'live' },
    });
    expect((await api.getDocv(id)).json).toEqual(verified.json);
    // Verifying again changes nothing and sends nothing.
    expect((await api.call('POST', '/api/3.0/documents/verify', { docvTransactionId: id })).json).toEqual(
      verified.json,
    );
    await eventually(() => sink.received.filter((r) => r.json.docvTransactionId === id).length === 3, 'three events');
    expect(sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => r.json.eventType)).toEqual([
      'APP_OPENED',
      'DOCUMENTS_UPLOADED',
      'VERIFICATION_COMPLETED',
    ]);
  });

  it('verify answers 404 for unknown and 400 without an id', async () => {
    expect((await api.call('POST', '/api/3.0/documents/verify', { docvTransactionId: 'nope' })).status).toBe(404);
    expect((await api.call('POST', '/api/3.0/documents/verify', {})).json.detail).toBe('docvTransactionId is required');
  });
});

describe('document upload', () => {
  const upload = (deviceId: string, type: string | undefined, image: Blob | undefined) => {
    const form = new FormData();
    if (type !== undefined) form.append('type', type);
    if (image !== undefined) form.append('image', image, 'photo.jpg');
    return fetch(`${sb.url}/api/3.0/devices/${deviceId}/documents`, {
      method: 'POST',
      headers: { authorization: 'SocureApiKey test-key' },
      body: form,
    });
  };
  const jpeg = new Blob([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])], { type: 'image/jpeg' });

  it('opens the app on the first upload and completes the set on the last', async () => {
    const { json } = await api.create({ webhookUrl: sink.url, customerUserId: 'u-3' });
    const id = json.docvTransactionId as string;
    const first = await upload(id, 'license_front', jpeg);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      docvTransactionId: id,
      type: 'license_front',
      uploaded: ['license_front'],
      missing: ['license_back', 'selfie'],
    });
    expect((await api.getDocv(id)).json.status).toBe('APP_OPENED');
    await upload(id, 'license_back', jpeg);
    const last = await upload(id, 'selfie', jpeg);
    expect(((await last.json()) as { missing: string[] }).missing).toEqual([]);
    expect((await api.getDocv(id)).json.status).toBe('DOCUMENTS_UPLOADED');
    await eventually(() => sink.received.filter((r) => r.json.docvTransactionId === id).length === 2, 'two events');
    expect(sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => r.json.eventType)).toEqual([
      'APP_OPENED',
      'DOCUMENTS_UPLOADED',
    ]);
  });

  it('refuses bad uploads with 400 and the reason, unknown devices with 404', async () => {
    const { json } = await api.create({ webhookUrl: sink.url });
    const id = json.docvTransactionId as string;
    const noType = await upload(id, undefined, jpeg);
    expect(noType.status).toBe(400);
    expect(((await noType.json()) as { detail: string }).detail).toContain('type must be one of');
    const noImage = await upload(id, 'selfie', undefined);
    expect(((await noImage.json()) as { detail: string }).detail).toContain('image must be a non-empty file');
    expect((await upload('unknown-device', 'selfie', jpeg)).status).toBe(404);
    const asJson = await api.call('POST', `/api/3.0/devices/${id}/documents`, { type: 'selfie' });
    expect(asJson.status).toBe(400);
    expect(asJson.json.detail).toContain('multipart/form-data');
  });
});

describe('control endpoints', () => {
  it('emit any event on demand, including contract-breaking ones', async () => {
    const { json } = await api.create({ webhookUrl: sink.url, customerUserId: 'u-4' });
    const id = json.docvTransactionId as string;
    const res = await api.emit(id, {
      eventType: 'VERIFICATION_COMPLETED',
      decision: 'reject',
      set: { extra: 1 },
      unset: ['customerUserId'],
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      emitted: true,
      webhookId: expect.stringMatching(/^msg_/),
      payload: { eventType: 'VERIFICATION_COMPLETED', decision: 'reject', extra: 1 },
    });
    expect(res.json.payload).not.toHaveProperty('customerUserId');
    // Forced by default: an event the lifecycle is past is still sent.
    expect((await api.emit(id, { eventType: 'APP_OPENED', set: { decision: 'accept' } })).status).toBe(201);
    const refused = await api.emit(id, { eventType: 'APP_OPENED', force: false });
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain('the session is over');
    expect((await api.getDocv(id)).json).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: { value: 'reject' },
    });
    await eventually(() => sink.received.filter((r) => r.json.docvTransactionId === id).length === 2, 'two events');
    expect(
      sink.received.filter((r) => r.json.docvTransactionId === id).map((r) => [r.json.eventType, r.json.decision]),
    ).toEqual([
      ['VERIFICATION_COMPLETED', 'reject'],
      ['APP_OPENED', 'accept'],
    ]);
  });

  it('validate what they are asked', async () => {
    const { json } = await api.create({ webhookUrl: sink.url });
    const id = json.docvTransactionId as string;
    expect((await api.emit(id, { eventType: 'SESSION_COMPLETE' })).json.detail).toContain('eventType must be one of');
    expect((await api.emit(id, { eventType: 'APP_OPENED', decision: 'review' })).json.detail).toContain(
      'decision must be',
    );
    expect((await api.emit(id, { eventType: 'APP_OPENED', set: { __proto__: 1, 'a.__proto__.b': 1 } })).status).toBe(
      400,
    );
    expect((await api.emit('nope', { eventType: 'APP_OPENED' })).status).toBe(404);
  });

  it('show a transaction with its events and deliveries', async () => {
    const { json } = await api.create({ webhookUrl: sink.url, sandbox: { scenario: 'manual' } });
    const id = json.docvTransactionId as string;
    await api.emit(id, { eventType: 'APP_OPENED' });
    await eventually(
      async () => ((await api.inspect(id)).json.deliveries as Array<{ status: string }>)[0]?.status === 'delivered',
      'delivery',
    );
    const { json: view } = await api.inspect(id);
    expect(view).toMatchObject({
      docvTransactionId: id,
      status: 'APP_OPENED',
      scenario: 'manual',
      sessionUrl: json.sessionUrl,
      plannedSteps: [{ eventType: 'SESSION_EXPIRED' }],
      events: [{ eventType: 'APP_OPENED' }],
      deliveries: [
        { eventType: 'APP_OPENED', status: 'delivered', attempts: 1, attemptLog: [{ n: 1, statusCode: 200 }] },
      ],
    });
    expect(view).not.toHaveProperty('sessionToken');
  });

  it('set and read global chaos', async () => {
    const put = await api.call('PUT', '/sandbox/chaos', { duplicates: 0.5 });
    expect(put.json).toMatchObject({ global: { duplicates: 0.5 }, effective: { duplicates: 0.5, outOfOrder: 0 } });
    expect((await api.call('GET', '/sandbox/chaos')).json).toMatchObject({ global: { duplicates: 0.5 } });
    expect((await api.call('PUT', '/sandbox/chaos', { dupes: 1 })).status).toBe(400);
    await api.call('PUT', '/sandbox/chaos', {});
  });

  it('list deliveries with filters', async () => {
    const all = await api.deliveries('?limit=2');
    expect(all.status).toBe(200);
    expect((all.json.deliveries as unknown[]).length).toBe(2);
    expect(all.json.next).toEqual(expect.any(Number));
    const delivered = await api.deliveries('?status=delivered');
    expect((delivered.json.deliveries as Array<{ status: string }>).every((d) => d.status === 'delivered')).toBe(true);
    expect((await api.deliveries('?status=lost')).status).toBe(400);
    expect((await api.deliveries('?limit=0')).status).toBe(400);
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await api.call('GET', '/api/3.0/nothing');
    expect(res.status).toBe(404);
    expect(res.contentType).toBe('application/problem+json');
    expect(eventTypes().length).toBeGreaterThan(0);
  });
});
