import { createHash, randomBytes } from 'node:crypto';

/** Ids look like Socure's (UUIDs) where Socure uses UUIDs, so receivers' column sizes fit. */
export function newTransactionId(): string {
  return newUuid();
}

export function newReferenceId(): string {
  return newUuid();
}

/** The envelope id of one notification (v5 `id`, RiskOS `event_id`): the sender's own deduplication key. */
export function newNotificationId(): string {
  return newUuid();
}

/**
 * Random bytes taken from a pool filled 4 KiB at a time, as `randomUUID` does: the same CSPRNG,
 * without a call into it per event of a load run.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;
function pooledRandom(n: number): Buffer {
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + n);
  offset += n;
  return bytes;
}

const HEX = Buffer.from('0123456789abcdef');
const uuidBytes = Buffer.alloc(36);

/**
 * A random (version 4) UUID from the pool. `randomUUID` builds its string by concatenation, a
 * rope of a dozen heap objects per id that a load run keeps for every transaction, and that
 * has to be flattened each time the id is hashed; this one is written as one flat string.
 */
function newUuid(): string {
  const r = pooledRandom(16);
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) uuidBytes[o++] = 0x2d; // '-'
    // Version 4 in the 7th byte's high nibble, the RFC 9562 variant (10xx) in the 9th's.
    const b = i === 6 ? (r[i]! & 0x0f) | 0x40 : i === 8 ? (r[i]! & 0x3f) | 0x80 : r[i]!;
    uuidBytes[o++] = HEX[b >> 4]!;
    uuidBytes[o++] = HEX[b & 0x0f]!;
  }
  return uuidBytes.toString('latin1');
}

/**
 * A UUID that is always the same for the same name (RFC 9562 version 8: the bits are SHA-256 of
 * the name). For ids the sandbox derives instead of storing, such as a transaction's RiskOS
 * evaluation id: every notification of the transaction, and every restart, names the same one.
 */
export function uuidFromName(name: string): string {
  const b = createHash('sha256').update(name, 'utf8').digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The unguessable part of a `sessionUrl`: knowing a transaction id must not open its capture page. */
export function newSessionToken(): string {
  return pooledRandom(18).toString('base64url');
}

/**
 * One id per notification, sent with every delivery of it as `webhook-id`, so receivers can
 * deduplicate. `msg_`, as Standard Webhooks writes message ids: `evt_` is the receiver's own id
 * for an event it stored, and one event must not read as two.
 */
export function newEventId(): string {
  return `msg_${pooledRandom(12).toString('base64url')}`;
}

export function newApiKey(): string {
  return `sandbox_${randomBytes(18).toString('base64url')}`;
}
