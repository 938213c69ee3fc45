import type { Command } from 'commander';
import { openStore } from '../../store/index.js';
import { CliError } from '../errors.js';
import { dbOption } from '../options.js';

export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply database schema migrations (serve also does this on start)')
    .addOption(dbOption())
    .action(async (opts: { db: string }) => {
      let store;
      try {
        store = await openStore(opts.db, { migrate: false });
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
