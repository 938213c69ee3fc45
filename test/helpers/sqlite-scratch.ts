import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { tempDir } from './receiver.js';

export interface Closable {
  close(): Promise<void>;
}

/**
 * Temporary SQLite files for a suite. Registers the afterEach that closes every kept store, then
 * removes every directory made (closing first: SQLite removes its WAL on the last close).
 */
export function sqliteScratch(prefix: string): {
  dir(): string;
  path(): string;
  keep<T extends Closable>(store: T): T;
} {
  const dirs: string[] = [];
  const stores: Closable[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dir = () => {
    const made = tempDir(prefix);
    dirs.push(made);
    return made;
  };
  return {
    dir,
    path: () => join(dir(), 'receiver.db'),
    keep: (store) => {
      stores.push(store);
      return store;
    },
  };
}
