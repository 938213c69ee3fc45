import { badRequest } from '../errors.js';

/** Small checks shared by the request handlers; each throws a 400 that names the field. */

export function asObject(value: unknown, what = 'the request body'): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw badRequest(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

export function optionalString(obj: Record<string, unknown>, field: string, maxLength = 256): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (v.length === 0) throw badRequest(`${field} must not be empty`);
  if (v.length > maxLength) throw badRequest(`${field} must be at most ${maxLength} characters`);
  return v;
}

/** An absolute http(s) URL: what a webhook or a redirect can be. */
export function httpUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`${field} must be an absolute URL, got ${JSON.stringify(value.slice(0, 100))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badRequest(`${field} must be an http or https URL`);
  if (url.username || url.password)
    throw badRequest(`${field} must not carry credentials; use --webhook-secret or --signing-secret`);
  return url.toString();
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw badRequest(`${field} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  }
  return value as T;
}
