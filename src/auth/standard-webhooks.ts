import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing secrets are written
 * `whsec_<base64>`; the HMAC key is the decoded bytes. A secret without the prefix is taken as
 * raw UTF-8 so a plain shared string still works, as several senders allow.
 */
export function decodeSigningSecret(secret: string): Buffer {
  const trimmed = secret.trim();
  if (trimmed !== secret) {
    throw new TypeError('signing secret has leading or trailing whitespace; was it read from a file with a newline?');
  }
  if (secret.startsWith('whsec_')) {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    if (key.length === 0) throw new TypeError('signing secret "whsec_…" has no base64 key after the prefix');
    return key;
  }
  if (secret.length === 0) throw new TypeError('signing secret is empty');
  return Buffer.from(secret, 'utf8');
}

/** The base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`: the part after `v1,`. */
export function computeSignature(key: Uint8Array, id: string, timestampSeconds: number | string, body: Uint8Array | string): string {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
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
