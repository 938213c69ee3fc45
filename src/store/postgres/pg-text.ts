/**
 * PostgreSQL text cannot hold U+0000, which JSON strings may carry; such characters in the
 * indexed columns become U+FFFD (lone surrogates get the same from the UTF-8 encoder). The raw
 * body, the headers and the lifecycle JSON keep the exact value.
 */
export function pgText(value: string): string;
export function pgText(value: string | null | undefined): string | null;
export function pgText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}
