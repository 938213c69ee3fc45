import { Option, type Command } from 'commander';
import { isRfc3339DateTime } from '../../contract/index.js';
import { DELIVERY_STATES, type DeliveryState } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption, jsonOption } from '../options.js';
import { withStore } from '../with-store.js';
import { sourceOption } from './transactions.js';

function instant(value: string, flag: string): Date {
  if (!isRfc3339DateTime(value))
    throw new CliError(`${flag} must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z, got "${value}"`);
  return new Date(value);
}

export function register(program: Command): void {
  const command = program
    .command('replay')
    .description('re-queue outbox deliveries (the running dispatcher picks them up); filters combine')
    .addOption(dbOption())
    .addOption(jsonOption())
    .option('--from <date-time>', 'events received at or after this instant')
    .option('--to <date-time>', 'events received before this instant')
    .option('--event-type <type>', 'only this event type')
    .option('--transaction <docvTransactionId>', 'only this transaction')
    .addOption(sourceOption("only this source's events (with --transaction: that source's transaction of the id)"))
    .option('--destination <name>', 'only this destination (see `docv-webhooks destinations list`)')
    .addOption(new Option('--state <state>', 'only deliveries in this state, e.g. dead').choices([...DELIVERY_STATES]));
  addExamples(command, [
    { say: 'every dead delivery, once more with a fresh attempt budget', run: 'docv-webhooks replay --state dead' },
    { say: "one source's dead deliveries", run: 'docv-webhooks replay --source sandbox --state dead' },
    {
      say: "a day's events, to one destination again",
      run: 'docv-webhooks replay --destination forward:127.0.0.1:8080/docv --from 2026-03-01T00:00:00Z --to 2026-03-02T00:00:00Z',
    },
  ]).action(
    async (opts: {
      db: string;
      json?: boolean;
      from?: string;
      to?: string;
      eventType?: string;
      transaction?: string;
      source?: string;
      destination?: string;
      state?: DeliveryState;
    }) => {
      const filter = {
        source: opts.source,
        from: opts.from ? instant(opts.from, '--from') : undefined,
        to: opts.to ? instant(opts.to, '--to') : undefined,
        eventType: opts.eventType,
        docvTransactionId: opts.transaction,
        destination: opts.destination,
        state: opts.state,
      };
      await withStore(
        opts.db,
        async (store) => {
          const requeued = await store.replay(filter);
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ requeued })}\n`
              : `re-queued ${requeued} deliver${requeued === 1 ? 'y' : 'ies'}\n`,
          );
        },
        { readonly: false },
      );
    },
  );
}
