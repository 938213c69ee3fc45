/** Builds `WHERE a = $1 AND b = $2` from optional filters, numbering parameters as it goes. */
export class Where {
  readonly values: unknown[] = [];
  private readonly parts: string[] = [];
  add(sql: string, value: unknown): this {
    this.values.push(value);
    this.parts.push(sql.replace('?', `$${this.values.length}`));
    return this;
  }
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  /** A condition whose parameters were numbered with param(). */
  raw(sql: string): this {
    this.parts.push(sql);
    return this;
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}
