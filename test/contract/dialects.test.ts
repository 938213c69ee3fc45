import { describe, expect, it } from 'vitest';
import { DOCUMENT_DATA_REMOVED, dialectByShape, parseDelivery, type CanonicalEvent } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';

const receivedAt = new Date('2026-12-06T10:00:00.000Z');
const TOKEN = '6f1c1f3a-6d6b-4d0e-9d4b-2f0c2d7a9e11';

function read(
  body: unknown,
  options: { dialect?: 'asyncapi' | 'socure-v5' | 'riskos'; keepDocumentData?: boolean } = {},
) {
  return parseDelivery(JSON.stringify(body), { receivedAt, ...options });
}

function accepted(body: unknown, options: Parameters<typeof read>[1] = {}): CanonicalEvent {
  const r = read(body, options);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.event;
}

const v5Completed = {
  id: 'notif-1',
  origId: TOKEN,
  eventGroup: 'DocvNotification',
  reason: 'VERIFICATION_COMPLETED',
  environmentName: 'production',
  event: {
    eventType: 'VERIFICATION_COMPLETED',
    created: '2026-12-06T09:59:58.123Z',
    message: 'Verification Completed',
    referenceId: 'ref-9',
    docvTransactionToken: TOKEN,
    customerUserId: 121212,
    data: {
      referenceId: 'ref-10',
      documentVerification: {
        reasonCodes: ['I831', 'R810'],
        documentType: { type: 'Drivers License', country: 'USA', state: 'MD' },
        decision: { name: 'lenient', value: 'reject' },
        documentData: { firstName: 'Ada', surName: 'Lovelace', dob: '1815-12-10', documentNumber: 'D123' },
      },
    },
  },
};

const riskosCompleted = {
  event_id: 'evt-riskos-1',
  event_at: '2026-12-06T09:59:59Z',
  event_type: 'evaluation_completed',
  data: {
    eval_id: 'eval-7',
    id: 'app-42',
    decision: 'REVIEW',
    eval_status: 'evaluation_completed',
    data_enrichments: [
      {
        enrichment_name: 'Socure Document Request',
        enrichment_provider: 'Socure',
        status_code: 200,
        response: { data: { docvTransactionToken: TOKEN, url: 'https://verify.socure.com/#/dv/x' } },
      },
      {
        enrichment_name: 'Socure Document Verification',
        enrichment_provider: 'Socure',
        status_code: 200,
        response: {
          documentVerification: {
            decision: { name: 'standard', value: 'review' },
            reasonCodes: ['I808'],
            documentData: { fullName: 'Ada Lovelace' },
          },
        },
      },
    ],
  },
};

describe('dialect detection by shape', () => {
  it('tells the three shapes apart, and says none for a body that announces nothing', () => {
    expect(dialectByShape({ eventType: 'APP_OPENED' })).toBe('asyncapi');
    expect(dialectByShape({ event: { eventType: 'APP_OPENED' } })).toBe('socure-v5');
    expect(dialectByShape({ event_type: 'case_notes_added' })).toBe('riskos');
    expect(dialectByShape({ hello: 'world' })).toBeNull();
    expect(dialectByShape([1, 2])).toBeNull();
  });
});

describe('socure-v5', () => {
  it('folds a VERIFICATION_COMPLETED envelope into the canonical event', () => {
    const e = accepted(v5Completed);
    expect(e).toMatchObject({
      dialect: 'socure-v5',
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: TOKEN,
      eventTime: '2026-12-06T09:59:58.123Z',
      eventTimeSource: 'event',
      customerUserId: '121212',
      decision: 'reject',
      decisionName: 'lenient',
      reasonCodes: ['I831', 'R810'],
      referenceId: 'ref-9',
      environment: 'Production',
      envelopeId: 'notif-1',
      test: false,
      documentDataRemoved: true,
    });
    expect(e.decisionOriginal).toBeUndefined();
  });

  it('removes document data from the payload but keeps the decision, reason codes and document type', () => {
    const e = accepted(v5Completed);
    const dv = (e.payload.event as { data: { documentVerification: Record<string, unknown> } }).data
      .documentVerification;
    expect(dv.documentData).toBe(DOCUMENT_DATA_REMOVED);
    expect(dv.reasonCodes).toEqual(['I831', 'R810']);
    expect(dv.decision).toEqual({ name: 'lenient', value: 'reject' });
    expect(dv.documentType).toEqual({ type: 'Drivers License', country: 'USA', state: 'MD' });
    expect(JSON.stringify(e.payload)).not.toContain('Lovelace');
    const kept = accepted(v5Completed, { keepDocumentData: true });
    expect(JSON.stringify(kept.payload)).toContain('Lovelace');
    expect(kept.documentDataRemoved).toBeUndefined();
  });

  it('hashes the cleaned payload, so a quarantined (cleaned) body compares equal to the original', () => {
    const original = read(v5Completed);
    const cleaned = read(accepted(v5Completed).payload);
    expect(original.ok && cleaned.ok && original.contentHash === cleaned.contentHash).toBe(true);
  });

  it('reads the other token spelling, then origId', () => {
    const other = {
      event: { eventType: 'APP_OPENED', created: '2026-12-06T09:00:00.000Z', docVTransactionToken: 'tx-b' },
    };
    expect(accepted(other).docvTransactionId).toBe('tx-b');
    const first = {
      id: 'n-0',
      origId: 'tx-c',
      event: { eventType: 'WAITING_FOR_USER_TO_REDIRECT', created: '2026-12-06T09:00:00.000Z' },
    };
    expect(accepted(first).docvTransactionId).toBe('tx-c');
    const both = {
      origId: 'tx-orig',
      event: { eventType: 'APP_OPENED', docvTransactionToken: 'tx-token', docVTransactionToken: 'tx-other' },
    };
    expect(accepted(both).docvTransactionId).toBe('tx-token');
  });

  it('takes the bare {"event":{…}} body with no created: the receipt time stands in, marked', () => {
    const e = accepted({ event: { eventType: 'DOCUMENTS_UPLOADED', docvTransactionToken: TOKEN } });
    expect(e).toMatchObject({
      dialect: 'socure-v5',
      eventTime: receivedAt.toISOString(),
      eventTimeSource: 'receipt',
      docvTransactionId: TOKEN,
    });
    expect(e.envelopeId).toBeUndefined();
    // Two receipts of it must deduplicate: the key cannot contain the receipt time.
    const r = read({ event: { eventType: 'DOCUMENTS_UPLOADED', docvTransactionToken: TOKEN } });
    expect(r.ok && dedupeKeyOf(e, r.contentHash, null)).toBe(r.ok && r.contentHash);
  });

  it('deduplicates on the envelope id; the webhook-id header still wins', () => {
    const e = accepted(v5Completed);
    expect(dedupeKeyOf(e, 'sha256:x', null)).toBe('env:socure-v5:notif-1');
    expect(dedupeKeyOf(e, 'sha256:x', 'msg_1')).toBe('id:msg_1');
  });

  it('stores TEST_WEBHOOK as a test with no transaction, its sample document data removed', () => {
    const e = accepted({
      id: 't-1',
      eventGroup: 'DocvNotification',
      environmentName: 'Sandbox',
      event: {
        eventType: 'TEST_WEBHOOK',
        created: '2026-12-06T09:00:00.000Z',
        customerUserId: 'cust-1',
        referenceId: 'r',
        data: { documentData: { firstName: 'Test' } },
      },
    });
    expect(e).toMatchObject({
      test: true,
      docvTransactionId: null,
      eventType: 'TEST_WEBHOOK',
      environment: 'Sandbox',
      documentDataRemoved: true,
    });
  });

  it('accepts an event type nobody knows yet, with or without a transaction', () => {
    expect(
      accepted({ id: 'n-9', event: { eventType: 'DOCUMENT_LIVENESS_CHECKED', created: '2026-12-06T09:00:00.000Z' } }),
    ).toMatchObject({
      eventType: 'DOCUMENT_LIVENESS_CHECKED',
      docvTransactionId: null,
    });
  });

  it('refuses a known DocV type without any transaction id, and bad times, ids and decisions, listing each', () => {
    const r = read({
      id: '',
      environmentName: 'Sandbox',
      event: {
        eventType: 'APP_OPENED',
        created: '2026-12-06T09:00:00+0100',
        customerUserId: 'a\u0000b',
        data: { documentVerification: { decision: { value: 'maybe' } } },
      },
    });
    expect(r.ok).toBe(false);
    if (r.ok || r.kind !== 'contract') return;
    expect(r.dialect).toBe('socure-v5');
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { path: '/event/docvTransactionToken', message: expect.stringContaining('is required on APP_OPENED') },
        { path: '/event/created', message: expect.stringContaining('RFC 3339') },
        { path: '/id', message: expect.stringContaining('must NOT have fewer than 1 characters') },
        { path: '/event/customerUserId', message: expect.stringContaining('control characters') },
        { path: '/event/data/documentVerification/decision/value', message: expect.stringContaining('must be one of') },
      ]),
    );
  });
});

describe('riskos', () => {
  it('folds evaluation_completed: token from the enrichment, decision mapped, the original kept', () => {
    const e = accepted(riskosCompleted);
    expect(e).toMatchObject({
      dialect: 'riskos',
      eventType: 'evaluation_completed',
      docvTransactionId: TOKEN,
      eventTime: '2026-12-06T09:59:59Z',
      decision: 'review',
      decisionOriginal: 'REVIEW',
      decisionName: 'standard',
      reasonCodes: ['I808'],
      envelopeId: 'evt-riskos-1',
      evaluationId: 'eval-7',
      documentDataRemoved: true,
    });
    expect(dedupeKeyOf(e, 'sha256:x', null)).toBe('env:riskos:evt-riskos-1');
  });

  it('reads case_notes_added: the evaluation id, no transaction yet, no decision', () => {
    const e = accepted({
      event_id: 'evt-2',
      event_at: '2026-12-06T09:00:00Z',
      event_type: 'case_notes_added',
      data: { eval_id: 'eval-7', id: 'app-42', notes: 'Capture App Opened', reviewer_id: 'Webhook' },
    });
    expect(e).toMatchObject({ docvTransactionId: null, evaluationId: 'eval-7', eventType: 'case_notes_added' });
    expect(e.decision).toBeUndefined();
  });

  it('refuses a RiskOS event without its id or data, and an unknown decision', () => {
    const r = read({ event_type: 'evaluation_completed', event_id: 'e', data: { decision: 'MAYBE' } });
    expect(r.ok || r.kind !== 'contract' ? [] : r.errors.map((e) => e.path)).toEqual(['/data/decision']);
    const missing = read({ event_type: 'evaluation_completed' });
    expect(missing.ok || missing.kind !== 'contract' ? [] : missing.errors.map((e) => e.path).sort()).toEqual([
      '/data',
      '/event_id',
    ]);
  });
});

describe('the flat contract stays the contract for its shape', () => {
  it('reads a flat event exactly as before, with nothing added to store', () => {
    const body = {
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: 'tx-1',
      eventTime: '2026-03-01T10:00:00Z',
      decision: 'accept',
      extra: 1,
    };
    expect(accepted(body)).toEqual({
      dialect: 'asyncapi',
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: 'tx-1',
      eventTime: '2026-03-01T10:00:00Z',
      eventTimeSource: 'event',
      decision: 'accept',
      test: false,
      payload: body,
    });
  });

  it('still refuses a flat event that breaks it (unknown type, review), naming the dialect', () => {
    const r = read({ eventType: 'SESSION_COMPLETE', docvTransactionId: 'tx', eventTime: '2026-03-01T10:00:00Z' });
    expect(r.ok === false && r.kind === 'contract' && r.dialect).toBe('asyncapi');
    const review = read({
      eventType: 'VERIFICATION_COMPLETED',
      docvTransactionId: 'tx',
      eventTime: '2026-03-01T10:00:00Z',
      decision: 'review',
    });
    expect(review.ok).toBe(false);
  });
});

describe('a body that fits no dialect', () => {
  it('a flat field announces the flat contract: every violation of it is listed', () => {
    const r = read({ eventTime: 'soon', hello: 1 });
    expect(r.ok).toBe(false);
    if (r.ok || r.kind !== 'contract') return;
    expect(r).toMatchObject({ detected: true, dialect: 'asyncapi' });
    expect(r.errors.map((e) => e.path).sort()).toEqual(['/docvTransactionId', '/eventTime', '/eventType']);
  });

  it('names the closest when no shape is announced', () => {
    const r = read({ origId: 'tx', environmentName: 'Sandbox' });
    expect(r.ok).toBe(false);
    if (r.ok || r.kind !== 'contract') return;
    expect(r.detected).toBe(false);
    expect(r.dialect).toBe('socure-v5');
    expect(r.errors).toEqual([{ path: '/event', message: 'is required' }]);
  });

  it('when pinned, reads only that dialect', () => {
    const r = read(v5Completed, { dialect: 'asyncapi' });
    expect(r.ok === false && r.kind === 'contract' && r.dialect).toBe('asyncapi');
    expect(read(riskosCompleted, { dialect: 'riskos' }).ok).toBe(true);
  });
});
