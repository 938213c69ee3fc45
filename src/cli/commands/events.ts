import { Option, type Command } from 'commander';
import { DIALECTS, type Dialect } from '../../contract/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption, jsonOption } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';
import { limitOption, sourceOption } from './transactions.js';

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function register(program: Command): void {
  const events = program.command('events').description('inspect stored DocV events');
  addExamples(events, [
    { say: "one transaction's events, newest first", run: 'docv-webhooks events list --transaction demo-1' },
    {
      say: 'one event with its payload and headers (ids from events list)',
      run: 'docv-webhooks events show evt_06h4j2ha827yw9gnhr5fqdravr',
    },
  ]);

  const list = events
    .command('list')
    .description('list events, newest first')
    .addOption(dbOption())
    .addOption(jsonOption())
    .option(
      '--transaction <docvTransactionId>',
      'only this transaction (under every source, unless --source names one)',
    )
    .addOption(sourceOption())
    .option(
      '--event-type <type>',
      'only this event type (e.g. VERIFICATION_COMPLETED, evaluation_completed, TEST_WEBHOOK)',
    )
    .option('--evaluation <evalId>', 'only events of this RiskOS evaluation')
    .addOption(new Option('--dialect <name>', 'only events that came in this dialect').choices([...DIALECTS]))
    .addOption(limitOption())
    .option('--cursor <cursor>', 'continue after a previous page');
  addExamples(list, [
    { say: 'the newest 50 that came through one source', run: 'docv-webhooks events list --source sandbox' },
    { say: "one transaction's events", run: 'docv-webhooks events list --transaction demo-1' },
    {
      say: 'the completions that came in as Socure v5 notifications, as JSON',
      run: 'docv-webhooks events list --event-type VERIFICATION_COMPLETED --dialect socure-v5 --json',
    },
  ]);
  list.action(
    async (opts: {
      db: string;
      json?: boolean;
      transaction?: string;
      source?: string;
      eventType?: string;
      evaluation?: string;
      dialect?: Dialect;
      limit: number;
      cursor?: string;
    }) => {
      await withStore(opts.db, async (store) => {
        const page = await store.listEvents({
          limit: opts.limit,
          cursor: opts.cursor,
          docvTransactionId: opts.transaction,
          source: opts.source,
          eventType: opts.eventType,
          evaluationId: opts.evaluation,
          dialect: opts.dialect,
        });
        if (opts.json) return print(JSON.stringify(page));
        print(
          formatTable(page.items as unknown as Array<Record<string, unknown>>, [
            'eventId',
            'docvTransactionId',
            'source',
            'eventType',
            'dialect',
            'eventTime',
            'decision',
            'receivedAt',
          ]),
        );
        if (page.nextCursor) print(`\nmore: --cursor ${page.nextCursor}`);
      });
    },
  );

  const show = events
    .command('show')
    .description('one event with its exact payload and stored headers')
    .argument('<eventId>')
    .addOption(dbOption())
    .addOption(jsonOption());
  addExamples(show, [
    {
      say: 'one event (its id from events list), with its payload as received',
      run: 'docv-webhooks events show evt_06h4j2ha827yw9gnhr5fqdravr',
    },
    {
      say: 'as JSON, with the canonical reading of it',
      run: 'docv-webhooks events show evt_06h4j2ha827yw9gnhr5fqdravr --json',
    },
  ]);
  show.action(async (id: string, opts: { db: string; json?: boolean }) => {
    await withStore(opts.db, async (store) => {
      const event = await store.getEvent(id);
      if (!event) throw new CliError(`no event ${JSON.stringify(id)}`);
      if (opts.json) return print(JSON.stringify(event));
      const { payload: _payload, event: _canonical, rawBody, headers, ...summary } = event;
      for (const [k, v] of Object.entries(summary)) print(`${k.padEnd(18)} ${v ?? '-'}`);
      print('\nheaders:');
      for (const [k, v] of Object.entries(headers)) print(`  ${k}: ${v}`);
      print('\npayload (as received):');
      print(rawBody);
    });
  });
}
