import { Option, type Command } from 'commander';
import { storedForwardUrl } from '../../dispatch/index.js';
import { shownDestination, subscriptionProblem, subscriptionWords } from '../../server/destination-view.js';
import type { DestinationState, StoredDestination } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { collect, dbOption, jsonOption } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';
import { parseSourceName } from './transactions.js';

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function table(items: StoredDestination[]): string {
  const rows = items.map((d) => ({
    ...d,
    signed: d.signed ? 'yes' : '-',
    credentials: d.urlCredentials ? 'in flags' : '-',
    takes: subscriptionWords(d.subscription),
  }));
  return formatTable(rows, ['name', 'kind', 'state', 'url', 'signed', 'credentials', 'takes', 'updatedAt'], 60);
}

/** What running processes do with the change: said after every change, since nothing restarts. */
const FOLLOWS = 'running receivers apply it from their next commit, running workers within about 2 s';

/** A database written by the release before destinations existed, opened read-only (so not migrated). */
async function listed(store: { listDestinations(): Promise<StoredDestination[]> }): Promise<StoredDestination[]> {
  try {
    return await store.listDestinations();
  } catch (err) {
    if (/no such table|does not exist/i.test((err as Error).message)) {
      throw new CliError(
        'this database has no destinations table yet: run `docv-webhooks migrate --db <url>` (serve and worker also do it on start)',
      );
    }
    throw err;
  }
}

export function register(program: Command): void {
  const destinations = program
    .command('destinations')
    .description('where events go: kept in the store, shared by every serve and worker on it');
  addExamples(destinations, [
    { say: 'where events go now', run: 'docv-webhooks destinations list' },
    {
      say: 'forward every event to your service from now on',
      run: 'docv-webhooks destinations add http://127.0.0.1:8080/docv',
    },
  ]);

  const list = destinations
    .command('list')
    .description('every destination, active or disabled')
    .addOption(dbOption())
    .addOption(jsonOption());
  addExamples(list, [
    { say: 'the destinations of ./data/docv-webhooks.db', run: 'docv-webhooks destinations list' },
    {
      say: 'of a PostgreSQL store, as JSON',
      run: "docv-webhooks destinations list --db 'postgres://docv:docv@127.0.0.1:5432/docv?schema=docv' --json",
    },
  ]);
  list.action(async (opts: { db: string; json?: boolean }) => {
    await withStore(opts.db, async (store) => {
      const items = (await listed(store)).map(shownDestination);
      if (opts.json) return print(JSON.stringify({ items }));
      if (items.length === 0)
        return print(
          'no destinations yet: add one with `docv-webhooks destinations add <url>`, or start serve/worker with --forward-url',
        );
      print(table(items));
    });
  });

  const add = destinations
    .command('add')
    .description(
      'forward every event to this URL from now on (user:password in it stay out of the store: only processes given the URL deliver it)',
    )
    .argument('<url>', 'http(s) URL of your service, or a broker URL (amqp(s)://, nats://, redis(s)://)')
    .option('--signed', 'deliveries must be signed: only processes with --forward-signing-secret deliver it')
    .addOption(
      new Option('--source <name>', 'only events of this source; repeat for several (default: every source)').argParser(
        (value: string, previous: string[] | undefined) => collect(parseSourceName(value), previous),
      ),
    )
    .addOption(
      new Option(
        '--event-type <type>',
        'only events of this type, e.g. VERIFICATION_COMPLETED; repeat for several (default: every type)',
      ).argParser(collect),
    )
    .addOption(dbOption())
    .addOption(jsonOption());
  addExamples(add, [
    { say: 'forward every event to your service', run: 'docv-webhooks destinations add http://127.0.0.1:8080/docv' },
    {
      say: 'delivered only by processes that sign (serve or worker with --forward-signing-secret)',
      run: 'docv-webhooks destinations add https://onboarding.internal/docv --signed',
    },
    {
      say: 'only the completed verifications of two sources (adding the URL again replaces its subscription)',
      run: 'docv-webhooks destinations add https://risk.internal/docv --source sandbox --source prod --event-type VERIFICATION_COMPLETED',
    },
  ]);
  add.action(
    async (
      url: string,
      opts: { db: string; json?: boolean; signed?: boolean; source?: string[]; eventType?: string[] },
    ) => {
      let forward;
      try {
        forward = storedForwardUrl(url);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      // A flag repeated with the same value names it once.
      const subscription = {
        sources: opts.source ? [...new Set(opts.source)] : null,
        eventTypes: opts.eventType ? [...new Set(opts.eventType)] : null,
      };
      const bad = subscriptionProblem(subscription);
      if (bad !== null)
        throw new CliError(bad.replace(/^sources:/, '--source:').replace(/^eventTypes:/, '--event-type:'));
      await withStore(
        opts.db,
        async (store) => {
          const { destination, outcome } = await store.addDestination(
            {
              ...forward,
              kind: 'forward',
              signed: opts.signed === true,
              subscription,
            },
            'replace',
          );
          if (opts.json) return print(JSON.stringify({ outcome, destination: shownDestination(destination) }));
          print(`${outcome} ${destination.name} (${destination.state}); ${FOLLOWS}`);
          if (destination.subscription !== null)
            print(`it takes ${subscriptionWords(destination.subscription)}, and passes over the other events`);
          if (destination.state === 'disabled')
            print(`it stays disabled: docv-webhooks destinations enable ${destination.name}`);
        },
        { readonly: false },
      );
    },
  );

  const setState = (verb: 'disable' | 'enable', state: DestinationState, description: string) =>
    addExamples(
      destinations
        .command(verb)
        .description(description)
        .argument('<name>', 'as `docv-webhooks destinations list` shows it, e.g. forward:onboarding.internal/docv')
        .addOption(dbOption())
        .addOption(jsonOption()),
      [
        {
          say: `${verb} a destination by the name destinations list shows`,
          run: `docv-webhooks destinations ${verb} forward:127.0.0.1:8080/docv`,
        },
      ],
    ).action(async (name: string, opts: { db: string; json?: boolean }) => {
      await withStore(
        opts.db,
        async (store) => {
          const destination = await store.setDestinationState(name, state);
          if (!destination)
            throw new CliError(
              `no destination ${JSON.stringify(name)}; \`docv-webhooks destinations list\` shows them`,
            );
          if (opts.json) return print(JSON.stringify(shownDestination(destination)));
          print(`${destination.name} is ${state}; ${FOLLOWS}`);
        },
        { readonly: false },
      );
    });
  setState(
    'disable',
    'disabled',
    'no new deliveries for it; those it has wait in the outbox, not attempted, until it is enabled',
  );
  setState('enable', 'active', 'deliver to it again, the deliveries that waited first');
}
