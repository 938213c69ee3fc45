import { describe, expect, it } from 'vitest';
import { applyFieldOverrides, parseFieldAssignment, removeFields } from '../../src/sandbox/set-fields.js';
import { percentile, receiverVerdict, summarizeLatencies } from '../../src/sandbox/summary.js';
import { SANDBOX_REASON_CODES, syntheticVerification } from '../../src/sandbox/document-data.js';
import { createApiKeyCheck } from '../../src/sandbox/api/auth.js';
import { capturePagePolicy, renderCapturePage } from '../../src/sandbox/capture/page.js';
import type { TransactionRecord } from '../../src/sandbox/records.js';
import { newReferenceId, newTransactionId } from '../../src/sandbox/ids.js';

describe('--set and unset', () => {
  it('parses JSON values and plain strings', () => {
    expect(parseFieldAssignment('eventTime=2020-01-01T00:00:00Z')).toEqual(['eventTime', '2020-01-01T00:00:00Z']);
    expect(parseFieldAssignment('n=42')).toEqual(['n', 42]);
    expect(parseFieldAssignment('x="42"')).toEqual(['x', '42']);
    expect(parseFieldAssignment('o={"a":1}')).toEqual(['o', { a: 1 }]);
    expect(() => parseFieldAssignment('novalue')).toThrow(/field=value/);
  });

  it('writes and removes dotted paths, refusing prototype keys', () => {
    const p: Record<string, unknown> = { a: 1 };
    applyFieldOverrides(p, { 'event.data.decision': 'reject', a: 2 });
    expect(p).toEqual({ a: 2, event: { data: { decision: 'reject' } } });
    removeFields(p, ['event.data.decision', 'a', 'missing.path']);
    expect(p).toEqual({ event: { data: {} } });
    expect(() => applyFieldOverrides(p, { '__proto__.polluted': true })).toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('summary', () => {
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([], 50)).toBe(0);
    expect(summarizeLatencies([3, 1, 2])).toEqual({ p50: 2, p90: 3, p99: 3, max: 3 });
  });

  it("reads a receiver's verdict", () => {
    expect(receiverVerdict('{"status":"duplicate","eventId":"x"}')).toBe('duplicate');
    expect(receiverVerdict('{"status":"accepted"}')).toBe('accepted');
    expect(receiverVerdict('OK')).toBe('accepted');
  });
});

describe('synthetic verification data', () => {
  it('is stable per transaction and follows the decision', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const a = syntheticVerification('tx-1', 'accept', 'passport', 'GB', at);
    expect(syntheticVerification('tx-1', 'accept', 'passport', 'GB', at)).toEqual(a);
    expect(a.decision).toEqual({ value: 'accept', reasonCodes: [...SANDBOX_REASON_CODES.accept] });
    expect(a.documentData).toMatchObject({ documentType: 'passport', issuingCountry: 'GB' });
    expect(a.documentData.dob).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(a.selfieMatch.decision).toBe('match');
    expect(a.liveness.decision).toBe('live');
    expect(syntheticVerification('tx-1', 'reject', 'license', 'US', at).selfieMatch.decision).toBe('no_match');
  });
});

describe('API key check', () => {
  it('takes exactly "SocureApiKey <key>"', () => {
    const check = createApiKeyCheck('k1');
    expect(check('SocureApiKey k1')).toBe(true);
    expect(check('socureapikey k1')).toBe(true);
    expect(check('SocureApiKey k2')).toBe(false);
    expect(check('Bearer k1')).toBe(false);
    expect(check('k1')).toBe(false);
    expect(check('SocureApiKey k1 extra')).toBe(false);
    expect(check(undefined)).toBe(false);
  });
});

describe('capture page', () => {
  const tx: TransactionRecord = {
    docvTransactionId: '<script>alert(1)</script>',
    dialect: 'asyncapi',
    referenceId: 'r',
    sessionToken: 't',
    documentType: 'license',
    country: 'US',
    requestedScenario: 'manual',
    scenario: 'manual',
    outcome: 'accept',
    timeScale: 1,
    status: 'CREATED',
    uploads: [],
    createdAt: 0,
  };

  it('escapes what it shows and loads nothing from anywhere', () => {
    const html = renderCapturePage({ tx, nonce: 'n0nce', actionBase: '/capture/t' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toContain('<style nonce="n0nce">');
    expect(capturePagePolicy('n0nce')).toBe(
      "default-src 'none'; style-src 'nonce-n0nce'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
  });

  it('enables only the next step', () => {
    const html = renderCapturePage({ tx, nonce: 'n', actionBase: '/capture/t' });
    expect(html).toMatch(/id="open-app">/);
    expect(html).toMatch(/id="upload-documents" disabled>/);
    expect(html).toMatch(/id="finish" disabled>/);
    const done = renderCapturePage({
      tx: { ...tx, status: 'VERIFICATION_COMPLETED', decision: 'reject' },
      nonce: 'n',
      actionBase: '/capture/t',
    });
    expect(done).toContain('Session over');
    expect(done).not.toMatch(/<button[^>]*id="[a-z-]+">/);
  });

  it('offers review only where the dialect can say it, and names what each step sends', () => {
    const flat = renderCapturePage({ tx, nonce: 'n', actionBase: '/capture/t' });
    expect(flat).not.toContain('value="review"');
    expect(flat).toContain('APP_OPENED, DOCUMENTS_UPLOADED, VERIFICATION_COMPLETED');
    const v5 = renderCapturePage({ tx: { ...tx, dialect: 'socure-v5' }, nonce: 'n', actionBase: '/capture/t' });
    expect(v5).toContain('value="review"');
    expect(v5).toContain('SESSION_COMPLETE');
    expect(renderCapturePage({ tx: { ...tx, dialect: 'riskos' }, nonce: 'n', actionBase: '/capture/t' })).toContain(
      'evaluation_completed',
    );
  });
});

describe('transaction ids', () => {
  it('are distinct version 4 UUIDs', () => {
    const ids = Array.from({ length: 2_000 }, () => newTransactionId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newReferenceId()).not.toBe(newReferenceId());
  });
});
