import type { Command } from 'commander';
import { openStore } from '../../store/index.js';
import { encryptionKeysFromFlags } from '../encryption-options.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption } from '../options.js';

export function register(program: Command): void {
  const command = program
    .command('migrate')
    .description('apply database schema migrations (serve also does this on start)')
    .addOption(dbOption());
  addExamples(command, [
    { say: 'the embedded SQLite store, ./data/docv-webhooks.db', run: 'docv-webhooks migrate' },
    {
      say: 'a PostgreSQL schema, before rolling out new instances',
      run: "docv-webhooks migrate --db 'postgres://docv:docv@127.0.0.1:5432/docv?schema=docv'",
    },
  ]).action(async (opts: { db: string }) => {
    let store;
    try {
      // The keys too: opening checks that every key rows are sealed with is configured.
      const encryption = encryptionKeysFromFlags({});
      store = await openStore(opts.db, { migrate: false, ...(encryption ? { encryption } : {}) });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    try {
      const applied = await store.migrate();
      process.stdout.write(applied.length ? `applied migrations ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await store.close();
    }
  });
}
