/**
 * How a driver marks parameters: better-sqlite3 binds `?` in the order they appear, pg numbers
 * them `$1`, `$2`…
 */
export type PlaceholderStyle = '?' | '$n';

/**
 * Builds `WHERE a = ? AND b = ?` from optional filters (the listings and replay of both stores),
 * collecting the values in the order their placeholders appear. Pass `values` to the driver
 * positionally.
 */
export class Where {
  readonly values: unknown[] = [];
  private readonly parts: string[] = [];

  constructor(private readonly style: PlaceholderStyle) {}

  /** A condition with one `?`, which becomes this value's placeholder. */
  add(sql: string, value: unknown): this {
    this.parts.push(sql.replace('?', this.param(value)));
    return this;
  }

  /** A placeholder for a value used in a raw() condition or after the WHERE (LIMIT); in text order. */
  param(value: unknown): string {
    this.values.push(value);
    return this.style === '$n' ? `$${this.values.length}` : '?';
  }

  /** A condition with no value, or whose values were placed with param(). */
  raw(sql: string): this {
    this.parts.push(sql);
    return this;
  }

  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}
