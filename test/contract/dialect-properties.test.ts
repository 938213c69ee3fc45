import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDelivery, type Dialect } from '../../src/contract/index.js';

const receivedAt = new Date('2026-12-06T10:00:00.000Z');

/** JSON values shaped like deliveries: the keys every dialect looks at, with values of any kind. */
const anyValue = fc.jsonValue({ maxDepth: 4 });
const looksLikeDelivery = fc.oneof(
  anyValue,
  fc.record(
    {
      event: fc.oneof(
        anyValue,
        fc.record(
          {
            eventType: anyValue,
            created: anyValue,
            docvTransactionToken: anyValue,
            customerUserId: anyValue,
            data: anyValue,
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      event_id: anyValue,
      event_type: anyValue,
      event_at: anyValue,
      data: fc.oneof(
        anyValue,
        fc.record({ eval_id: anyValue, decision: anyValue, data_enrichments: anyValue }, { requiredKeys: [] }),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      eventType: anyValue,
      docvTransactionId: anyValue,
      eventTime: anyValue,
      decision: anyValue,
      customerUserId: anyValue,
    },
    { requiredKeys: [] },
  ),
);

describe('normalisation, for any body', () => {
  it('never throws, and either gives a canonical event or lists at least one problem', () => {
    fc.assert(
      fc.property(
        looksLikeDelivery,
        fc.constantFrom<Dialect | undefined>(undefined, 'asyncapi', 'socure-v5', 'riskos'),
        (value, dialect) => {
          const r = parseDelivery(JSON.stringify(value), { receivedAt, dialect });
          if (r.ok) {
            expect(typeof r.event.eventType).toBe('string');
            expect(r.event.docvTransactionId === null || typeof r.event.docvTransactionId === 'string').toBe(true);
            expect(r.contentHash).toMatch(/^sha256:/);
          } else if (r.kind === 'contract') {
            expect(r.errors.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

/** A valid body per dialect, and breakages that each make one path wrong, independently. */
const CASES: Record<
  Dialect,
  { valid: () => Record<string, unknown>; breaks: Record<string, (b: Record<string, unknown>) => void> }
> = {
  asyncapi: {
    // No decision: on any other type than VERIFICATION_COMPLETED it is a violation of its own.
    valid: () => ({
      eventType: 'DOCUMENTS_UPLOADED',
      docvTransactionId: 'tx',
      eventTime: '2026-12-06T09:00:00Z',
      customerUserId: 'c',
    }),
    breaks: {
      '/eventType': (b) => (b.eventType = 'NOPE'),
      '/docvTransactionId': (b) => (b.docvTransactionId = 7),
      '/eventTime': (b) => (b.eventTime = 'noon'),
      '/customerUserId': (b) => (b.customerUserId = 'a\u0001'),
    },
  },
  'socure-v5': {
    valid: () => ({
      id: 'n-1',
      origId: 'tx',
      environmentName: 'Sandbox',
      event: {
        eventType: 'VERIFICATION_COMPLETED',
        created: '2026-12-06T09:00:00.000Z',
        docvTransactionToken: 'tx',
        customerUserId: 'c',
        data: { documentVerification: { reasonCodes: ['I1'], decision: { name: 'standard', value: 'accept' } } },
      },
    }),
    breaks: {
      '/id': (b) => (b.id = 12),
      '/environmentName': (b) => (b.environmentName = ['x']),
      '/event/created': (b) => ((b.event as Record<string, unknown>).created = '2026-13-01T00:00:00Z'),
      '/event/docvTransactionToken': (b) => ((b.event as Record<string, unknown>).docvTransactionToken = ''),
      '/event/customerUserId': (b) => ((b.event as Record<string, unknown>).customerUserId = { id: 1 }),
      '/event/data/documentVerification/decision/value': (b) =>
        ((
          b.event as { data: { documentVerification: { decision: Record<string, unknown> } } }
        ).data.documentVerification.decision.value = 'perhaps'),
      '/event/data/documentVerification/reasonCodes/0': (b) =>
        ((
          b.event as { data: { documentVerification: { reasonCodes: unknown[] } } }
        ).data.documentVerification.reasonCodes[0] = 5),
    },
  },
  riskos: {
    valid: () => ({
      event_id: 'e-1',
      event_at: '2026-12-06T09:00:00Z',
      event_type: 'evaluation_completed',
      data: {
        eval_id: 'ev',
        decision: 'ACCEPT',
        data_enrichments: [{ enrichment_name: 'x', response: { data: { docvTransactionToken: 'tx' } } }],
      },
    }),
    breaks: {
      '/event_id': (b) => (b.event_id = ''),
      '/event_at': (b) => (b.event_at = 'later'),
      '/event_type': (b) => (b.event_type = '9lives'),
      '/data/decision': (b) => ((b.data as Record<string, unknown>).decision = 'OK'),
      '/data/eval_id': (b) => ((b.data as Record<string, unknown>).eval_id = 3),
      '/data/data_enrichments/0/response/data/docvTransactionToken': (b) =>
        ((
          b.data as { data_enrichments: Array<{ response: { data: Record<string, unknown> } }> }
        ).data_enrichments[0]!.response.data.docvTransactionToken = 'a\u0000'),
    },
  },
};

describe('a 422 lists every problem', () => {
  for (const [dialect, { valid, breaks }] of Object.entries(CASES) as Array<[Dialect, (typeof CASES)[Dialect]]>) {
    it(`${dialect}: any combination of breakages is reported path by path`, () => {
      expect(parseDelivery(JSON.stringify(valid()), { receivedAt }).ok).toBe(true);
      const paths = Object.keys(breaks);
      fc.assert(
        fc.property(fc.subarray(paths, { minLength: 1 }), (chosen) => {
          const body = valid();
          for (const path of chosen) breaks[path]!(body);
          const r = parseDelivery(JSON.stringify(body), { receivedAt });
          expect(r.ok).toBe(false);
          if (r.ok || r.kind !== 'contract') return;
          expect(r.dialect).toBe(dialect);
          expect([...new Set(r.errors.map((e) => e.path))].sort()).toEqual([...chosen].sort());
        }),
        { numRuns: 300 },
      );
    });
  }
});
