/**
 * `--set field=value` and the control endpoint's `set`: `a.b=1` writes `{a:{b:1}}`. Values that
 * parse as JSON are taken as JSON (numbers, true, null, objects, "quoted strings"), anything else
 * as a plain string, so `--set eventTime=2020-01-01T00:00:00Z` needs no quoting.
 */
export function parseFieldAssignment(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new RangeError(`--set takes field=value, got ${JSON.stringify(text)}`);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return [text.slice(0, eq).trim(), value];
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 8;

export function applyFieldOverrides(target: Record<string, unknown>, fields: Record<string, unknown>): void {
  for (const [path, value] of Object.entries(fields)) {
    const keys = path.split('.');
    if (keys.length > MAX_DEPTH || keys.some((k) => k === '' || FORBIDDEN.has(k))) {
      throw new RangeError(`cannot set field ${JSON.stringify(path)}`);
    }
    let obj = target;
    for (const key of keys.slice(0, -1)) {
      const next = obj[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) obj[key] = {};
      obj = obj[key] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1]!;
    obj[last] = value;
  }
}

/** Removes fields (dotted paths), to send an event missing something the contract requires. */
export function removeFields(target: Record<string, unknown>, paths: readonly string[]): void {
  for (const path of paths) {
    const keys = path.split('.');
    let obj: unknown = target;
    for (const key of keys.slice(0, -1)) {
      obj = obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
    }
    if (obj !== null && typeof obj === 'object') delete (obj as Record<string, unknown>)[keys[keys.length - 1]!];
  }
}
