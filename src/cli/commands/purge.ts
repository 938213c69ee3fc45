import { Option, type Command } from 'commander';
import { eraseCustomer, ERASURE_BATCH } from '../../store/erasure.js';
import type { ErasureRecord } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption, jsonOption } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';

interface PurgeOptions {
  db: string;
  customerUserId?: string;
  list?: boolean;
  json?: boolean;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function countsText(r: ErasureRecord): string {
  const c = r.counts;
  return `${c.events} events, ${c.transactions} transactions, ${c.deliveries} deliveries, ${c.attempts} attempts, ${c.decisions} decisions, ${c.quarantine} quarantined bodies`;
}

export function register(program: Command): void {
  const command = program
    .command('purge')
    .description(
      "erase one person's data (an erasure request) across events, transactions, deliveries and quarantine, and record that it was done",
    )
    .addOption(new Option('--customer-user-id <id>', 'whose data to erase (with --list: only the erasures of this id)'))
    .option('--list', 'list the erasures carried out (when, counts, a salted hash of the id: never the id)')
    .addOption(dbOption())
    .addOption(jsonOption());
  addExamples(command, [
    { say: "erase one customer's data", run: 'docv-webhooks purge --customer-user-id 7f3c9a' },
    { say: 'was this customer erased? (an auditor)', run: 'docv-webhooks purge --list --customer-user-id 7f3c9a' },
  ]);
  command.action(async (opts: PurgeOptions) => {
    if (opts.list) {
      const page = await withStore(
        opts.db,
        (store) =>
          store.listErasures({
            limit: 500,
            ...(opts.customerUserId !== undefined ? { customerUserId: opts.customerUserId } : {}),
          }),
        { readonly: false },
      );
      if (opts.json) return print(JSON.stringify(page.items, null, 2));
      if (page.items.length === 0)
        return print(opts.customerUserId !== undefined ? 'no erasure of that customer user id' : 'no erasures');
      return print(
        formatTable(
          page.items.map((r) => ({ ...r, counts: countsText(r), customerHash: r.customerHash.slice(0, 16) })),
          ['erasureId', 'at', 'customerHash', 'counts'],
          120,
        ),
      );
    }
    if (opts.customerUserId === undefined || opts.customerUserId === '')
      throw new CliError('purge needs --customer-user-id <id> (or --list)');
    const customer = opts.customerUserId;
    const record = await withStore(
      opts.db,
      (store) => eraseCustomer(store, customer, { batch: ERASURE_BATCH, pauseMs: 10 }),
      {
        readonly: false,
      },
    );
    if (opts.json) return print(JSON.stringify(record, null, 2));
    print(`erased: ${countsText(record)}`);
    print(`recorded as ${record.erasureId} at ${record.at} (the customer user id is kept only as a salted hash)`);
  });
}
