import { Command, CommanderError } from 'commander';
import { redactUrl } from '../auth/redact-url.js';
import { CliError } from './errors.js';
import { addExamples, configureHelp } from './help.js';
import { packageVersion } from './version.js';

/** Each command lives in its own file under commands/ and adds itself to the program. */
const COMMANDS: Array<() => Promise<{ register(program: Command): void }>> = [
  () => import('./commands/serve.js'),
  () => import('./commands/validate.js'),
  () => import('./commands/transactions.js'),
  () => import('./commands/events.js'),
  () => import('./commands/migrate.js'),
  () => import('./commands/worker.js'),
  () => import('./commands/replay.js'),
  () => import('./commands/sandbox.js'),
  () => import('./commands/simulate.js'),
  () => import('./commands/trigger.js'),
  () => import('./commands/deliveries.js'),
  () => import('./commands/quarantine.js'),
  () => import('./commands/destinations.js'),
  () => import('./commands/sources.js'),
  () => import('./commands/rekey.js'),
  () => import('./commands/purge.js'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('docv-webhooks')
    .description('Receive, inspect and simulate Socure DocV webhooks')
    .version(packageVersion(), '-V, --version', 'print the version of docv-webhooks')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  configureHelp(program);
  // commander quotes a rejected argument in its error ("argument 'https://user:pass@…' is
  // invalid"): URLs in it lose their credentials. Set before the commands exist, which inherit it.
  program.configureOutput({ outputError: (text, write) => write(redactUrl(text)) });
  for (const load of COMMANDS) (await load()).register(program);
  return addExamples(program, [
    {
      say: 'the receiver on embedded SQLite (./data/docv-webhooks.db), on http://127.0.0.1:3000',
      run: 'docv-webhooks serve',
    },
    { say: 'the transactions it has seen, newest first', run: 'docv-webhooks transactions list' },
    {
      say: 'send it one event, as Socure would',
      run: 'docv-webhooks trigger APP_OPENED --target http://127.0.0.1:3000/socure/docv/webhook',
    },
  ]);
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    // Whatever a command failed on, a URL it quotes loses its credentials (--forward-url, --db,
    // SOCURE_BASE_URL, a pg or fetch error): the message is for a terminal and its scrollback.
    if (err instanceof CliError) {
      process.stderr.write(`docv-webhooks: ${redactUrl(err.message)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`docv-webhooks: ${redactUrl((err as Error).message ?? String(err))}\n`);
    return 1;
  }
}
