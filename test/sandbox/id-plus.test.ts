import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers/api.js';
import { fixture, shapeOf } from './helpers/shape.js';
import { startSink, type Sink } from './helpers/sink.js';

/**
 * The ID+ result call (`POST /api/3.0/EmailAuthScore` with module `documentverification`): what a
 * receiver fetching decisions the way Login.gov does gets from the sandbox.
 */

let sb: SandboxHandle;
let sink: Sink;
let api: ReturnType<typeof sandboxClient>;

beforeAll(async () => {
  sink = await startSink();
  sb = await startSandbox({ apiKey: 'idplus-key', retrySchedule: '20ms', timeScale: 0.0001 });
  api = sandboxClient(sb);
});
afterAll(async () => {
  await sb?.close();
  await sink?.close();
});

const result = (body: Record<string, unknown>) =>
  api.call('POST', '/api/3.0/EmailAuthScore', { modules: ['documentverification'], ...body });

describe('ID+ document-verification result', () => {
  it('answers 200 without a decision until the verification is done', async () => {
    const created = await api.create({
      webhookUrl: sink.url,
      customerUserId: 'idp-1',
      userId: 'u-idp-1',
      dialect: 'socure-v5',
      sandbox: { scenario: 'manual' },
    });
    const token = created.json.docvTransactionId as string;
    const res = await result({ docvTransactionToken: token, customerUserId: 'idp-1' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      referenceId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      previousReferenceId: created.json.referenceId,
      documentVerification: { reasonCodes: [] },
      customerProfile: { customerUserId: 'idp-1', userId: 'u-idp-1' },
    });
    expect(res.json.referenceId).not.toBe(created.json.referenceId);
    expect(shapeOf(res.json)).toEqual(shapeOf(fixture('idplus/result-pending.json')));
  });

  it('answers the decision, reason codes beside it, once decided; the profile path is unchanged', async () => {
    const created = await api.create({
      webhookUrl: sink.url,
      customerUserId: 'idp-2',
      userId: 'u-idp-2',
      sandbox: { scenario: 'reject' },
    });
    const token = created.json.docvTransactionId as string;
    await sb.settled(5_000);
    const res = await result({ docvTransactionToken: token, customerUserId: 'idp-2', email: 'someone@example.com' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      previousReferenceId: created.json.referenceId,
      documentVerification: {
        reasonCodes: ['R810', 'R827'],
        documentType: { type: 'Drivers License', country: 'USA' },
        decision: { name: 'standard', value: 'reject' },
        documentData: {
          firstName: expect.any(String),
          fullName: expect.any(String),
          parsedAddress: { city: expect.any(String) },
        },
      },
      customerProfile: { customerUserId: 'idp-2', userId: 'u-idp-2' },
    });
    expect(shapeOf(res.json)).toEqual(shapeOf(fixture('idplus/result-accept.json')));
    // The same person as Get A DocV Transaction reports, which still answers its own shape.
    const profile = await api.getDocv(token);
    expect(profile.json).toMatchObject({ status: 'VERIFICATION_COMPLETED', decision: { value: 'reject' } });
    const person = (res.json.documentVerification as { documentData: { firstName: string; dob: string } }).documentData;
    expect(profile.json.documentData).toMatchObject({ firstName: person.firstName, dob: person.dob });
  });

  it('answers 404 problem+json for a token it does not know', async () => {
    const res = await result({ docvTransactionToken: '00000000-0000-4000-8000-000000000000' });
    expect(res.status).toBe(404);
    expect(res.contentType).toBe('application/problem+json');
    expect(res.json.detail).toContain('00000000-0000-4000-8000-000000000000');
  });

  it.each([
    [{}, 'docvTransactionToken is required'],
    [{ docvTransactionToken: '' }, 'docvTransactionToken must not be empty'],
    [{ docvTransactionToken: 42 }, 'docvTransactionToken must be a string'],
    [{ docvTransactionToken: 'x', customerUserId: { id: 1 } }, 'customerUserId must be a string'],
    [{ docvTransactionToken: 'x', email: 7 }, 'email must be a string'],
  ])('answers 400 problem+json naming the field for %j', async (body, reason) => {
    const res = await result(body);
    expect(res.status).toBe(400);
    expect(res.contentType).toBe('application/problem+json');
    expect(res.json.detail).toContain(reason);
  });

  it('answers 401 without the right SocureApiKey', async () => {
    for (const authorization of [undefined, 'SocureApiKey wrong', 'Bearer idplus-key']) {
      const res = await fetch(`${sb.url}/api/3.0/EmailAuthScore`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ modules: ['documentverification'], docvTransactionToken: 'x' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('tells a request with neither module what it needs', async () => {
    const res = await api.call('POST', '/api/3.0/EmailAuthScore', { modules: ['kyc'], docvTransactionToken: 'x' });
    expect(res.status).toBe(400);
    expect(res.json.detail).toContain(
      '"docvtransaction" (to create a transaction) or "documentverification" (to read its result)',
    );
  });
});
