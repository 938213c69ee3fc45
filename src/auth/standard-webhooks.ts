import { createHmac, timingSafeEqual } from 'node:crypto';
import { readSingleHeader, type HeaderMap } from './headers.js';

const WHSEC_PREFIX = 'whsec_';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing secrets are written
 * `whsec_<base64>`; the HMAC key is the decoded bytes. A secret without the prefix is taken as
 * raw UTF-8 so a plain shared string still works, as several senders allow. (The reference
 * library base64-decodes an unprefixed secret instead; keep the prefix to be unambiguous.)
 */
export function decodeSigningSecret(secret: string): Buffer {
  const trimmed = secret.trim();
  if (trimmed !== secret) {
    throw new TypeError('signing secret has leading or trailing whitespace; was it read from a file with a newline?');
  }
  if (secret.startsWith(WHSEC_PREFIX)) {
    const encoded = secret.slice(WHSEC_PREFIX.length);
    if (encoded.length === 0) throw new TypeError('signing secret "whsec_…" has no base64 key after the prefix');
    // Buffer.from(…, 'base64') skips characters it does not know, so a mangled secret would
    // silently become a different key and every delivery would fail verification. Only
    // canonical standard base64 (padding optional) is accepted: re-encoding the decoded key must
    // give back exactly what was written.
    const key = Buffer.from(encoded, 'base64');
    const padded = encoded.padEnd(Math.ceil(encoded.length / 4) * 4, '=');
    if (key.length === 0 || key.toString('base64') !== padded) {
      throw new TypeError(
        'signing secret "whsec_…" is not valid base64 after the prefix; was it truncated or copied with extra characters?',
      );
    }
    return key;
  }
  if (secret.length === 0) throw new TypeError('signing secret is empty');
  return Buffer.from(secret, 'utf8');
}

/** The base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`: the part after `v1,`. */
export function computeSignature(
  key: Uint8Array,
  id: string,
  timestampSeconds: number | string,
  body: Uint8Array | string,
): string {
  return hmac(key, id, String(timestampSeconds), body).toString('base64');
}

function hmac(key: Uint8Array, id: string, timestamp: string, body: Uint8Array | string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/**
 * The `webhook-signature` header value for one delivery: `v1,<sig>` per secret, space separated,
 * so a receiver that knows any one of the secrets (rotation) accepts it.
 */
export function signStandardWebhook(
  secrets: string | readonly string[],
  id: string,
  timestampSeconds: number,
  body: Uint8Array | string,
): string {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return list.map((s) => `v1,${computeSignature(decodeSigningSecret(s), id, timestampSeconds, body)}`).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Verification

export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/** A sender that needs more than this many signatures at once is broken or hostile. */
const MAX_SIGNATURES = 32;

export type WebhookVerificationFailure =
  | 'missing-headers'
  | 'repeated-header'
  | 'invalid-timestamp'
  | 'timestamp-too-old'
  | 'timestamp-too-new'
  | 'no-v1-signature'
  | 'too-many-signatures'
  | 'no-matching-signature';

/**
 * Why a delivery's Standard Webhooks signature was refused. The message is for the operator's log
 * (it never contains a secret or a signature); `code` is for code that branches on the cause.
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly code: WebhookVerificationFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedStandardWebhook {
  /** `webhook-id` (or `svix-id`): authenticated, so safe to deduplicate on. */
  readonly webhookId: string;
  readonly timestampSeconds: number;
}

export interface StandardWebhookVerifierOptions {
  /** `whsec_<base64>` or raw secrets; any one of them may have signed (rotation). */
  readonly secrets: readonly string[];
  /** How far `webhook-timestamp` may be from now, in either direction. Default 300 s. */
  readonly toleranceSeconds?: number;
  /** Milliseconds since the epoch; injected so tests are deterministic. */
  readonly now?: () => number;
}

export interface StandardWebhookVerifier {
  /** Returns the verified delivery id, or throws WebhookVerificationError. */
  verify(headers: HeaderMap, rawBody: Uint8Array): VerifiedStandardWebhook;
}

/**
 * Svix, which Standard Webhooks grew out of, still sends `svix-` headers; the scheme is the same.
 * One spelling is used for all three headers, chosen by which one the sender used.
 */
const HEADER_SPELLINGS = [
  { prefix: 'webhook', id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' },
  { prefix: 'svix', id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' },
] as const;

export function createStandardWebhookVerifier(options: StandardWebhookVerifierOptions): StandardWebhookVerifier {
  const keys = options.secrets.map((secret) => decodeSigningSecret(secret));
  if (keys.length === 0) throw new TypeError('Standard Webhooks verification needs at least one signing secret');
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds <= 0) {
    throw new TypeError(`signature tolerance must be a positive number of seconds, got ${String(toleranceSeconds)}`);
  }
  const now = options.now ?? Date.now;

  return {
    verify(headers, rawBody) {
      assertRawBody(rawBody);
      const { id, timestamp, signature, prefix } = readSignatureHeaders(headers);
      // The timestamp is checked first: it is cheap, and a stale replay is refused without
      // spending an HMAC over the body per configured secret.
      const timestampSeconds = checkTimestamp(timestamp, prefix, toleranceSeconds, Math.floor(now() / 1000));
      const candidates = parseV1Signatures(signature, prefix);
      // Computed before any comparison and compared as a full matrix with no early exit, so the
      // time taken does not depend on which secret or which listed signature matched.
      const expected = keys.map((key) => hmac(key, id, timestamp, rawBody));
      let matched = 0;
      for (const candidate of candidates) {
        for (const digest of expected) {
          matched |= candidate.length === digest.length && timingSafeEqual(candidate, digest) ? 1 : 0;
        }
      }
      if (matched !== 1) {
        throw new WebhookVerificationError(
          'no-matching-signature',
          `${prefix}-signature matches no configured signing secret; was the body changed (re-serialised JSON, a proxy) or is the secret outdated?`,
        );
      }
      return { webhookId: id, timestampSeconds };
    },
  };
}

/** Stripe's lesson: a parsed body cannot be verified, and the caller deserves to be told so. */
function assertRawBody(rawBody: unknown): asserts rawBody is Uint8Array {
  if (!(rawBody instanceof Uint8Array)) {
    throw new TypeError(
      `signature verification needs the raw request body as bytes (Uint8Array/Buffer), got ${rawBody === null ? 'null' : typeof rawBody}; ` +
        'verify before parsing JSON, on the exact bytes received',
    );
  }
}

function readSignatureHeaders(headers: HeaderMap): {
  id: string;
  timestamp: string;
  signature: string;
  prefix: string;
} {
  const spelling =
    HEADER_SPELLINGS.find((s) =>
      [s.id, s.timestamp, s.signature].some((name) => readSingleHeader(headers, name).kind !== 'absent'),
    ) ?? HEADER_SPELLINGS[0];
  const values: string[] = [];
  const missing: string[] = [];
  for (const name of [spelling.id, spelling.timestamp, spelling.signature]) {
    const header = readSingleHeader(headers, name);
    if (header.kind === 'repeated')
      throw new WebhookVerificationError('repeated-header', `${name} header sent more than once`);
    if (header.kind === 'absent' || header.value.trim() === '') missing.push(name);
    else values.push(header.value.trim());
  }
  if (missing.length > 0) {
    throw new WebhookVerificationError(
      'missing-headers',
      `missing ${missing.join(', ')} (Standard Webhooks signature headers)`,
    );
  }
  const [id, timestamp, signature] = values as [string, string, string];
  return { id, timestamp, signature, prefix: spelling.prefix };
}

function checkTimestamp(timestamp: string, prefix: string, toleranceSeconds: number, nowSeconds: number): number {
  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new WebhookVerificationError('invalid-timestamp', `${prefix}-timestamp is not a Unix time in whole seconds`);
  }
  const seconds = Number(timestamp);
  const age = nowSeconds - seconds;
  if (age > toleranceSeconds) {
    throw new WebhookVerificationError(
      'timestamp-too-old',
      `${prefix}-timestamp ${timestamp} is ${age} s in the past, beyond the ${toleranceSeconds} s tolerance (a replay, or a clock out of sync)`,
    );
  }
  if (-age > toleranceSeconds) {
    // A 13-digit value is the classic mistake of a sender using Date.now() directly.
    const hint = timestamp.length >= 13 ? '; it looks like milliseconds, the scheme uses seconds' : '';
    throw new WebhookVerificationError(
      'timestamp-too-new',
      `${prefix}-timestamp ${timestamp} is ${-age} s in the future, beyond the ${toleranceSeconds} s tolerance (a clock out of sync)${hint}`,
    );
  }
  return seconds;
}

/**
 * `v1,<base64>` entries separated by spaces; other versions (e.g. `v1a` asymmetric signatures)
 * are skipped, not failed, so a sender may add them alongside a `v1` one.
 */
function parseV1Signatures(header: string, prefix: string): Buffer[] {
  const entries = header.split(/ +/);
  if (entries.length > MAX_SIGNATURES) {
    throw new WebhookVerificationError(
      'too-many-signatures',
      `${prefix}-signature lists ${entries.length} signatures, more than ${MAX_SIGNATURES}`,
    );
  }
  const signatures: Buffer[] = [];
  for (const entry of entries) {
    const comma = entry.indexOf(',');
    if (comma === -1 || entry.slice(0, comma) !== 'v1') continue;
    signatures.push(Buffer.from(entry.slice(comma + 1), 'base64'));
  }
  if (signatures.length === 0) {
    throw new WebhookVerificationError(
      'no-v1-signature',
      `${prefix}-signature has no v1 signature (only v1, HMAC-SHA256, is supported)`,
    );
  }
  return signatures;
}
