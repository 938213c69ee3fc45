import { nextRetryDelay } from '../retry/schedule.js';

export interface RetryPolicy {
  /** Delay before retry n (index 0 = after the first failure); the last step repeats. */
  schedule: readonly number[];
  /** Attempts in all, the first one included; then the delivery is dead. */
  maxAttempts: number;
  jitter: number;
}

/** 1 s, 2 s, 4 s … doubling up to an hour: quick for a blip, patient for an outage (about 3.5 h). */
export function exponentialSchedule(firstMs = 1_000, capMs = 3_600_000, steps = 14): number[] {
  return Array.from({ length: steps }, (_, i) => Math.min(capMs, firstMs * 2 ** i));
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { schedule: exponentialSchedule(), maxAttempts: 15, jitter: 0.2 };

/**
 * How many attempts a delivery gets in all under `policy`: what `nextAttemptAt` allows (an empty
 * schedule means no retry at all, whatever `maxAttempts` says). A destination that must act
 * before its last attempt ends (the decision fetch) reads it.
 */
export function attemptBudget(policy: RetryPolicy): number {
  return policy.schedule.length === 0 ? 1 : Math.max(1, policy.maxAttempts);
}

/**
 * When the delivery should be tried again, or null when it is dead. `attemptsMade` includes the
 * attempt that just failed.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  attemptsMade: number,
  nowMs: number,
  random: () => number,
  retryAfterMs?: number,
): number | null {
  if (attemptsMade >= policy.maxAttempts) return null;
  if (policy.schedule.length === 0) return null;
  const index = Math.min(attemptsMade, policy.schedule.length);
  const delay = nextRetryDelay({
    schedule: policy.schedule,
    attemptsMade: index,
    random,
    jitter: policy.jitter,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
  return delay === undefined ? null : nowMs + delay;
}
