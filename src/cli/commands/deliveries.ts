import { Command, Option } from 'commander';
import { DELIVERY_STATES, type DeliveryState, type Store } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';
import { intArg, urlArg } from './sandbox.js';
import { sandboxDeliveries } from './sandbox-deliveries.js';
import { sourceOption } from './transactions.js';

interface DeliveriesFlags {
  sandbox?: string;
  apiKey?: string;
  db: string;
  state?: DeliveryState;
  destination?: string;
  cursor?: string;
  retry?: boolean;
  cancel?: boolean;
  transaction?: string;
  source?: string;
  status?: string;
  limit: number;
  json?: boolean;
}

/** Outbox attempt durations for people and scripts alike: to 0.1 ms, not the float a subtraction leaves. */
function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export function register(program: Command): void {
  const command = program
    .command('deliveries')
    .description("the receiver's outbox deliveries (from --db), or with --sandbox a sandbox's webhook deliveries")
    .argument('[deliveryId]', 'show one delivery with its attempts')
    .addOption(dbOption())
    .addOption(new Option('--state <state>', 'outbox: only deliveries in this state').choices([...DELIVERY_STATES]))
    .option('--destination <name>', 'outbox: only this destination')
    .option('--cursor <cursor>', 'outbox: continue after a previous page')
    .option('--retry', 'make the given delivery due now with a fresh attempt budget')
    .option('--cancel', "sandbox: no more attempts for the given delivery; its transaction's later deliveries go on")
    .addOption(
      new Option('--sandbox <url>', 'base URL of a sandbox: its deliveries instead of the outbox')
        .env('DOCV_SANDBOX_URL')
        .argParser(urlArg),
    )
    .addOption(new Option('--api-key <key>', "the sandbox's API key").env('DOCV_SANDBOX_API_KEY'))
    .option('--transaction <id>', 'only this docvTransactionId')
    .addOption(sourceOption("outbox: only deliveries of this source's events"))
    .addOption(
      new Option('--status <status>', 'sandbox: only deliveries in this state').choices([
        'held',
        'pending',
        'in_flight',
        'delivered',
        'failed',
        'gone',
        'rejected',
        'cancelled',
      ]),
    )
    .addOption(new Option('--limit <n>', 'at most this many').argParser(intArg(1, 500)).default(100))
    .option('--json', 'print JSON for scripts');
  addExamples(command, [
    {
      say: "the receiver's dead deliveries of one source's events, those that ran out of attempts",
      run: 'docv-webhooks deliveries --state dead --source sandbox',
    },
    {
      say: 'one delivery (its id from the list) due again now, with a fresh attempt budget',
      run: 'docv-webhooks deliveries dlv_06h4j2ha83fa39waasce7xkftg --retry',
    },
    {
      say: "a sandbox's webhook deliveries, and what each waits for",
      run: 'docv-webhooks deliveries --sandbox http://127.0.0.1:4010 --api-key dev',
    },
  ]).action(async (deliveryId: string | undefined, flags: DeliveriesFlags) => {
    if (flags.sandbox) {
      if (flags.source !== undefined)
        throw new CliError("--source filters the receiver's outbox; a sandbox's deliveries have no source");
      return sandboxDeliveries(deliveryId, { ...flags, sandbox: flags.sandbox });
    }
    if (flags.cancel)
      throw new CliError(
        '--cancel is for sandbox deliveries (--sandbox URL); an outbox delivery is retried or left dead',
      );
    return outbox(deliveryId, flags);
  });
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** The receiver's outbox, read from the same store as the server. */
async function outbox(deliveryId: string | undefined, flags: DeliveriesFlags): Promise<void> {
  if (flags.retry && !deliveryId)
    throw new CliError('--retry needs a delivery id: docv-webhooks deliveries <deliveryId> --retry');
  await withStore(
    flags.db,
    async (store: Store) => {
      if (deliveryId && flags.retry) {
        const delivery = await store.retryDelivery(deliveryId);
        if (!delivery) throw new CliError(`no delivery ${JSON.stringify(deliveryId)}`);
        return print(
          flags.json
            ? JSON.stringify(delivery)
            : `re-queued ${deliveryId} (${delivery.destination}); the running dispatcher picks it up`,
        );
      }
      if (deliveryId) {
        const found = await store.getDelivery(deliveryId);
        if (!found) throw new CliError(`no delivery ${JSON.stringify(deliveryId)}`);
        const view = { ...found, history: found.history.map((a) => ({ ...a, durationMs: roundMs(a.durationMs) })) };
        if (flags.json) return print(JSON.stringify(view));
        const { history, ...delivery } = view;
        for (const [k, v] of Object.entries(delivery)) print(`${k.padEnd(18)} ${v ?? '-'}`);
        print('');
        print(
          formatTable(
            history as unknown as Array<Record<string, unknown>>,
            ['attempt', 'startedAt', 'durationMs', 'outcome', 'status', 'error'],
            80,
          ),
        );
        return;
      }
      const page = await store.listDeliveries({
        limit: flags.limit,
        cursor: flags.cursor,
        state: flags.state,
        destination: flags.destination,
        docvTransactionId: flags.transaction,
        source: flags.source,
      });
      if (flags.json) return print(JSON.stringify(page));
      print(
        formatTable(page.items as unknown as Array<Record<string, unknown>>, [
          'deliveryId',
          'destination',
          'eventType',
          'docvTransactionId',
          'source',
          'state',
          'attempts',
          'lastStatus',
          'nextAttemptAt',
        ]),
      );
      if (page.nextCursor) print(`\nmore: --cursor ${page.nextCursor}`);
    },
    { readonly: !flags.retry },
  );
}
