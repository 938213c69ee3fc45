import { randomBytes, randomUUID } from 'node:crypto';

/** Ids look like Socure's (UUIDs) where Socure uses UUIDs, so receivers' column sizes fit. */
export function newTransactionId(): string {
  return randomUUID();
}

export function newReferenceId(): string {
  return randomUUID();
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

/** The unguessable part of a `sessionUrl`: knowing a transaction id must not open its capture page. */
export function newSessionToken(): string {
  return pooledRandom(18).toString('base64url');
}

/** One id per event, reused by every delivery of it as `webhook-id`, so receivers can deduplicate. */
export function newEventId(): string {
  return `evt_${pooledRandom(12).toString('base64url')}`;
}

export function newApiKey(): string {
  return `sandbox_${randomBytes(18).toString('base64url')}`;
}
