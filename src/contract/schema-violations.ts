import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ContractViolation } from './types.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
type AddFormats = typeof addFormatsModule.default;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

/** One ajv for the contract and every dialect schema: each is compiled once, at import. */
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv, ['date-time']);

export function compileSchema<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

export const RFC3339_MESSAGE = 'must be an RFC 3339 date-time with an offset (e.g. 2026-01-31T12:00:00Z)';

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
  if (err.keyword === 'format') return { path: err.instancePath, message: RFC3339_MESSAGE };
  return { path: err.instancePath, message: err.message ?? `fails ${err.keyword}` };
}

/** Every schema violation of `value`, each path and message once. */
export function schemaViolations(validate: ValidateFunction, value: unknown): ContractViolation[] {
  if (validate(value)) return [];
  const violations: ContractViolation[] = [];
  const seen = new Set<string>();
  for (const err of validate.errors ?? []) {
    const v = toViolation(err);
    const key = `${v.path}\u0000${v.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      violations.push(v);
    }
  }
  return violations;
}

/** The kind of a JSON value that is not an object, for "must be a JSON object, got …". */
export function notAnObject(value: unknown): ContractViolation | null {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return null;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return { path: '', message: `must be a JSON object, got ${kind}` };
}

/** A UTF-16 surrogate not part of a pair: with the u flag, pairs are matched as one code point. */
const LONE_SURROGATE = /\p{Cs}/u;
/** C0 control characters (U+0000 cannot even be stored in PostgreSQL text). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * What makes a string unfit to become a column and a key of its own (a transaction id, a customer
 * id, an envelope id), or null. JSON can escape half a surrogate pair ("\ud800") and JSON.parse
 * keeps it, but it is not Unicode text: stored in a UTF-8 column it reads back as U+FFFD, so two
 * different ids could read back alike. RFC 8259 §8.2 calls such strings unpredictable.
 */
export function keyTextProblem(value: string): string | null {
  if (LONE_SURROGATE.test(value))
    return 'must be well-formed Unicode: it contains an unpaired surrogate (a lone \\uD800-\\uDFFF escape)';
  if (CONTROL_CHARACTER.test(value)) return 'must not contain control characters (U+0000 to U+001F, U+007F)';
  return null;
}
