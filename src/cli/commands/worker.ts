import { Option, type Command } from 'commander';
import { startWorker, type RunningWorker } from '../../server/index.js';
import { CliError } from '../errors.js';
import { dbOption, parsePort } from '../options.js';
import { addDispatchOptions, adminTokenOption, receiverOptionsFromFlags, type ReceiverFlags } from '../receiver-options.js';

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description('run the outbox dispatch alone (beside `serve --no-dispatch` on the same store)')
    .addOption(dbOption())
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').env('LOG_LEVEL').default('info'))
    .addOption(new Option('--metrics-port <port>', 'serve /healthz, /readyz and /metrics on this port (0: any free one)').env('DOCV_WORKER_METRICS_PORT').argParser(parsePort))
    .addOption(new Option('--metrics-host <host>', 'address for --metrics-port; beyond loopback it needs --admin-token').env('DOCV_WORKER_METRICS_HOST').default('127.0.0.1'))
    .addOption(adminTokenOption());
  addDispatchOptions(command);
  command.action(async (opts: ReceiverFlags & { db: string; logLevel: string; metricsPort?: number; metricsHost: string }) => {
    let worker: RunningWorker;
    try {
      const fromFlags = receiverOptionsFromFlags(opts);
      worker = await startWorker({
        ...fromFlags,
        db: opts.db,
        logLevel: opts.logLevel,
        prettyLogs: process.stdout.isTTY === true,
        metricsPort: opts.metricsPort,
        metricsHost: opts.metricsHost,
      });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    process.stdout.write(`docv-webhooks worker ${worker.dispatcher.workerId} delivering to ${worker.destinations.join(', ')}\n`);
    if (worker.url) process.stdout.write(`  health and metrics      ${worker.url}/healthz  ${worker.url}/readyz  ${worker.url}/metrics\n`);
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
