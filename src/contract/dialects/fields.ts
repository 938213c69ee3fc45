import { isCanonicalDecision, type CanonicalDecision } from '../canonical-event.js';
import { isRfc3339DateTime, keyTextProblem, RFC3339_MESSAGE } from '../schema-violations.js';
import type { ContractViolation } from '../types.js';

/** Helpers the dialect readers share: reading nested JSON safely and checking key-like fields. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function objectAt(value: unknown, ...path: string[]): JsonObject | undefined {
  let node: unknown = value;
  for (const key of path) {
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return isObject(node) ? node : undefined;
}

export function stringAt(value: unknown, ...path: string[]): string | undefined {
  const parent = objectAt(value, ...path.slice(0, -1));
  const leaf = parent?.[path.at(-1)!];
  return typeof leaf === 'string' ? leaf : undefined;
}

/** A customer id as text: senders send `121212` as well as `"121212"`. */
export function idText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Any spelling of a known decision (`ACCEPT`, `Accept`) in canonical lower case. */
export function canonicalDecision(value: unknown): CanonicalDecision | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  return isCanonicalDecision(lower) ? lower : undefined;
}

/** Reason codes as strings only: other entries are left in the payload, not in the column. */
export function reasonCodesOf(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((c): c is string => typeof c === 'string');
}

/** `Sandbox` / `Production` whatever the case; anything else as sent. */
export function environmentOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'sandbox') return 'Sandbox';
  if (lower === 'production') return 'Production';
  return value;
}

/** Violations of a string that will be a column and a key: well-formed text, not blank. */
export function keyViolations(path: string, value: string | undefined): ContractViolation[] {
  if (value === undefined) return [];
  if (value.trim().length === 0) return [{ path, message: 'must not be empty' }];
  const problem = keyTextProblem(value);
  return problem ? [{ path, message: problem }] : [];
}

/** An event time the schema let through (ajv's date-time) that RFC 3339 does not allow. */
export function timeViolations(
  path: string,
  value: string | undefined,
  badPaths: ReadonlySet<string>,
): ContractViolation[] {
  if (value === undefined || badPaths.has(path) || isRfc3339DateTime(value)) return [];
  return [{ path, message: RFC3339_MESSAGE }];
}
