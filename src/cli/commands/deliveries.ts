import { Command, Option } from 'commander';
import { DELIVERY_STATES, type DeliveryState, type Store } from '../../store/index.js';
import { CliError } from '../errors.js';
import { dbOption } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';
import { intArg, urlArg } from './sandbox.js';

interface DeliveriesFlags {
  sandbox?: string;
  apiKey?: string;
  db: string;
  state?: DeliveryState;
  destination?: string;
  cursor?: string;
  retry?: boolean;
  transaction?: string;
  status?: string;
  limit: number;
  json?: boolean;
}

interface DeliveryRow {
  id: number;
  docvTransactionId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  nextAttemptAt?: string;
  copy: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

function table(rows: DeliveryRow[]): string {
  const header = ['ID', 'TRANSACTION', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT'];
  const lines = rows.map((r) => [
    String(r.id) + (r.copy > 1 ? '*' : ''),
    r.docvTransactionId,
    r.eventType,
    r.status,
    String(r.attempts),
    r.lastStatusCode !== undefined ? String(r.lastStatusCode) : (r.lastError ?? '-'),
    r.nextAttemptAt ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function register(program: Command): void {
  program
    .command('deliveries')
    .description("the receiver's outbox deliveries (from --db), or with --sandbox a sandbox's webhook deliveries")
    .argument('[deliveryId]', 'show one outbox delivery with its attempts')
    .addOption(dbOption())
    .addOption(new Option('--state <state>', 'outbox: only deliveries in this state').choices([...DELIVERY_STATES]))
    .option('--destination <name>', 'outbox: only this destination')
    .option('--cursor <cursor>', 'outbox: continue after a previous page')
    .option('--retry', 'outbox: make the given delivery due now with a fresh attempt budget')
    .addOption(new Option('--sandbox <url>', 'base URL of a sandbox: list its deliveries instead').env('DOCV_SANDBOX_URL').argParser(urlArg))
    .addOption(new Option('--api-key <key>', "the sandbox's API key").env('DOCV_SANDBOX_API_KEY'))
    .option('--transaction <id>', 'only this docvTransactionId')
    .addOption(new Option('--status <status>', 'sandbox: only deliveries in this state').choices(['held', 'pending', 'in_flight', 'delivered', 'failed', 'gone']))
    .addOption(new Option('--limit <n>', 'at most this many').argParser(intArg(1, 500)).default(100))
    .option('--json', 'print JSON for scripts')
    .action(async (deliveryId: string | undefined, flags: DeliveriesFlags) => {
      if (!flags.sandbox) return outbox(deliveryId, flags);
      if (!flags.apiKey) throw new CliError('--api-key (DOCV_SANDBOX_API_KEY) is required with --sandbox');
      const sandboxUrl = flags.sandbox;
      const url = new URL('/sandbox/deliveries', sandboxUrl);
      if (flags.transaction) url.searchParams.set('transaction', flags.transaction);
      if (flags.status) url.searchParams.set('status', flags.status);
      url.searchParams.set('limit', String(flags.limit));
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { authorization: `SocureApiKey ${flags.apiKey}` },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        throw new CliError(`cannot reach the sandbox at ${sandboxUrl}: ${(err as Error).message}`);
      }
      const text = await res.text();
      if (!res.ok) {
        let detail = text.slice(0, 300);
        try {
          detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
        } catch {
          // not problem+json
        }
        throw new CliError(`the sandbox answered ${res.status}: ${detail}`);
      }
      if (flags.json) {
        process.stdout.write(`${text}\n`);
        return;
      }
      const body = JSON.parse(text) as { deliveries: DeliveryRow[]; counts: Record<string, number> };
      process.stdout.write(`${table(body.deliveries)}\n`);
      const counts = Object.entries(body.counts).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stdout.write(`(${body.deliveries.length} shown; all deliveries: ${counts || 'none'}; * marks a chaos duplicate)\n`);
    });
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** The receiver's outbox, read from the same store as the server. */
async function outbox(deliveryId: string | undefined, flags: DeliveriesFlags): Promise<void> {
  if (flags.retry && !deliveryId) throw new CliError('--retry needs a delivery id: docv-webhooks deliveries <deliveryId> --retry');
  await withStore(
    flags.db,
    async (store: Store) => {
      if (deliveryId && flags.retry) {
        const delivery = await store.retryDelivery(deliveryId);
        if (!delivery) throw new CliError(`no delivery ${JSON.stringify(deliveryId)}`);
        return print(flags.json ? JSON.stringify(delivery) : `re-queued ${deliveryId} (${delivery.destination}); the running dispatcher picks it up`);
      }
      if (deliveryId) {
        const view = await store.getDelivery(deliveryId);
        if (!view) throw new CliError(`no delivery ${JSON.stringify(deliveryId)}`);
        if (flags.json) return print(JSON.stringify(view));
        const { history, ...delivery } = view;
        for (const [k, v] of Object.entries(delivery)) print(`${k.padEnd(18)} ${v ?? '-'}`);
        print('');
        print(formatTable(history as unknown as Array<Record<string, unknown>>, ['attempt', 'startedAt', 'durationMs', 'outcome', 'status', 'error'], 80));
        return;
      }
      const page = await store.listDeliveries({
        limit: flags.limit,
        cursor: flags.cursor,
        state: flags.state,
        destination: flags.destination,
        docvTransactionId: flags.transaction,
      });
      if (flags.json) return print(JSON.stringify(page));
      print(formatTable(page.items as unknown as Array<Record<string, unknown>>, ['deliveryId', 'destination', 'eventType', 'docvTransactionId', 'state', 'attempts', 'lastStatus', 'nextAttemptAt']));
      if (page.nextCursor) print(`\nmore: --cursor ${page.nextCursor}`);
    },
    { readonly: !flags.retry },
  );
}
