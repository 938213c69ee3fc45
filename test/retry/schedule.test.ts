import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  MAX_RETRY_AFTER_MS,
  formatScheduleForHelp,
  isRefusal,
  nextRetryDelay,
  parseDuration,
  parseRetryAfter,
  parseRetrySchedule,
} from '../../src/retry/schedule.js';
import { MIN_SCALED_RETRY_MS, scaleRetryDelay } from '../../src/sandbox/delivery/engine.js';
import { RateLimit } from '../../src/sandbox/delivery/rate-limit.js';

describe('retry schedule', () => {
  it('defaults to 5s, 5m, 30m, 2h, 5h, 10h, 10h', () => {
    expect(formatScheduleForHelp('5s,5m,30m,2h,5h,10h,10h')).toBe('5s,5m,30m,2h,5h,10h,10h');
    expect(parseRetrySchedule('5s,5m,30m,2h,5h,10h,10h')).toEqual(DEFAULT_RETRY_SCHEDULE_MS);
  });

  it('parses durations with units and refuses bare numbers', () => {
    expect(parseDuration('50ms')).toBe(50);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('15')).toThrow(/with a unit/);
    expect(() => parseDuration('fast')).toThrow(/not a duration/);
    expect(parseRetrySchedule('50ms, 100ms')).toEqual([50, 100]);
    expect(parseRetrySchedule('none')).toEqual([]);
  });

  it('jitters within ±10 % and stops when the schedule is exhausted', () => {
    const schedule = [1000, 2000];
    expect(nextRetryDelay({ schedule, attemptsMade: 1, random: () => 0 })).toBe(900);
    expect(nextRetryDelay({ schedule, attemptsMade: 1, random: () => 0.5 })).toBe(1000);
    expect(nextRetryDelay({ schedule, attemptsMade: 2, random: () => 1 })).toBe(2200);
    expect(nextRetryDelay({ schedule, attemptsMade: 3, random: () => 0.5 })).toBeUndefined();
    expect(nextRetryDelay({ schedule: [], attemptsMade: 1, random: () => 0.5 })).toBeUndefined();
  });

  it('waits at least as long as Retry-After asks', () => {
    expect(nextRetryDelay({ schedule: [50], attemptsMade: 1, retryAfterMs: 1000, random: () => 0.5 })).toBe(1000);
    expect(nextRetryDelay({ schedule: [5000], attemptsMade: 1, retryAfterMs: 1000, random: () => 0.5 })).toBe(5000);
    // Retry-After does not add attempts beyond the schedule.
    expect(nextRetryDelay({ schedule: [50], attemptsMade: 2, retryAfterMs: 1000, random: () => 0.5 })).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date, bounded', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('99999999', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('what is retried, and when, in the sandbox', () => {
  it('takes 4xx other than 408 and 429 as a refusal; network failures, 408, 429 and 5xx are worth another try', () => {
    for (const code of [400, 401, 403, 404, 409, 410, 413, 415, 422, 451])
      expect(isRefusal(code), String(code)).toBe(true);
    for (const code of [undefined, 200, 302, 408, 429, 500, 502, 503, 504])
      expect(isRefusal(code), String(code)).toBe(false);
  });

  it('scales a delay by the time scale, never below 10 ms unless the schedule itself asks for less', () => {
    expect(scaleRetryDelay(5_000, 1)).toBe(5_000);
    expect(scaleRetryDelay(5_000, 0.01)).toBe(50);
    expect(scaleRetryDelay(300_000, 0.001)).toBe(300);
    expect(scaleRetryDelay(5_000, 0.001)).toBe(MIN_SCALED_RETRY_MS);
    expect(scaleRetryDelay(5_000, 0)).toBe(MIN_SCALED_RETRY_MS);
    expect(scaleRetryDelay(4, 0.001)).toBe(4);
    expect(scaleRetryDelay(0, 0.5)).toBe(0);
    expect(scaleRetryDelay(1_000, 10)).toBe(10_000);
  });
});

describe('rate limit', () => {
  it('lets through a second of burst, then one per interval', () => {
    let t = 0;
    const rate = new RateLimit(10, () => t);
    expect(rate.take(50)).toBe(10);
    expect(rate.take(1)).toBe(0);
    expect(rate.nextAt()).toBe(100);
    t = 250;
    expect(rate.take(50)).toBe(2);
  });
});
