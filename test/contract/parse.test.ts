import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  contentKey,
  DOCV_EVENT_TYPES,
  eventTimeMs,
  parseDocvEvent,
  DEFAULT_WEBHOOK_PATH,
} from '../../src/contract/index.js';

const valid = {
  eventType: 'VERIFICATION_COMPLETED',
  docvTransactionId: 'tx-1',
  eventTime: '2026-03-01T10:00:00.123+02:00',
  decision: 'accept',
};

function violations(value: unknown) {
  const r = parseDocvEvent(JSON.stringify(value));
  return r.ok ? [] : r.kind === 'contract' ? r.errors : [{ path: '?', message: r.message }];
}

describe('parseDocvEvent', () => {
  it('takes the event types and default path from the spec', () => {
    expect(DOCV_EVENT_TYPES).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED', 'SESSION_EXPIRED']);
    expect(DEFAULT_WEBHOOK_PATH).toBe('/socure/docv/webhook');
  });

  it('accepts every event type, keeps unknown extra properties', () => {
    for (const eventType of DOCV_EVENT_TYPES) {
      const body = {
        eventType,
        docvTransactionId: 'tx',
        eventTime: '2026-03-01T10:00:00Z',
        vendorField: { nested: [1, 2] },
      };
      const r = parseDocvEvent(Buffer.from(JSON.stringify(body)));
      expect(r).toEqual({ ok: true, event: body });
    }
  });

  it('accepts VERIFICATION_COMPLETED with and without a decision', () => {
    expect(violations(valid)).toEqual([]);
    const { decision: _d, ...without } = valid;
    expect(violations(without)).toEqual([]);
  });

  it('lists every violation with a JSON Pointer', () => {
    expect(
      violations({ eventType: 'APP_CLOSED', eventTime: 'yesterday', decision: 'maybe', customerUserId: 7 }),
    ).toEqual(
      expect.arrayContaining([
        { path: '/docvTransactionId', message: 'is required' },
        { path: '/eventType', message: expect.stringContaining('must be one of') },
        { path: '/eventTime', message: expect.stringContaining('RFC 3339') },
        { path: '/decision', message: expect.stringContaining('must be one of') },
        { path: '/customerUserId', message: 'must be string' },
      ]),
    );
  });

  it('refuses a decision on any type but VERIFICATION_COMPLETED', () => {
    for (const eventType of ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'SESSION_EXPIRED']) {
      expect(violations({ ...valid, eventType })).toEqual([
        { path: '/decision', message: expect.stringContaining(`absent on ${eventType}`) },
      ]);
    }
  });

  it('bounds docvTransactionId: non-empty, at most 256 characters', () => {
    expect(violations({ ...valid, docvTransactionId: '' })).toEqual([
      { path: '/docvTransactionId', message: 'must not be empty' },
    ]);
    expect(violations({ ...valid, docvTransactionId: '   ' })).toEqual([
      { path: '/docvTransactionId', message: 'must not be empty' },
    ]);
    expect(violations({ ...valid, docvTransactionId: 'x'.repeat(256) })).toEqual([]);
    expect(violations({ ...valid, docvTransactionId: 'x'.repeat(257) })[0]!.message).toContain('at most 256');
  });

  it.each([
    ['2026-03-01T10:00:00Z', true],
    ['2026-03-01t10:00:00z', true],
    ['2026-03-01T10:00:00.5-05:30', true],
    ['2024-02-29T00:00:00Z', true],
    ['2026-03-01T10:00:00', false],
    ['2026-03-01T10:00:00+0100', false],
    ['2026-03-01', false],
    ['2026-02-30T10:00:00Z', false],
    ['2026-13-01T10:00:00Z', false],
    ['2026-03-01T24:00:00Z', false],
    ['1772359200', false],
  ])('eventTime %s valid=%s', (eventTime, ok) => {
    expect(violations({ ...valid, eventTime }).length === 0).toBe(ok);
  });

  it('says what is wrong with bytes that are not JSON or not UTF-8, or JSON that is not an object', () => {
    expect(parseDocvEvent(Buffer.from('{"eventType":'))).toMatchObject({ ok: false, kind: 'syntax' });
    expect(parseDocvEvent(Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ ok: false, kind: 'encoding' });
    expect(parseDocvEvent('[]')).toMatchObject({
      ok: false,
      errors: [{ path: '', message: expect.stringContaining('an array') }],
    });
    expect(parseDocvEvent('null')).toMatchObject({
      ok: false,
      errors: [{ path: '', message: expect.stringContaining('null') }],
    });
  });
});

describe('canonical content key', () => {
  it('ignores key order and whitespace but not values', () => {
    const a = JSON.parse('{"b":1,"a":{"y":[1,{"d":2,"c":3}],"x":null}}');
    const b = JSON.parse('{ "a" : { "x" : null, "y" : [1, {"c":3, "d":2}] }, "b" : 1 }');
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}');
    expect(contentKey(a)).toBe(contentKey(b));
    expect(contentKey({ ...a, b: 2 })).not.toBe(contentKey(a));
    expect(contentKey(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('parseDocvEvent: text that JSON.parse accepts but the contract must not', () => {
  const event = { eventType: 'APP_OPENED', docvTransactionId: 'tx', eventTime: '2026-03-01T10:00:00Z' };

  it('refuses a UTF-8 byte order mark (RFC 8259 §8.1): the stored bytes must parse again anywhere', () => {
    const r = parseDocvEvent(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(event))]));
    expect(r).toMatchObject({ ok: false, kind: 'syntax', message: expect.stringContaining('byte order mark') });
  });

  it('refuses nesting deeper than 64 levels before parsing, and accepts 64', () => {
    const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(
      parseDocvEvent(
        `{"eventType":"APP_OPENED","docvTransactionId":"tx","eventTime":"2026-03-01T10:00:00Z","x":${nest(63)}}`,
      ).ok,
    ).toBe(true);
    expect(
      parseDocvEvent(
        `{"eventType":"APP_OPENED","docvTransactionId":"tx","eventTime":"2026-03-01T10:00:00Z","x":${nest(64)}}`,
      ),
    ).toMatchObject({
      ok: false,
      message: expect.stringContaining('deeper than 64'),
    });
    expect(parseDocvEvent(nest(100_000))).toMatchObject({ ok: false, kind: 'syntax' });
  });

  it('refuses an unpaired surrogate in the transaction id or customerUserId, not elsewhere', () => {
    const r = parseDocvEvent(JSON.stringify(event).replace('"tx"', '"tx\\ud800"'));
    expect(r).toMatchObject({
      ok: false,
      kind: 'contract',
      errors: [{ path: '/docvTransactionId', message: expect.stringContaining('unpaired surrogate') }],
    });
    expect(parseDocvEvent(JSON.stringify({ ...event, customerUserId: 'u' }).replace('"u"', '"\\udc00"'))).toMatchObject(
      { ok: false, errors: [{ path: '/customerUserId' }] },
    );
    expect(parseDocvEvent(JSON.stringify({ ...event, docvTransactionId: 'tx-😀' })).ok).toBe(true);
  });
});

describe('parseDocvEvent: ids and times the stores must be able to keep', () => {
  const event = { eventType: 'APP_OPENED', docvTransactionId: 'tx', eventTime: '2026-03-01T10:00:00Z' };
  it('refuses control characters in docvTransactionId and customerUserId', () => {
    expect(parseDocvEvent(JSON.stringify({ ...event, docvTransactionId: 'tx\u0000x' }))).toMatchObject({
      ok: false,
      errors: [{ path: '/docvTransactionId', message: expect.stringContaining('control characters') }],
    });
    expect(parseDocvEvent(JSON.stringify({ ...event, customerUserId: 'a\nb' }))).toMatchObject({
      ok: false,
      errors: [{ path: '/customerUserId' }],
    });
  });

  it('accepts a leap second and orders it after :59', () => {
    expect(parseDocvEvent(JSON.stringify({ ...event, eventTime: '2016-12-31T23:59:60Z' })).ok).toBe(true);
    expect(eventTimeMs('2016-12-31T23:59:60Z')).toBe(Date.parse('2017-01-01T00:00:00Z'));
    expect(eventTimeMs('2016-12-31T23:59:60.5+00:00')).toBe(Date.parse('2017-01-01T00:00:00.5Z'));
  });
});
