import { resolve } from 'node:path';

/**
 * Where a database is, from the URL a user gives (`--db`, DATABASE_URL). The one reader of
 * `sqlite:` URLs: the receiver's store and the sandbox's state both go through it. No driver is
 * imported here.
 */
export type DatabaseLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** `sqlite:<file>`, `sqlite::memory:`, a bare file path, or `postgres://…`. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new TypeError('database URL "sqlite:" names no file; use sqlite:./data/docv-webhooks.db');
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new TypeError(`unsupported database URL "${url.split(':')[0]}:…"; use sqlite:<file> or postgres://…`);
  }
  return { kind: 'sqlite', path: resolve(url) };
}

/** The file of a `sqlite:` URL (or a bare path), for a program that keeps its state only in SQLite. */
export function sqliteFileFromUrl(url: string): string {
  const location = parseDatabaseUrl(url);
  if (location.kind !== 'sqlite')
    throw new TypeError('this database URL is PostgreSQL; the sandbox keeps its state in SQLite: use sqlite:<file>');
  return location.path;
}
