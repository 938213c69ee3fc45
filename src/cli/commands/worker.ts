import { Option, type Command } from 'commander';
import { startWorker, type RunningWorker } from '../../server/index.js';
import { CliError } from '../errors.js';
import { dbOption } from '../options.js';
import { addDispatchOptions, receiverOptionsFromFlags, type ReceiverFlags } from '../receiver-options.js';

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description('run the outbox dispatch alone (beside `serve --no-dispatch` on the same store)')
    .addOption(dbOption())
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').env('LOG_LEVEL').default('info'));
  addDispatchOptions(command);
  command.action(async (opts: ReceiverFlags & { db: string; logLevel: string }) => {
    let worker: RunningWorker;
    try {
      const fromFlags = receiverOptionsFromFlags(opts);
      worker = await startWorker({ ...fromFlags, db: opts.db, logLevel: opts.logLevel, prettyLogs: process.stdout.isTTY === true });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    process.stdout.write(`docv-webhooks worker ${worker.dispatcher.workerId} delivering to ${worker.destinations.join(', ')}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        worker.close().then(resolve, (err: unknown) => {
          worker.logger.error({ err }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        });
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  });
}
