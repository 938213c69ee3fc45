import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Shape = string | Shape[] | { [key: string]: Shape };

/**
 * The structure of a JSON value without its values: objects by their keys, arrays by the
 * distinct shapes of their items, everything else by its JSON type. Two bodies with the same
 * shape have the same fields, nested the same way, of the same types.
 */
export function shapeOf(value: unknown): Shape {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const shapes = new Map<string, Shape>();
    for (const item of value) {
      const s = shapeOf(item);
      shapes.set(JSON.stringify(s), s);
    }
    return [...shapes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, s]) => s);
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((k) => [k, shapeOf(obj[k])]),
    );
  }
  return typeof value;
}

const FIXTURES = new URL('../../fixtures/', import.meta.url);

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(name, FIXTURES));
}

/** A fixture of test/fixtures, e.g. `socure-v5/APP_OPENED.json`. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as Record<string, unknown>;
}
