import { Command, CommanderError } from 'commander';
import { CliError } from './errors.js';

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
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('docv-webhooks')
    .description('Receive, inspect and simulate Socure DocV webhooks')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const load of COMMANDS) (await load()).register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      process.stderr.write(`docv-webhooks: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`docv-webhooks: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

