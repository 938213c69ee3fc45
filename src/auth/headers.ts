import type { HeaderMap } from './redact.js';

export type { HeaderMap };

/**
 * The values of one header, in order. Node lower-cases header names, so the lower-case key is
 * tried first (the hot path); Web `Headers` converted by hand or test doubles may use other
 * letter cases, so a case-insensitive scan is the fallback.
 */
export function readHeaderValues(headers: HeaderMap, lowerCaseName: string): string[] {
  let value = headers[lowerCaseName];
  if (value === undefined) {
    for (const name in headers) {
      if (name.toLowerCase() === lowerCaseName && headers[name] !== undefined) {
        value = headers[name];
        break;
      }
    }
  }
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * The outcome of reading a header that must occur once. A repeated credential header is refused
 * rather than picking one copy: which copy a proxy or framework keeps differs, and an attacker
 * who can add a header must not be able to choose which one we check.
 */
export type SingleHeader = { kind: 'absent' } | { kind: 'repeated' } | { kind: 'present'; value: string };

export function readSingleHeader(headers: HeaderMap, lowerCaseName: string): SingleHeader {
  const values = readHeaderValues(headers, lowerCaseName);
  if (values.length === 0) return { kind: 'absent' };
  if (values.length > 1) return { kind: 'repeated' };
  return { kind: 'present', value: values[0] as string };
}
