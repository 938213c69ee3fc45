import { Option, type Command } from 'commander';
import { resolveReceiverConfig, startWorker, type ReceiverConfig, type RunningWorker } from '../../server/index.js';
import { addEncryptionOptions } from '../encryption-options.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { addRetentionOptions, retentionFromFlags, type RetentionFlags } from '../retention-options.js';
import { closeOnSignal } from '../shutdown.js';
import { reloadOnSignal } from '../reload-signal.js';
import { dbOption, logFormatOption, parsePort, prettyLogs } from '../options.js';
import {
  addConfigFileOption,
  addDispatchOptions,
  adminTokenOption,
  receiverOptionsFromFlags,
  withConfigFlag,
  type ReceiverFlags,
} from '../receiver-options.js';

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description('run the outbox dispatch alone (beside `serve --no-dispatch` on the same store)')
    .addOption(dbOption())
    .addOption(
      new Option('--log-level <level>', 'how much to log')
        .env('LOG_LEVEL')
        .default('info')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    )
    .addOption(
      new Option('--metrics-port <port>', 'serve /healthz, /readyz and /metrics on this port (0: any free one)')
        .env('DOCV_WORKER_METRICS_PORT')
        .argParser(parsePort),
    )
    .addOption(
      new Option('--metrics-host <host>', 'address for --metrics-port; beyond loopback it needs --admin-token')
        .env('DOCV_WORKER_METRICS_HOST')
        .default('127.0.0.1'),
    )
    .addOption(adminTokenOption())
    .addOption(logFormatOption());
  addDispatchOptions(command);
  addEncryptionOptions(command);
  addRetentionOptions(command);
  addConfigFileOption(command, "its destinations, retention and the sources' decision fetch and retention");
  addExamples(command, [
    {
      say: 'deliver the outbox of ./data/docv-webhooks.db, beside docv-webhooks serve --no-dispatch',
      run: 'docv-webhooks worker',
    },
    { say: 'with /healthz, /readyz and /metrics on port 9464', run: 'docv-webhooks worker --metrics-port 9464' },
    {
      say: 'one of several workers on a PostgreSQL database',
      run: "docv-webhooks worker --db 'postgres://docv:docv@127.0.0.1:5432/docv?schema=docv' --concurrency 32",
    },
  ]);
  command.action(
    async (
      opts: ReceiverFlags &
        RetentionFlags & {
          db: string;
          logLevel: string;
          logFormat?: string;
          metricsPort?: number;
          metricsHost: string;
        },
    ) => {
      // Read before the store opens: a policy it cannot read is refused as serve refuses it.
      const retention = retentionFromFlags(opts);
      let worker: RunningWorker;
      // The configuration of the flags and environment alone, kept apart from the config file's
      // parts: a SIGHUP applies the re-read file to this again.
      let flagsConfig: ReceiverConfig;
      try {
        // The flags shared with serve; of them a worker takes what dispatch and its metrics use.
        const { adminToken, dispatch, socure, encryption } = receiverOptionsFromFlags(opts);
        flagsConfig = resolveReceiverConfig({
          adminToken,
          dispatch,
          socure,
          encryption,
          ...(retention ? { retention } : {}),
          databaseUrl: opts.db,
          logLevel: opts.logLevel,
          prettyLogs: prettyLogs(opts.logFormat),
        });
        // Of the config file, what dispatch and retention use: a worker has no endpoints, so its
        // sources are read for their decision fetch and retention only.
        const config = withConfigFlag(flagsConfig, opts.config);
        worker = await startWorker({
          adminToken: config.adminToken,
          dispatch: config.dispatch,
          socure: config.socure,
          encryption: config.encryption,
          ...(config.retention ? { retention: config.retention } : {}),
          ...(opts.config !== undefined
            ? { sources: config.sources, destinations: config.destinations, configFile: config.configFile }
            : {}),
          databaseUrl: config.databaseUrl,
          logLevel: config.logLevel,
          prettyLogs: config.prettyLogs,
          metricsPort: opts.metricsPort,
          metricsHost: opts.metricsHost,
        });
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      // Listen for signals before saying it is up: a SIGTERM sent as soon as the banner shows must
      // still shut it down gracefully, not kill it.
      const stopped = closeOnSignal(worker, 'finishing in-flight attempts');
      const stopReloading = reloadOnSignal(worker, opts.config, () => withConfigFlag(flagsConfig, opts.config));
      process.stdout.write(
        `docv-webhooks worker ${worker.dispatcher.workerId} delivering to ${worker.destinations.join(', ') || 'nothing yet (its destinations are disabled in the store)'}\n`,
      );
      if (worker.url)
        process.stdout.write(
          `  health and metrics      ${worker.url}/healthz  ${worker.url}/readyz  ${worker.url}/metrics\n`,
        );
      await stopped;
      stopReloading();
    },
  );
}
