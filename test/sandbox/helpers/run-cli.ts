/**
 * Runs the sandbox's CLI commands in a real process, the way bin.ts does, but loading only those
 * commands: their tests then do not depend on the rest of the CLI being importable.
 */
import { Command, CommanderError } from 'commander';
import { CliError } from '../../../src/cli/errors.js';

const program = new Command('docv-webhooks').exitOverride();
for (const load of [
  () => import('../../../src/cli/commands/sandbox.js'),
  () => import('../../../src/cli/commands/simulate.js'),
  () => import('../../../src/cli/commands/trigger.js'),
  () => import('../../../src/cli/commands/deliveries.js'),
]) {
  (await load()).register(program);
}
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else {
    process.stderr.write(`docv-webhooks: ${(err as Error).message}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
