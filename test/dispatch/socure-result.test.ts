import { describe, expect, it } from 'vitest';
import {
  canonicalDecision,
  decisionRequest,
  NO_DECISION_YET,
  readDecisionAnswer,
  reasonCodesOf,
} from '../../src/dispatch/destinations/socure-result.js';

/** An ID+ answer as the reference describes it (socure-delivery-facts.md, "The document-verification result"). */
function idplusAnswer(decision: Record<string, unknown> | undefined, reasonCodes?: unknown): Record<string, unknown> {
  return {
    referenceId: 'ref-2',
    previousReferenceId: 'ref-1',
    documentVerification: {
      ...(reasonCodes !== undefined ? { reasonCodes } : {}),
      documentType: { type: 'Drivers License', country: 'USA', state: 'MD' },
      ...(decision !== undefined ? { decision } : {}),
      documentData: { firstName: 'Dwayne', surName: 'Denver' },
    },
    customerProfile: { customerUserId: 'user-1', userId: 'u-9' },
  };
}

describe('decisionRequest', () => {
  it('idplus: POST EmailAuthScore with the documentverification module, the token and the user', () => {
    const r = decisionRequest('idplus', 'https://service.socure.com', 'tx/1', 'user-7');
    expect(r.method).toBe('POST');
    expect(r.url).toBe('https://service.socure.com/api/3.0/EmailAuthScore');
    expect(JSON.parse(r.body!)).toEqual({
      modules: ['documentverification'],
      docvTransactionToken: 'tx/1',
      customerUserId: 'user-7',
    });
  });

  it('idplus: leaves customerUserId out when it is unknown', () => {
    expect(JSON.parse(decisionRequest('idplus', 'http://x', 'tx', null).body!)).toEqual({
      modules: ['documentverification'],
      docvTransactionToken: 'tx',
    });
  });

  it('profile: GET documents/{id}, the id escaped, no body', () => {
    expect(decisionRequest('profile', 'http://x', 'a/b c', 'user-7')).toEqual({
      method: 'GET',
      url: 'http://x/api/3.0/documents/a%2Fb%20c',
    });
  });
});

describe('readDecisionAnswer', () => {
  it('idplus: decision under documentVerification, reason codes beside it, the decision logic kept', () => {
    expect(readDecisionAnswer('idplus', idplusAnswer({ name: 'lenient', value: 'accept' }, ['I831', 'R810']))).toEqual({
      kind: 'decided',
      decision: 'accept',
      decisionName: 'lenient',
      reasonCodes: ['I831', 'R810'],
    });
  });

  it.each([
    ['ACCEPT', 'accept'],
    ['Review', 'review'],
    [' reject ', 'reject'],
    ['RESUBMIT', 'resubmit'],
  ])('reads %j as %s', (sent, canonical) => {
    expect(readDecisionAnswer('idplus', idplusAnswer({ value: sent }))).toMatchObject({
      kind: 'decided',
      decision: canonical,
      reasonCodes: [],
    });
  });

  it('idplus: reason codes inside decision are not the ones of record', () => {
    const answer = readDecisionAnswer('idplus', idplusAnswer({ value: 'reject', reasonCodes: ['X1'] }, ['R810']));
    expect(answer).toMatchObject({ reasonCodes: ['R810'] });
  });

  it('idplus: no documentVerification, no decision, or a null value is pending', () => {
    expect(readDecisionAnswer('idplus', { referenceId: 'r' })).toEqual({ kind: 'pending', why: NO_DECISION_YET });
    expect(readDecisionAnswer('idplus', idplusAnswer(undefined))).toEqual({ kind: 'pending', why: NO_DECISION_YET });
    expect(readDecisionAnswer('idplus', idplusAnswer({ name: 'lenient', value: null }))).toEqual({
      kind: 'pending',
      why: NO_DECISION_YET,
    });
    // The profile shape is not an ID+ answer.
    expect(readDecisionAnswer('idplus', { decision: { value: 'accept' } })).toEqual({
      kind: 'pending',
      why: NO_DECISION_YET,
    });
  });

  it('an unknown decision value is pending, and says what it was', () => {
    const answer = readDecisionAnswer('idplus', idplusAnswer({ value: 'maybe' }));
    expect(answer).toEqual({ kind: 'pending', why: 'unrecognised decision "maybe" in the response' });
  });

  it('profile: decision and its reason codes at the top level', () => {
    expect(
      readDecisionAnswer('profile', { docvTransactionId: 't', decision: { value: 'REJECT', reasonCodes: ['R810'] } }),
    ).toEqual({
      kind: 'decided',
      decision: 'reject',
      reasonCodes: ['R810'],
    });
    expect(readDecisionAnswer('profile', { docvTransactionId: 't', status: 'DOCUMENTS_UPLOADED' })).toEqual({
      kind: 'pending',
      why: NO_DECISION_YET,
    });
  });
});

describe('bounds', () => {
  it('reason codes: strings only, trimmed, none empty or over 64 characters, at most 200', () => {
    expect(reasonCodesOf(['I831', 7, null, { c: 1 }, '', ' R810 ', 'x'.repeat(65), 'y'.repeat(64)])).toEqual([
      'I831',
      'R810',
      'y'.repeat(64),
    ]);
    expect(reasonCodesOf(Array.from({ length: 500 }, (_, i) => `C${i}`))).toHaveLength(200);
    expect(reasonCodesOf('I831')).toEqual([]);
  });

  it('a decision name over 64 characters is dropped, the decision kept', () => {
    const answer = readDecisionAnswer('idplus', idplusAnswer({ name: 'n'.repeat(65), value: 'accept' }));
    expect(answer).toEqual({ kind: 'decided', decision: 'accept', reasonCodes: [] });
  });

  it('canonicalDecision refuses what is not a decision', () => {
    expect(canonicalDecision(1)).toBeNull();
    expect(canonicalDecision('approve')).toBeNull();
    expect(canonicalDecision('REVIEW')).toBe('review');
  });
});
