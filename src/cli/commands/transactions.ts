import { InvalidArgumentError, Option, type Command } from 'commander';
import { CANONICAL_DECISIONS, sourceNameProblem, type CanonicalDecision } from '../../contract/index.js';
import { TRANSACTION_STATUSES } from '../../lifecycle/index.js';
import { AmbiguousTransactionError, MAX_PAGE_LIMIT } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption, jsonOption, parsePositiveInt } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';

interface ListOptions {
  db: string;
  json?: boolean;
  source?: string;
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

/** A source name from the command line, checked against the naming rule (contract/source.ts). */
export function parseSourceName(value: string): string {
  const why = sourceNameProblem(value);
  if (why !== null) throw new InvalidArgumentError(why);
  return value;
}

/** `--source <name>`: only what came through this source (the names `sources list` shows). */
export function sourceOption(description = 'only this source (as `docv-webhooks sources list` names it)'): Option {
  return new Option('--source <name>', description).argParser(parseSourceName);
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
    .addOption(sourceOption())
    .addOption(new Option('--status <eventType>', 'only this status').choices([...TRANSACTION_STATUSES]))
    .addOption(new Option('--decision <decision>', 'only this decision').choices([...CANONICAL_DECISIONS]))
    .option('--customer-user-id <id>', 'only this customerUserId')
    .addOption(limitOption())
    .option('--cursor <cursor>', 'continue after a previous page');
  addExamples(list, [
    { say: 'the newest 50', run: 'docv-webhooks transactions list' },
    {
      say: "the sandbox source's completed and rejected, as JSON for a script",
      run: 'docv-webhooks transactions list --source sandbox --status VERIFICATION_COMPLETED --decision reject --json',
    },
    { say: "one end user's transactions", run: 'docv-webhooks transactions list --customer-user-id user-42' },
  ]);
  list.action(async (opts: ListOptions) => {
    await withStore(opts.db, async (store) => {
      const page = await store.listTransactions({
        limit: opts.limit,
        cursor: opts.cursor,
        source: opts.source,
        status: opts.status,
        decision: opts.decision,
        customerUserId: opts.customerUserId,
      });
      if (opts.json) return print(JSON.stringify(page));
      const rows = page.items.map((t) => ({ ...t, anomalies: t.anomalies.map((a) => a.code) }));
      print(
        formatTable(rows, [
          'docvTransactionId',
          'source',
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
    .addOption(jsonOption())
    .addOption(
      sourceOption(
        "that source's transaction of this id (needed when several sources have one: the same id is a transaction per source)",
      ),
    );
  addExamples(show, [
    { say: 'the transaction of the quick start (README)', run: 'docv-webhooks transactions show demo-1' },
    { say: 'as JSON, events and anomalies included', run: 'docv-webhooks transactions show demo-1 --json' },
    {
      say: "the sandbox source's transaction of that id",
      run: 'docv-webhooks transactions show demo-1 --source sandbox',
    },
  ]);
  show.action(async (id: string, opts: { db: string; json?: boolean; source?: string }) => {
    await withStore(opts.db, async (store) => {
      let view;
      try {
        view = await store.getTransaction(id, opts.source);
      } catch (err) {
        if (!(err instanceof AmbiguousTransactionError)) throw err;
        throw new CliError(
          `transaction ${JSON.stringify(id)} exists under several sources (${err.sources.join(', ')}), a transaction under each: ` +
            `say which with --source, e.g. docv-webhooks transactions show ${id} --source ${err.sources[0]}`,
        );
      }
      if (!view)
        throw new CliError(
          `no transaction ${JSON.stringify(id)}${opts.source === undefined ? '' : ` under source ${opts.source}`}`,
        );
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
