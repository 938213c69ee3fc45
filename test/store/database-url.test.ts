import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl, sqliteFileFromUrl } from '../../src/store/database-url.js';

describe('database URLs (one reader for the receiver and the sandbox)', () => {
  it('reads sqlite: URLs, bare paths and PostgreSQL URLs', () => {
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseDatabaseUrl('sqlite:./data/x.db')).toEqual({ kind: 'sqlite', path: resolve('./data/x.db') });
    expect(parseDatabaseUrl('sqlite:///tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(parseDatabaseUrl('data/x.db')).toEqual({ kind: 'sqlite', path: resolve('data/x.db') });
    expect(parseDatabaseUrl('postgres://u@h/db')).toEqual({ kind: 'postgres', url: 'postgres://u@h/db' });
    expect(() => parseDatabaseUrl('sqlite:')).toThrow(/names no file/);
    expect(() => parseDatabaseUrl('mysql://h/db')).toThrow(/unsupported database URL "mysql:…"/);
  });

  it('gives the sandbox its SQLite file, and refuses a PostgreSQL URL instead of taking it for a file name', () => {
    expect(sqliteFileFromUrl('sqlite::memory:')).toBe(':memory:');
    expect(sqliteFileFromUrl('sqlite:sandbox.db')).toBe(resolve('sandbox.db'));
    expect(() => sqliteFileFromUrl('postgresql://u@h/db')).toThrow(/keeps its state in SQLite/);
  });
});
