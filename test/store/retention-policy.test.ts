import { describe, expect, it } from 'vitest';
import { customerOfQuarantinedBody } from '../../src/store/erasure.js';
import { eventsBetween, EXACT_COUNT_SPAN, holesWithin, type LogViewSource } from '../../src/store/log-views.js';
import { formatRetentionPolicy, parseRetentionPolicy, RetentionPolicyError } from '../../src/store/retention-policy.js';

describe('retention policy', () => {
  it('parses raw=30d,events=400d,quarantine=14d into milliseconds, and back', () => {
    const policy = parseRetentionPolicy('raw=30d, events=400d,quarantine=14d');
    expect(policy).toEqual({ raw: 30 * 86_400_000, events: 400 * 86_400_000, quarantine: 14 * 86_400_000 });
    expect(formatRetentionPolicy(policy)).toBe('raw=30d,events=400d,quarantine=14d');
    expect(parseRetentionPolicy('quarantine=36h')).toEqual({ quarantine: 36 * 3_600_000 });
    expect(formatRetentionPolicy(parseRetentionPolicy('raw=90m'))).toBe('raw=90m');
    expect(parseRetentionPolicy('off')).toEqual({});
  });

  it.each([
    ['raw=30', /raw: "30" is not an age/],
    ['raw=0d', /raw: an age must be more than zero/],
    ['bodies=30d', /"bodies" is not one of raw, events, quarantine/],
    ['raw=1d,raw=2d', /raw is given twice/],
    ['raw', /"raw" is not name=age/],
    ['raw=30d,events=10d', /raw= is longer than events=/],
  ])('refuses %s, naming the part', (text, message) => {
    expect(() => parseRetentionPolicy(text)).toThrow(RetentionPolicyError);
    expect(() => parseRetentionPolicy(text)).toThrow(message);
  });
});

describe('counts of the log with holes (eventsBetween)', () => {
  /** A log of seqs 1..max with the given seqs deleted, recorded in batches as retention does. */
  function log(max: number, batches: Array<{ min_seq: number; max_seq: number; deleted: number }>): LogViewSource {
    const deleted = batches.reduce((n, b) => n + b.deleted, 0);
    return {
      countEvents: async (lo: number, hi: number) =>
        Math.max(0, Math.min(hi, max) - lo) - (lo === 0 && hi >= max ? deleted : 0),
      logBounds: async () => ({ min: 1, max }),
      deletions: async (lo: number, hi: number) => batches.filter((b) => b.max_seq > lo && b.min_seq <= hi),
    } as unknown as LogViewSource;
  }

  it('subtracts what retention deleted from a span of positions', async () => {
    const span = EXACT_COUNT_SPAN * 3;
    const source = log(span, [
      { min_seq: 10, max_seq: 5_000, deleted: 1_200 },
      { min_seq: 6_000, max_seq: 9_000, deleted: 800 },
    ]);
    expect(await eventsBetween(source, 0, Number.MAX_SAFE_INTEGER)).toBe(span - 2_000);
    // Without the deletion records the count would be the span: the test can fail.
    const { deletions: _d, ...blind } = source as unknown as Record<string, unknown>;
    expect(await eventsBetween(blind as unknown as LogViewSource, 0, Number.MAX_SAFE_INTEGER)).toBe(span);
  });

  it('counts a share of a batch that straddles an end', () => {
    expect(holesWithin([{ min_seq: 101, max_seq: 200, deleted: 50 }], 150, 1_000)).toBe(25);
    expect(holesWithin([{ min_seq: 101, max_seq: 200, deleted: 50 }], 100, 200)).toBe(50);
    expect(holesWithin([{ min_seq: 101, max_seq: 200, deleted: 50 }], 200, 300)).toBe(0);
  });
});

describe('customer user id of a quarantined body', () => {
  it('finds it in any dialect, or says there is none', () => {
    expect(customerOfQuarantinedBody(Buffer.from('{"customerUserId":"u1","eventType":1}'))).toBe('u1');
    expect(customerOfQuarantinedBody(Buffer.from('{"event":{"customerUserId":42}}'))).toBe('42');
    expect(
      customerOfQuarantinedBody(
        Buffer.from('{"data":{"enrichments":[{"response":{"customerProfile":{"customerUserId":"r9"}}}]}}'),
      ),
    ).toBe('r9');
    expect(customerOfQuarantinedBody(Buffer.from('not json'))).toBeNull();
    expect(customerOfQuarantinedBody(Buffer.from('{"eventType":"APP_OPENED"}'))).toBeNull();
  });
});
