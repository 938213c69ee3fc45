import type { FastifyRequest } from 'fastify';
import { isRfc3339DateTime, sourceNameProblem } from '../../contract/index.js';
import { EMPTY, html, type Html } from './html.js';

/** A `datetime-local` value (no offset: the form says UTC), with or without seconds. */
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/;

/**
 * A page's query string, read leniently: a page never fails on a bad filter. A value that does not
 * fit is left out and named in `ignored`, which the page shows, so nobody reads an unfiltered list
 * believing it filtered.
 */
export class PageQuery {
  readonly ignored: string[] = [];
  private readonly raw: Record<string, unknown>;

  constructor(request: FastifyRequest) {
    this.raw = (request.query ?? {}) as Record<string, unknown>;
  }

  /** The value as given (the first one when repeated), trimmed; undefined when absent or empty. */
  private given(name: string): string | undefined {
    const value = this.raw[name];
    const v = Array.isArray(value) ? (value[0] as unknown) : value;
    if (typeof v !== 'string') return undefined;
    const trimmed = v.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  text(name: string, maxLength: number): string | undefined {
    const v = this.given(name);
    if (v === undefined) return undefined;
    if (v.length > maxLength) {
      this.ignored.push(`${name}: longer than ${maxLength} characters`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.given(name);
    if (v === undefined) return undefined;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    this.ignored.push(`${name}: ${JSON.stringify(v.slice(0, 64))} is not one of the choices`);
    return undefined;
  }

  /** A `datetime-local` value read as UTC, or an RFC 3339 date-time with its own offset. */
  instant(name: string): Date | undefined {
    const v = this.given(name);
    if (v === undefined) return undefined;
    const parsed = LOCAL_DATE_TIME.test(v) ? new Date(`${v}Z`) : isRfc3339DateTime(v) ? new Date(v) : null;
    if (parsed === null || Number.isNaN(parsed.getTime())) {
      this.ignored.push(`${name}: ${JSON.stringify(v.slice(0, 64))} is not a date and time`);
      return undefined;
    }
    return parsed;
  }

  /** `true` / `false` (a select's values); anything else is ignored. */
  flag(name: string): boolean | undefined {
    const v = this.oneOf(name, ['true', 'false'] as const);
    return v === undefined ? undefined : v === 'true';
  }

  integer(name: string, min: number, max: number): number | undefined {
    const v = this.given(name);
    if (v === undefined) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    this.ignored.push(`${name}: ${JSON.stringify(v.slice(0, 64))} is not a number from ${min} to ${max}`);
    return undefined;
  }

  /** A source name (contract/source.ts); one that breaks the naming rule is ignored and said. */
  source(name = 'source'): string | undefined {
    const v = this.text(name, 64);
    if (v === undefined) return undefined;
    if (sourceNameProblem(v) === null) return v;
    this.ignored.push(`${name}: ${JSON.stringify(v)} is not a source name`);
    return undefined;
  }

  /** A keyset cursor as the store gave it (opaque; the store refuses a forged one). */
  cursor(): string | undefined {
    return this.text('cursor', 2048);
  }
}

/** A date as a query value the forms read back (`datetime-local`, UTC, to the second). */
/** A list page's filter as read from its query: for the store, as query values for links, and the page's cursor. */
export interface ReadFilter<F> {
  filter: Omit<F, 'limit' | 'cursor'>;
  /** The filter as query values, for links (pager, forms). */
  values: Record<string, string | undefined>;
  cursor: string | undefined;
  query: PageQuery;
}

export function queryInstant(value: Date | undefined): string | undefined {
  return value === undefined ? undefined : value.toISOString().slice(0, 19);
}

/** Says which filters were left out, when some were. */
export function ignoredNote(query: PageQuery): Html {
  if (query.ignored.length === 0) return EMPTY;
  return html`<p class="note" id="ignored-filters" role="status">Left out of the filter: ${query.ignored.join('; ')}.</p>`;
}
