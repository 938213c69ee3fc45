import { Option, type Command } from 'commander';
import { CANONICAL_DECISIONS, type CanonicalDecision } from '../../contract/index.js';
import { TRANSACTION_STATUSES } from '../../lifecycle/index.js';
import { MAX_PAGE_LIMIT } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption, jsonOption, parsePositiveInt } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';

interface ListOptions {
  db: string;
  json?: boolean;
  status?: string;
  decision?: CanonicalDecision;
  customerUserId?: string;
  limit: number;
  cursor?: string;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function limitOption(): Option {
  return new Option('--limit <n>', `rows per page (at most ${MAX_PAGE_LIMIT})`).default(50).argParser((v) => {
    const n = parsePositiveInt(v);
    if (n > MAX_PAGE_LIMIT) throw new CliError(`--limit must be at most ${MAX_PAGE_LIMIT}`);
    return n;
  });
}

export function register(program: Command): void {
  const transactions = program.command('transactions').description('inspect DocV transactions in the store');
  addExamples(transactions, [
    { say: 'the rejected ones, newest first', run: 'docv-webhooks transactions list --decision reject' },
    { say: "one transaction's lifecycle and events", run: 'docv-webhooks transactions show demo-1' },
  ]);

  const list = transactions
    .command('list')
    .description('list transactions, newest first')
    .addOption(dbOption())
    .addOption(jsonOption())
    .addOption(new Option('--status <eventType>', 'only this status').choices([...TRANSACTION_STATUSES]))
    .addOption(new Option('--decision <decision>', 'only this decision').choices([...CANONICAL_DECISIONS]))
    .option('--customer-user-id <id>', 'only this customerUserId')
    .addOption(limitOption())
    .option('--cursor <cursor>', 'continue after a previous page');
  addExamples(list, [
    { say: 'the newest 50', run: 'docv-webhooks transactions list' },
    {
      say: 'completed and rejected, as JSON for a script',
      run: 'docv-webhooks transactions list --status VERIFICATION_COMPLETED --decision reject --json',
    },
    { say: "one end user's transactions", run: 'docv-webhooks transactions list --customer-user-id user-42' },
  ]);
  list.action(async (opts: ListOptions) => {
    await withStore(opts.db, async (store) => {
      const page = await store.listTransactions({
        limit: opts.limit,
        cursor: opts.cursor,
        status: opts.status,
        decision: opts.decision,
        customerUserId: opts.customerUserId,
      });
      if (opts.json) return print(JSON.stringify(page));
      const rows = page.items.map((t) => ({ ...t, anomalies: t.anomalies.map((a) => a.code) }));
      print(
        formatTable(rows, [
          'docvTransactionId',
          'status',
          'decision',
          'customerUserId',
          'eventCount',
          'lastEventAt',
          'anomalies',
        ]),
      );
      if (page.nextCursor) print(`\nmore: --cursor ${page.nextCursor}`);
    });
  });

  const show = transactions
    .command('show')
    .description('one transaction: its lifecycle and its events in eventTime order')
    .argument('<docvTransactionId>')
    .addOption(dbOption())
    .addOption(jsonOption());
  addExamples(show, [
    { say: 'the transaction of the quick start (README)', run: 'docv-webhooks transactions show demo-1' },
    { say: 'as JSON, events and anomalies included', run: 'docv-webhooks transactions show demo-1 --json' },
  ]);
  show.action(async (id: string, opts: { db: string; json?: boolean }) => {
    await withStore(opts.db, async (store) => {
      const view = await store.getTransaction(id);
      if (!view) throw new CliError(`no transaction ${JSON.stringify(id)}`);
      if (opts.json) return print(JSON.stringify(view));
      const { events, anomalies, ...lifecycle } = view;
      for (const [k, v] of Object.entries(lifecycle)) print(`${k.padEnd(18)} ${v ?? '-'}`);
      print(`${'anomalies'.padEnd(18)} ${anomalies.length ? anomalies.map((a) => a.message).join('; ') : '-'}`);
      print('');
      print(
        formatTable(
          events as unknown as Array<Record<string, unknown>>,
          ['eventId', 'eventType', 'eventTime', 'decision', 'receivedAt'],
          60,
        ),
      );
    });
  });
}
