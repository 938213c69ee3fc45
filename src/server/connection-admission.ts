import { limiterKey } from '../auth/index.js';

/**
 * Which new TCP connections the receiver takes, decided the moment one is accepted and before a
 * byte of it is read. Node's own `server.maxConnections` treats every connection alike, so one
 * address holding idle sockets could fill it and reset every genuine delivery. Here:
 *
 * - a client (the socket peer; IPv6 per /64, as the failure limiter counts) may hold at most
 *   `maxPerClient` connections until it has delivered successfully (authenticated, and answered
 *   2xx); from then on it is "trusted";
 * - once the server holds `maxConnections` minus a reserved share, only trusted addresses get new
 *   connections, up to the full `maxConnections`, so a flood from many addresses cannot lock out a
 *   sender we know.
 *
 * A trusted address is held to the total alone: it has shown it holds our credentials, and an
 * HTTP client's keep-alive pool easily holds more sockets than it has requests in flight (Node's
 * fetch, 50 requests at a time, kept over 80 open), so a per-client cap would reset a genuine
 * sender's deliveries, the very harm the cap is there to prevent.
 *
 * Pure: counts and sets, the clock injected; the wiring (connection-limits.ts) does the sockets.
 */
export interface ConnectionAdmissionOptions {
  /** Connections the server holds at most, trusted ones included. */
  readonly maxConnections: number;
  /** Connections one client that has not delivered successfully may hold; 0 turns the per-client cap off. */
  readonly maxPerClient: number;
  /** The share (0 to 1) of `maxConnections` only trusted addresses may use. Default 0.25. */
  readonly reservedShare?: number;
  /** How long a successful delivery keeps its address trusted. Default 24 hours. */
  readonly trustedForMs?: number;
  /** Memory bound: beyond this many trusted addresses the least recently successful is forgotten. Default 1 000. */
  readonly maxTrustedAddresses?: number;
  /** Milliseconds since the epoch; injected so tests are deterministic. */
  readonly now?: () => number;
}

export const DEFAULT_CONNECTION_ADMISSION = {
  reservedShare: 0.25,
  // Socure delivers when users verify, which may be hours apart: a sender we heard from this
  // morning should still get in during an attack tonight.
  trustedForMs: 24 * 60 * 60 * 1000,
  // A handful of sender addresses is normal; trust is only ever given for an authenticated
  // delivery, so an attacker without credentials cannot push a real sender out of this set.
  maxTrustedAddresses: 1_000,
} as const;

/** Why a connection was refused (also the label of the refusals metric). */
export const REFUSAL_REASONS = ['per_client', 'reserved', 'full'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export type Admission =
  | { readonly admitted: true; readonly key: string }
  | {
      readonly admitted: false;
      readonly key: string;
      readonly reason: RefusalReason;
      /** The limit that was reached: the per-client cap, the unreserved capacity or the whole. */
      readonly limit: number;
    };

export interface ConnectionAdmission {
  /** Decides on a new connection from `address`; an admitted one is counted until `release(key)`. */
  admit(address: string | undefined): Admission;
  /** An admitted connection closed; `key` is the one `admit` returned. */
  release(key: string): void;
  /** `address` delivered successfully: from now on it may use the reserved share, and is held to no per-client cap. */
  markTrusted(address: string | undefined): void;
  isTrusted(address: string | undefined): boolean;
  /** Admitted connections still open. */
  readonly open: number;
  /** Admitted connections still open from the client of `address`. */
  openFrom(address: string | undefined): number;
  /** The connection count at which only trusted addresses are admitted. */
  readonly unreservedLimit: number;
  readonly trustedAddresses: number;
}

export function createConnectionAdmission(options: ConnectionAdmissionOptions): ConnectionAdmission {
  const maxConnections = wholeNumber('maxConnections', options.maxConnections, 1);
  const maxPerClient = wholeNumber('maxPerClient', options.maxPerClient, 0);
  const reservedShare = options.reservedShare ?? DEFAULT_CONNECTION_ADMISSION.reservedShare;
  if (!(reservedShare >= 0 && reservedShare < 1))
    throw new TypeError(
      `connection admission: reservedShare must be from 0 up to (not including) 1, got ${String(reservedShare)}`,
    );
  const trustedForMs = options.trustedForMs ?? DEFAULT_CONNECTION_ADMISSION.trustedForMs;
  if (!(Number.isFinite(trustedForMs) && trustedForMs > 0))
    throw new TypeError(
      `connection admission: trustedForMs must be a positive number of milliseconds, got ${String(trustedForMs)}`,
    );
  const maxTrusted = wholeNumber(
    'maxTrustedAddresses',
    options.maxTrustedAddresses ?? DEFAULT_CONNECTION_ADMISSION.maxTrustedAddresses,
    1,
  );
  const now = options.now ?? Date.now;
  // Rounded down, so a server allowed a single connection still takes it from anyone.
  const unreservedLimit = maxConnections - Math.floor(maxConnections * reservedShare);

  /** Open connections per client key; a key leaves the map when its last connection closes. */
  const perClient = new Map<string, number>();
  let open = 0;
  /** Key → when its trust runs out. Insertion order is recency: the first entry is evicted first. */
  const trusted = new Map<string, number>();

  function trustedKey(key: string): boolean {
    const until = trusted.get(key);
    if (until === undefined) return false;
    if (until > now()) return true;
    trusted.delete(key);
    return false;
  }

  return {
    admit(address) {
      const key = limiterKey(address);
      const fromClient = perClient.get(key) ?? 0;
      if (open >= maxConnections) return { admitted: false, key, reason: 'full', limit: maxConnections };
      if (!trustedKey(key)) {
        if (maxPerClient > 0 && fromClient >= maxPerClient)
          return { admitted: false, key, reason: 'per_client', limit: maxPerClient };
        if (open >= unreservedLimit) return { admitted: false, key, reason: 'reserved', limit: unreservedLimit };
      }
      perClient.set(key, fromClient + 1);
      open += 1;
      return { admitted: true, key };
    },

    release(key) {
      const fromClient = perClient.get(key);
      if (fromClient === undefined) return;
      if (fromClient <= 1) perClient.delete(key);
      else perClient.set(key, fromClient - 1);
      open -= 1;
    },

    markTrusted(address) {
      const key = limiterKey(address);
      // 'unknown' is every connection whose peer we could not read: trusting it would trust them all.
      if (key === 'unknown') return;
      trusted.delete(key);
      trusted.set(key, now() + trustedForMs);
      while (trusted.size > maxTrusted) {
        const oldest = trusted.keys().next();
        if (oldest.done === true) break;
        trusted.delete(oldest.value);
      }
    },

    isTrusted(address) {
      return trustedKey(limiterKey(address));
    },

    get open() {
      return open;
    },

    openFrom(address) {
      return perClient.get(limiterKey(address)) ?? 0;
    },

    unreservedLimit,

    get trustedAddresses() {
      return trusted.size;
    },
  };
}

export interface RefusalLogThrottleOptions {
  /** An address is logged at most once in this long. Default 60 000 ms. */
  readonly intervalMs?: number;
  /** At most this many addresses are logged per interval; the rest are only counted (metric). Default 100. */
  readonly maxAddresses?: number;
  readonly now?: () => number;
}

/**
 * Says whether a refusal deserves a log line: the first for an address in each interval, and no
 * more than `maxAddresses` addresses an interval, so a flood of refusals (the attack the caps are
 * for) cannot become a flood of log lines. The refusals metric counts every one.
 */
export function createRefusalLogThrottle(options: RefusalLogThrottleOptions = {}): (key: string) => boolean {
  const intervalMs = options.intervalMs ?? 60_000;
  const maxAddresses = wholeNumber('maxAddresses', options.maxAddresses ?? 100, 1);
  const now = options.now ?? Date.now;
  /** Key → when it was last logged, oldest first. */
  const logged = new Map<string, number>();
  return (key) => {
    const at = now();
    const last = logged.get(key);
    if (last !== undefined && at - last < intervalMs) return false;
    logged.delete(key);
    for (const [oldKey, oldAt] of logged) {
      if (at - oldAt < intervalMs) break;
      logged.delete(oldKey);
    }
    if (logged.size >= maxAddresses) return false;
    logged.set(key, at);
    return true;
  };
}

function wholeNumber(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new TypeError(
      `connection admission: ${name} must be a whole number of at least ${min}, got ${String(value)}`,
    );
  return value;
}
