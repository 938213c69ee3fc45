/**
 * Shared by every sender here: the sandbox delivery engine, simulate/trigger and the receiver's
 * outbox dispatch.
 *
 * When to try a failed delivery again. Pure: the randomness of the jitter is injected.
 */

/** After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (a common sender's schedule). */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 15_000;
/** ±10 %: enough to spread a herd of retries, small enough that a schedule stays recognisable. */
export const DEFAULT_JITTER = 0.1;
/** A `Retry-After` beyond a day is treated as a day: a receiver cannot park an event forever. */
export const MAX_RETRY_AFTER_MS = 24 * 3600_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)$/;

/** `50ms`, `5s`, `1.5m`, `2h`. A bare number is refused (seconds or milliseconds?), except 0. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (t === '0') return 0;
  const m = DURATION.exec(t);
  if (!m) throw new RangeError(`"${text}" is not a duration; write it with a unit: 50ms, 5s, 5m, 2h`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** `50ms,100ms,1s` → [50, 100, 1000]; `none` → no retries at all. */
export function parseRetrySchedule(text: string): number[] {
  const t = text.trim();
  if (t === 'none' || t === '') return [];
  const delays = t.split(',').map((part) => parseDuration(part));
  if (delays.length > 100) throw new RangeError('a retry schedule has at most 100 steps');
  return delays;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0 && ms > 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/**
 * `Retry-After` as milliseconds from `nowMs`: delta-seconds or an HTTP-date. Undefined when the
 * header is absent or unreadable (then the schedule alone decides).
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1_000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

export interface RetryInput {
  schedule: readonly number[];
  /** Attempts made so far, including the one that just failed (1 after the first failure). */
  attemptsMade: number;
  retryAfterMs?: number;
  random: () => number;
  jitter?: number;
}

/**
 * Milliseconds until the next attempt, or undefined when the schedule is exhausted. A
 * `Retry-After` is a floor: the receiver asked not to be called before then, and the schedule's
 * backoff still applies if it is longer.
 */
export function nextRetryDelay({
  schedule,
  attemptsMade,
  retryAfterMs,
  random,
  jitter = DEFAULT_JITTER,
}: RetryInput): number | undefined {
  const base = schedule[attemptsMade - 1];
  if (base === undefined) return undefined;
  const jittered = Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs);
}

/**
 * Whether an answer refuses the request itself, so that sending the same bytes again cannot
 * help: a 4xx other than 408 (the receiver timed out) and 429 (it asks us to slow down), such as
 * the 422 of a contract violation or a 401 for wrong credentials. Socure retries only network
 * failures, timeouts, 408, 429 and 5xx. 410 is a 4xx too, but callers name it apart: the
 * endpoint is gone, not the event refused.
 */
export function isRefusal(statusCode: number | undefined): boolean {
  return statusCode !== undefined && statusCode >= 400 && statusCode < 500 && statusCode !== 408 && statusCode !== 429;
}

/**
 * 410 Gone: the receiving endpoint is gone for good, so the delivery ends there, never retried.
 * Every sender here follows it (the receiver's forward, the sandbox, `trigger`); it is not a
 * refusal of the event (isRefusal), and the sandbox records it apart as `gone`.
 */
export function isGone(statusCode: number | undefined): boolean {
  return statusCode === 410;
}

/** `5s,5m,30m` as help text shows it. */
export function formatScheduleForHelp(text: string): string {
  return parseRetrySchedule(text).map(formatDuration).join(',') || 'none';
}
