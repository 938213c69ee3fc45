import { ipv6Network64, normalizeIpAddress } from './ip-address.js';

export interface FailureLimiterOptions {
  /** Failures an address may have within one window; the next one starts a block. Default 10. */
  readonly maxFailures?: number;
  /** Length of the counting window, from an address's first failure. Default 60 000 ms. */
  readonly windowMs?: number;
  /** How long a blocked address is refused. Default 300 000 ms. */
  readonly blockMs?: number;
  /** Memory bound: beyond this many addresses the least recently failing is forgotten. Default 10 000. */
  readonly maxTrackedAddresses?: number;
  /** Milliseconds since the epoch; injected so tests are deterministic. */
  readonly now?: () => number;
  /**
   * Told once when an address starts a block (not for the failures during it), so the operator
   * can be told why a sender now gets 429.
   */
  readonly onBlock?: (block: FailureBlock) => void;
}

/** A block that has just started. */
export interface FailureBlock {
  /** The bucket: the address, its /64 for IPv6, or 'unknown'. */
  readonly address: string;
  /** Failures in the window, the one that started the block included. */
  readonly failures: number;
  readonly windowMs: number;
  readonly blockMs: number;
  /** Milliseconds since the epoch. */
  readonly until: number;
  /** Why the last authentication failed, as the credential check put it (never a secret). */
  readonly reason: string | undefined;
}

export const DEFAULT_FAILURE_LIMITS = {
  maxFailures: 10,
  windowMs: 60_000,
  blockMs: 300_000,
  maxTrackedAddresses: 10_000,
} as const;

export type FailureLimitState =
  { readonly limited: false } | { readonly limited: true; readonly retryAfterSeconds: number };

export interface FailureLimiter {
  /** Whether requests from this address should be refused (429) before any authentication work. */
  check(clientAddress: string | undefined): FailureLimitState;
  /** Counts one authentication failure (`reason`: why, for the block's log line); says whether the address is now limited. */
  recordFailure(clientAddress: string | undefined, reason?: string): FailureLimitState;
  /** Forgets an address's failures once it has authenticated, so a sender that fixed its secret is not punished later. */
  recordSuccess(clientAddress: string | undefined): void;
  /** Number of addresses currently tracked (for metrics and for the memory-bound test). */
  readonly trackedAddresses: number;
}

interface FailureRecord {
  windowStartedAt: number;
  failures: number;
  /** 0 when not blocked. */
  blockedUntil: number;
}

const NOT_LIMITED: FailureLimitState = { limited: false };

/**
 * Counts authentication failures per client so a guesser is slowed to a crawl (429 with
 * Retry-After) while well-behaved senders are untouched. Fixed window from the first failure:
 * the simplest scheme with O(1) memory per address. A block is not extended by failures during
 * it, so a sender that fixes its configuration gets back in after `blockMs`.
 *
 * IPv6 clients are counted per /64 (see ipv6Network64); an unknown address shares one bucket
 * ('unknown'), so hiding the address does not escape the limit. Memory is bounded by
 * `maxTrackedAddresses`: an attacker with more addresses than that can push entries out, which
 * is the accepted cost of a fixed memory budget.
 */
export function createFailureLimiter(options: FailureLimiterOptions = {}): FailureLimiter {
  const maxFailures = positiveInteger('maxFailures', options.maxFailures ?? DEFAULT_FAILURE_LIMITS.maxFailures);
  const windowMs = positiveNumber('windowMs', options.windowMs ?? DEFAULT_FAILURE_LIMITS.windowMs);
  const blockMs = positiveNumber('blockMs', options.blockMs ?? DEFAULT_FAILURE_LIMITS.blockMs);
  const maxTracked = positiveInteger(
    'maxTrackedAddresses',
    options.maxTrackedAddresses ?? DEFAULT_FAILURE_LIMITS.maxTrackedAddresses,
  );
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('failure limiter: now must be a function returning milliseconds');

  // A Map iterates in insertion order; re-inserting on every failure keeps the least recently
  // failing address first, which is the one evicted.
  const records = new Map<string, FailureRecord>();

  function blockedState(record: FailureRecord, at: number): FailureLimitState {
    return { limited: true, retryAfterSeconds: Math.max(1, Math.ceil((record.blockedUntil - at) / 1000)) };
  }

  /** Counts a failure outside a block: a new window after an expired block or an elapsed window. */
  function countFailure(existing: FailureRecord | undefined, at: number): FailureRecord {
    const fresh = existing === undefined || existing.blockedUntil !== 0 || at - existing.windowStartedAt >= windowMs;
    const record = fresh ? { windowStartedAt: at, failures: 0, blockedUntil: 0 } : existing;
    record.failures += 1;
    if (record.failures > maxFailures) record.blockedUntil = at + blockMs;
    return record;
  }

  return {
    check(clientAddress) {
      const key = limiterKey(clientAddress);
      const record = records.get(key);
      if (record === undefined || record.blockedUntil === 0) return NOT_LIMITED;
      const at = now();
      if (record.blockedUntil > at) return blockedState(record, at);
      records.delete(key);
      return NOT_LIMITED;
    },

    recordFailure(clientAddress, reason) {
      const key = limiterKey(clientAddress);
      const at = now();
      const existing = records.get(key);
      const blockedAlready = existing !== undefined && existing.blockedUntil > at;
      const record = blockedAlready ? existing : countFailure(existing, at);
      // Moved to the end even while blocked: an address that keeps failing is the last to be forgotten.
      records.delete(key);
      records.set(key, record);
      while (records.size > maxTracked) {
        const oldest = records.keys().next();
        if (oldest.done === true) break;
        records.delete(oldest.value);
      }
      if (record.blockedUntil <= at) return NOT_LIMITED;
      if (!blockedAlready)
        options.onBlock?.({
          address: key,
          failures: record.failures,
          windowMs,
          blockMs,
          until: record.blockedUntil,
          reason,
        });
      return blockedState(record, at);
    },

    recordSuccess(clientAddress) {
      const key = limiterKey(clientAddress);
      const record = records.get(key);
      // A success never lifts an active block: requests from a blocked address are refused before
      // authentication, so a success here means the block already ran out.
      if (record !== undefined && !(record.blockedUntil > now())) records.delete(key);
    },

    get trackedAddresses() {
      return records.size;
    },
  };
}

/** The bucket an address is counted in. */
export function limiterKey(clientAddress: string | undefined): string {
  if (clientAddress === undefined) return 'unknown';
  const ip = normalizeIpAddress(clientAddress);
  if (ip === undefined) return 'unknown';
  return ip.family === 'ipv6' ? (ipv6Network64(ip.address) ?? ip.address) : ip.address;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new TypeError(`failure limiter: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function positiveNumber(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`failure limiter: ${name} must be a positive number of milliseconds, got ${String(value)}`);
  return value;
}
