import { Option, type Command } from 'commander';
import { DEFAULT_WEBHOOK_PATH, DIALECTS, type Dialect } from '../../contract/index.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../ingest/index.js';
import type { InboundAuth } from '../../auth/index.js';
import { describeDatabaseUrl } from '../../store/index.js';
import {
  ConfigError,
  resolveReceiverConfig,
  startReceiver,
  type ReceiverConfig,
  type RunningReceiver,
} from '../../server/index.js';
import { addEncryptionOptions } from '../encryption-options.js';
import { addRetentionOptions, retentionFromFlags, type RetentionFlags } from '../retention-options.js';
import { CliError } from '../errors.js';
import { closeOnSignal } from '../shutdown.js';
import { reloadOnSignal } from '../reload-signal.js';
import { addExamples, defaultInHelp } from '../help.js';
import {
  dbOption,
  logFormatOption,
  parsePort,
  parsePositiveInt,
  prettyLogs,
  switchOn,
  switchOption,
} from '../options.js';
import {
  addAuthOptions,
  addConfigFileOption,
  addDispatchOptions,
  receiverOptionsFromFlags,
  withConfigFlag,
  type ReceiverFlags,
} from '../receiver-options.js';

interface ServeOptions extends ReceiverFlags, RetentionFlags {
  port: number;
  host: string;
  db: string;
  webhookPath: string;
  maxBodyBytes: number;
  dialect?: Dialect;
  insecureNoAuth?: boolean;
  logLevel: string;
  logFormat?: string;
  dispatch: boolean;
  sqliteWriterThread?: boolean;
  sqliteCheckpointThread: boolean;
}

function banner(r: RunningReceiver): string {
  const single = !r.config.sources?.length;
  return [
    '',
    `  docv-webhooks receiver is listening (store: ${r.store.kind} ${describeDatabaseUrl(r.config.databaseUrl)})`,
    ...(r.config.configFile ? [`  config file           ${r.config.configFile} (SIGHUP reads it again)`] : []),
    '',
    ...(single ? [`  POST DocV events to   ${r.webhookUrl}`] : sourceLines(r)),
    `  dashboard             ${r.url}/dashboard`,
    `  transactions          ${r.adminUrl}/transactions`,
    `  events                ${r.adminUrl}/events`,
    `  health                ${r.url}/healthz  ${r.url}/readyz`,
    ...(single
      ? [
          `  authentication        ${mechanisms(r.auth)}`,
          ...(r.config.dialect ? [`  dialect               ${r.config.dialect} only`] : []),
        ]
      : []),
    `  dispatch              ${r.dispatcher ? 'on' : 'off (run docv-webhooks worker)'} (destinations: docv-webhooks destinations list)`,
    '',
    ...tryIt(r),
    '',
  ].join('\n');
}

function mechanisms(auth: InboundAuth): string {
  return auth.mechanisms.length ? auth.mechanisms.join(', ') : 'none (loopback only)';
}

/**
 * One line per source: its name, URL, the credential mechanisms it checks (never a secret: `sources
 * list` shows their fingerprints) and the dialect it is pinned to, in columns.
 */
function sourceLines(r: RunningReceiver): string[] {
  const rows = r.sources
    .routes()
    .map(({ source, auth }) => [
      source.name,
      `${r.url}${source.path}`,
      mechanisms(auth),
      source.dialect ? `${source.dialect} only` : 'any dialect',
    ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return [
    '  POST DocV events to the URL of each source:',
    ...rows.map(
      (row) => `    ${row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('  ')}`,
    ),
  ];
}

/**
 * A first delivery that this receiver accepts as configured. Without credentials, a plain curl.
 * With them, the sender needs the same ones: placeholders name what to fill in (a banner never
 * prints a secret), and `trigger` takes the same env variables as `serve`, so one shell line works.
 */
function tryIt(r: RunningReceiver): string[] {
  const event = `{"eventType":"APP_OPENED","docvTransactionId":"demo-1","eventTime":"${new Date().toISOString()}"}`;
  const checks = r.auth.mechanisms.filter((m) => m !== 'allow-list');
  if (checks.length === 0) {
    return [
      '  Try it:',
      `  curl -s -X POST ${r.webhookUrl} -H 'content-type: application/json' \\`,
      `    -d '${event}'`,
    ];
  }
  if (checks.length === 1 && checks[0] === 'basic-auth') {
    return [
      '  Try it (with one of your --basic-auth pairs):',
      `  curl -s -X POST ${r.webhookUrl} -u '<user>:<password>' -H 'content-type: application/json' \\`,
      `    -d '${event}'`,
    ];
  }
  const env = [
    ...(checks.includes('shared-secret') ? ["DOCV_WEBHOOK_SECRETS='<your webhook secret>'"] : []),
    ...(checks.includes('signature') ? ["DOCV_WEBHOOK_SIGNING_SECRETS='<your whsec_… signing secret>'"] : []),
  ];
  const note = checks.includes('basic-auth') ? ' (trigger cannot send HTTP Basic: send it with curl -u as well)' : '';
  return [
    `  Try it (the sender needs the same credentials)${note}:`,
    `  ${env.join(' ')} npx docv-webhooks trigger APP_OPENED --target ${r.webhookUrl}`,
  ];
}

export function register(program: Command): void {
  const command = program
    .command('serve')
    .description('run the webhook receiver')
    .addOption(new Option('-p, --port <port>', 'port to listen on').env('PORT').default(3000).argParser(parsePort))
    .addOption(new Option('--host <host>', 'address to listen on').env('HOST').default('127.0.0.1'))
    .addOption(dbOption())
    .addOption(
      new Option('--webhook-path <path>', 'path deliveries are POSTed to')
        .env('DOCV_WEBHOOK_PATH')
        .default(DEFAULT_WEBHOOK_PATH),
    )
    .addOption(
      new Option('--max-body-bytes <n>', 'largest accepted body')
        .env('DOCV_MAX_BODY_BYTES')
        .default(DEFAULT_MAX_BODY_BYTES)
        .argParser(parsePositiveInt),
    )
    .addOption(
      defaultInHelp(
        new Option('--dialect <name>', 'accept only this delivery shape').env('DOCV_DIALECT').choices([...DIALECTS]),
        "each delivery's shape picks one",
      ),
    )
    .addOption(new Option('--insecure-no-auth', 'allow listening beyond loopback without credentials'))
    .option('--no-dispatch', 'only ingest; run `docv-webhooks worker` for the outbox')
    .addOption(
      switchOption(
        '--sqlite-writer-thread',
        'SQLite: commit on a writer thread (for machines with cores to spare)',
        'DOCV_SQLITE_WRITER_THREAD',
      ),
    )
    .option('--no-sqlite-checkpoint-thread', 'SQLite: checkpoint inside commits, not on a thread of its own')
    .addOption(
      new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
        .env('LOG_LEVEL')
        .default('info')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    )
    .addOption(logFormatOption());
  addAuthOptions(command);
  addDispatchOptions(command);
  addEncryptionOptions(command);
  addRetentionOptions(command);
  addConfigFileOption(command, 'its sources, destinations and retention, read again on SIGHUP');
  addExamples(command, [
    { say: 'the receiver on embedded SQLite, on http://127.0.0.1:3000', run: 'docv-webhooks serve' },
    {
      say: "require Socure's webhook secret and forward every event to your service",
      run: 'DOCV_WEBHOOK_SECRETS=s3cret docv-webhooks serve --forward-url http://127.0.0.1:8080/docv',
    },
    {
      say: 'one of several instances sharing a PostgreSQL database',
      run: "docv-webhooks serve --port 3001 --db 'postgres://docv:docv@127.0.0.1:5432/docv?schema=docv'",
    },
  ]);
  command.action(async (opts: ServeOptions) => {
    if (!opts.webhookPath.startsWith('/'))
      throw new CliError(`--webhook-path must start with "/", got "${opts.webhookPath}"`);
    let receiver: RunningReceiver;
    // The configuration of the flags and environment alone, kept apart from the config file's
    // parts: a SIGHUP applies the re-read file to this again (withConfigFlag(flagsConfig, opts.config)).
    let flagsConfig: ReceiverConfig;
    try {
      const fromFlags = receiverOptionsFromFlags(opts);
      const retention = retentionFromFlags(opts);
      flagsConfig = resolveReceiverConfig({
        ...fromFlags,
        ...(retention ? { retention } : {}),
        dispatch: { ...fromFlags.dispatch, enabled: opts.dispatch },
        port: opts.port,
        host: opts.host,
        databaseUrl: opts.db,
        webhookPath: opts.webhookPath,
        maxBodyBytes: opts.maxBodyBytes,
        ...(opts.dialect ? { dialect: opts.dialect } : {}),
        insecureNoAuth: opts.insecureNoAuth === true,
        sqliteWriterThread: switchOn(opts.sqliteWriterThread, 'DOCV_SQLITE_WRITER_THREAD'),
        sqliteCheckpointThread: opts.sqliteCheckpointThread,
        logLevel: opts.logLevel,
        prettyLogs: prettyLogs(opts.logFormat),
      });
      receiver = await startReceiver(withConfigFlag(flagsConfig, opts.config));
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw new CliError((err as Error).message);
    }
    // Listen for signals before saying it is up: a SIGTERM sent as soon as the banner shows must
    // still shut it down gracefully, not kill it.
    const stopped = closeOnSignal(receiver, 'finishing in-flight requests');
    const stopReloading = reloadOnSignal(receiver, opts.config, () => withConfigFlag(flagsConfig, opts.config));
    process.stdout.write(`${banner(receiver)}\n`);
    await stopped;
    stopReloading();
  });
}
