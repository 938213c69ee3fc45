import { createHash } from 'node:crypto';

/** AES-256: the key is 32 bytes, given as base64 (standard or URL-safe alphabet). */
export const ENCRYPTION_KEY_BYTES = 32;

/**
 * The keys a store seals and opens with, as plain data so the options can cross to the SQLite
 * writer thread: `current` seals every new row (null: rows are written in clear, as before
 * encryption existed), `previous` only open rows sealed before a rotation.
 */
export interface EncryptionKeys {
  current: Uint8Array | null;
  previous: readonly Uint8Array[];
}

/** A bad key setting; the message names where it came from, never its value. */
export class EncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionKeyError';
  }
}

/**
 * The id a key is known by in rows and messages: the first 16 hex digits of
 * SHA-256("docv-webhooks key id" + key). It says which key sealed a row without revealing it, and
 * two keys get different ids.
 */
export function keyIdOf(key: Uint8Array): string {
  return createHash('sha256').update('docv-webhooks key id').update(key).digest('hex').slice(0, 16);
}

/** A key as configured (base64 of 32 bytes); `source` names the flag or variable in errors. */
export function parseEncryptionKey(text: string, source: string): Uint8Array {
  const trimmed = text.trim();
  const alphabet = /^[A-Za-z0-9+/_-]+={0,2}$/;
  const key = alphabet.test(trimmed)
    ? Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64')
    : null;
  if (!key || key.length !== ENCRYPTION_KEY_BYTES)
    throw new EncryptionKeyError(
      `${source} must be ${ENCRYPTION_KEY_BYTES} random bytes in base64 (44 characters, e.g. from \`openssl rand -base64 32\`)${
        key ? `; it decodes to ${key.length} bytes` : '; it is not base64'
      }`,
    );
  return new Uint8Array(key);
}
