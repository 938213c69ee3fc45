import { docvEventSchema } from './generated/schema.js';
import { jsonTextProblem } from './json-text.js';
import {
  compileSchema,
  isRfc3339DateTime,
  keyTextProblem,
  notAnObject,
  RFC3339_MESSAGE,
  schemaViolations,
} from './schema-violations.js';
import type { ContractViolation, DocvEvent } from './types.js';

export { isRfc3339DateTime };

export const MAX_TRANSACTION_ID_LENGTH = 256;

/** The string fields that become columns and keys of their own (the rest stay in the raw body). */
const INDEXED_STRING_FIELDS = ['docvTransactionId', 'customerUserId'] as const;

const validateSchema = compileSchema<DocvEvent>(docvEventSchema);

/**
 * Every way `value` breaks the contract: the spec's JSON Schema plus the rules the spec states in
 * prose or leaves implicit. Empty when it is a valid DocV event.
 */
export function contractViolations(value: unknown): ContractViolation[] {
  const notObject = notAnObject(value);
  if (notObject) return [notObject];
  const violations = schemaViolations(validateSchema, value);
  const obj = value as Record<string, unknown>;
  const badPaths = new Set(violations.map((v) => v.path));
  const id = obj.docvTransactionId;
  if (typeof id === 'string' && !badPaths.has('/docvTransactionId')) {
    if (id.trim().length === 0) violations.push({ path: '/docvTransactionId', message: 'must not be empty' });
    else if (id.length > MAX_TRANSACTION_ID_LENGTH) {
      violations.push({
        path: '/docvTransactionId',
        message: `must be at most ${MAX_TRANSACTION_ID_LENGTH} characters, got ${id.length}`,
      });
    }
  }
  const time = obj.eventTime;
  if (typeof time === 'string' && !badPaths.has('/eventTime') && !isRfc3339DateTime(time)) {
    violations.push({ path: '/eventTime', message: RFC3339_MESSAGE });
  }
  for (const field of INDEXED_STRING_FIELDS) {
    const value = obj[field];
    if (typeof value !== 'string' || badPaths.has(`/${field}`)) continue;
    const problem = keyTextProblem(value);
    if (problem) violations.push({ path: `/${field}`, message: problem });
  }
  if ('decision' in obj && obj.eventType !== 'VERIFICATION_COMPLETED' && typeof obj.eventType === 'string') {
    violations.push({
      path: '/decision',
      message: `must be absent on ${obj.eventType}: only VERIFICATION_COMPLETED carries a decision`,
    });
  }
  return violations;
}

export type ParseResult =
  | { ok: true; event: DocvEvent }
  | { ok: false; kind: 'encoding' | 'syntax'; message: string }
  | { ok: false; kind: 'contract'; errors: ContractViolation[] };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type JsonBodyResult = { ok: true; value: unknown } | { ok: false; kind: 'encoding' | 'syntax'; message: string };

/**
 * The raw bytes of a delivery as a JSON value, or why they are not one: a byte order mark, too
 * deep a nesting, invalid UTF-8, a syntax error.
 */
export function parseJsonBody(raw: Uint8Array | string): JsonBodyResult {
  const textProblem = jsonTextProblem(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
  if (textProblem !== null) return { ok: false, kind: 'syntax', message: textProblem };
  let text: string;
  if (typeof raw === 'string') text = raw;
  else {
    try {
      text = utf8.decode(raw);
    } catch {
      return { ok: false, kind: 'encoding', message: 'body is not valid UTF-8' };
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, kind: 'syntax', message: `body is not valid JSON: ${(err as Error).message}` };
  }
}

/**
 * Parses the raw bytes of a delivery into a checked DocvEvent of the flat contract. Takes bytes
 * (or the exact string) rather than an already parsed object: signatures and deduplication depend
 * on what was sent. For every dialect, see parseDelivery.
 */
export function parseDocvEvent(raw: Uint8Array | string): ParseResult {
  const body = parseJsonBody(raw);
  if (!body.ok) return body;
  const errors = contractViolations(body.value);
  if (errors.length > 0) return { ok: false, kind: 'contract', errors };
  return { ok: true, event: body.value as DocvEvent };
}
