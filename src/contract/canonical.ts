import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so two deliveries of the same payload hash alike
 * whatever key order or whitespace the sender used.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (obj[key] === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${canonicalJson(obj[key])}`;
  }
  return `${out}}`;
}

/**
 * Deduplication key for a payload delivered without a delivery id. crypto.hash, the one-shot
 * form: measurably cheaper than createHash().update().digest() on a payload this size, and it runs
 * for every such delivery.
 */
export function contentKey(value: unknown): string {
  return `sha256:${hash('sha256', canonicalJson(value), 'hex')}`;
}
