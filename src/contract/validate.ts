import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { docvEventSchema } from './generated/schema.js';
import { jsonTextProblem } from './json-text.js';
import type { ContractViolation, DocvEvent } from './types.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
type AddFormats = typeof addFormatsModule.default;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

export const MAX_TRANSACTION_ID_LENGTH = 256;

/** A UTF-16 surrogate not part of a pair: with the u flag, pairs are matched as one code point. */
const LONE_SURROGATE = /\p{Cs}/u;
/** C0 control characters (U+0000 cannot even be stored in PostgreSQL text). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** The string fields that become columns and keys of their own (the rest stay in the raw body). */
const INDEXED_STRING_FIELDS = ['docvTransactionId', 'customerUserId'] as const;

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv, ['date-time']);
const validateSchema = ajv.compile<DocvEvent>(docvEventSchema);

// RFC 3339 section 5.6: full-date "T" full-time, where the offset is mandatory and has a colon.
// ajv-formats alone also accepts "+0100"; the contract says RFC 3339.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

export function isRfc3339DateTime(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [, y, mo, d, h, mi, s, , , oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return false;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return false;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return false;
  return true;
}

function pointerEscape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function toViolation(err: ErrorObject): ContractViolation {
  if (err.keyword === 'required') {
    const missing = (err.params as { missingProperty: string }).missingProperty;
    return { path: `${err.instancePath}/${pointerEscape(missing)}`, message: `is required` };
  }
  if (err.keyword === 'enum') {
    const allowed = (err.params as { allowedValues: unknown[] }).allowedValues;
    return { path: err.instancePath, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  if (err.keyword === 'format') {
    return { path: err.instancePath, message: `must be an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z)` };
  }
  return { path: err.instancePath, message: err.message ?? `fails ${err.keyword}` };
}

/**
 * Every way `value` breaks the contract: the spec's JSON Schema plus the rules the spec states in
 * prose or leaves implicit. Empty when it is a valid DocV event.
 */
export function contractViolations(value: unknown): ContractViolation[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    return [{ path: '', message: `must be a JSON object, got ${kind}` }];
  }
  const violations: ContractViolation[] = [];
  const seen = new Set<string>();
  if (!validateSchema(value)) {
    for (const err of validateSchema.errors ?? []) {
      const v = toViolation(err);
      const key = `${v.path}\u0000${v.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        violations.push(v);
      }
    }
  }
  const obj = value as Record<string, unknown>;
  const badPaths = new Set(violations.map((v) => v.path));
  const id = obj.docvTransactionId;
  if (typeof id === 'string' && !badPaths.has('/docvTransactionId')) {
    if (id.trim().length === 0) violations.push({ path: '/docvTransactionId', message: 'must not be empty' });
    else if (id.length > MAX_TRANSACTION_ID_LENGTH) {
      violations.push({ path: '/docvTransactionId', message: `must be at most ${MAX_TRANSACTION_ID_LENGTH} characters, got ${id.length}` });
    }
  }
  const time = obj.eventTime;
  if (typeof time === 'string' && !badPaths.has('/eventTime') && !isRfc3339DateTime(time)) {
    violations.push({ path: '/eventTime', message: 'must be an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z)' });
  }
  // JSON can escape half a surrogate pair ("\ud800") and JSON.parse keeps it, but it is not
  // Unicode text: stored in a UTF-8 column it reads back as U+FFFD, so two different ids could
  // read back alike. RFC 8259 §8.2 calls such strings unpredictable; refuse them where they matter.
  for (const field of INDEXED_STRING_FIELDS) {
    const value = obj[field];
    if (typeof value !== 'string' || badPaths.has(`/${field}`)) continue;
    if (LONE_SURROGATE.test(value)) {
      violations.push({ path: `/${field}`, message: 'must be well-formed Unicode: it contains an unpaired surrogate (a lone \\uD800-\\uDFFF escape)' });
    } else if (CONTROL_CHARACTER.test(value)) {
      violations.push({ path: `/${field}`, message: 'must not contain control characters (U+0000 to U+001F, U+007F)' });
    }
  }
  if ('decision' in obj && obj.eventType !== 'VERIFICATION_COMPLETED' && typeof obj.eventType === 'string') {
    violations.push({ path: '/decision', message: `must be absent on ${obj.eventType}: only VERIFICATION_COMPLETED carries a decision` });
  }
  return violations;
}

export type ParseResult =
  | { ok: true; event: DocvEvent }
  | { ok: false; kind: 'encoding' | 'syntax'; message: string }
  | { ok: false; kind: 'contract'; errors: ContractViolation[] };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses the raw bytes of a delivery into a checked DocvEvent. Takes bytes (or the exact string)
 * rather than an already parsed object: signatures and deduplication depend on what was sent.
 */
export function parseDocvEvent(raw: Uint8Array | string): ParseResult {
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, kind: 'syntax', message: `body is not valid JSON: ${(err as Error).message}` };
  }
  const errors = contractViolations(value);
  if (errors.length > 0) return { ok: false, kind: 'contract', errors };
  return { ok: true, event: value as DocvEvent };
}
