import { Option, type Command } from 'commander';
import { sourcesOf, type ReceiverConfig } from '../../compose/config.js';
import { ConfigError } from '../../compose/errors.js';
import { summarizeSource, type SourceSummary } from '../../compose/source-summary.js';
import { DEFAULT_WEBHOOK_PATH, DIALECTS, type Dialect } from '../../contract/index.js';
import { resolveReceiverConfig } from '../../server/index.js';
import { formatRetentionPolicy, retentionIsOn } from '../../store/retention-policy.js';
import { CliError } from '../errors.js';
import { addExamples, defaultInHelp } from '../help.js';
import { jsonOption } from '../options.js';
import {
  addConfigFileOption,
  addSourceCredentialOptions,
  sourceAuthFromFlags,
  withConfigFlag,
  type ReceiverFlags,
} from '../receiver-options.js';
import { addRetentionOptions, retentionFromFlags, type RetentionFlags } from '../retention-options.js';
import { formatTable } from '../table.js';

/**
 * `sources list` and `sources check`: the sources `serve` would listen on with the same config file,
 * flags and environment, read the way it reads them (so the same mistakes are refused). Secrets are
 * shown only as fingerprints (compose/source-summary.ts). No store and no server are involved.
 */

type SourcesFlags = Pick<
  ReceiverFlags,
  'config' | 'webhookSecret' | 'basicAuth' | 'signingSecret' | 'signatureTolerance' | 'allowIp'
> &
  RetentionFlags & { webhookPath: string; dialect?: Dialect; json?: boolean };

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** What serve's flags for its single source, and the config file, are read with. */
function addSourceOptions(command: Command): Command {
  command
    .addOption(
      new Option('--webhook-path <path>', 'path deliveries are POSTed to, without a config file')
        .env('DOCV_WEBHOOK_PATH')
        .default(DEFAULT_WEBHOOK_PATH),
    )
    .addOption(
      defaultInHelp(
        new Option('--dialect <name>', 'accept only this delivery shape, without a config file')
          .env('DOCV_DIALECT')
          .choices([...DIALECTS]),
        "each delivery's shape picks one",
      ),
    );
  addSourceCredentialOptions(command);
  addRetentionOptions(command);
  return addConfigFileOption(command, 'its sources, destinations and retention');
}

/** The configuration serve would run with, as far as sources go; ConfigError when it would refuse it. */
function configOf(opts: SourcesFlags): ReceiverConfig {
  if (!opts.webhookPath.startsWith('/'))
    throw new CliError(`--webhook-path must start with "/", got "${opts.webhookPath}"`);
  const retention = retentionFromFlags(opts);
  const flagsConfig = resolveReceiverConfig({
    webhookPath: opts.webhookPath,
    ...(opts.dialect ? { dialect: opts.dialect } : {}),
    auth: sourceAuthFromFlags(opts),
    ...(retention ? { retention } : {}),
  });
  return withConfigFlag(flagsConfig, opts.config);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function table(summaries: SourceSummary[], receiverRetention: string | null): string {
  const rows = summaries.map((s) => ({
    ...s,
    credentials: s.credentials.length ? s.credentials.join('; ') : 'none (loopback only)',
    retention: s.retention ?? (receiverRetention ? `${receiverRetention} (receiver-wide)` : 'kept'),
  }));
  return formatTable(rows, ['name', 'path', 'dialect', 'environment', 'credentials', 'allowIps', 'retention'], 200);
}

export function register(program: Command): void {
  const sources = program
    .command('sources')
    .description('the inbound endpoints: one per Socure account, from the config file (or the flags)');
  addExamples(sources, [
    {
      say: 'the sources of a config file, secrets fingerprinted',
      run: 'docv-webhooks sources list --config docv-webhooks.yaml',
    },
    {
      say: 'check a config file before sending serve a SIGHUP',
      run: 'docv-webhooks sources check --config docv-webhooks.yaml',
    },
  ]);

  const list = addSourceOptions(
    sources.command('list').description('each source: path, dialect, credentials (fingerprints, never the secrets)'),
  ).addOption(jsonOption());
  addExamples(list, [
    { say: 'the sources of a config file', run: 'docv-webhooks sources list --config docv-webhooks.yaml' },
    { say: 'the single source the environment makes, as JSON', run: 'docv-webhooks sources list --json' },
  ]);
  list.action((opts: SourcesFlags) => {
    let config: ReceiverConfig;
    try {
      config = configOf(opts);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    const summaries = sourcesOf(config).map(summarizeSource);
    const retention = retentionIsOn(config.retention) ? formatRetentionPolicy(config.retention!) : null;
    if (opts.json) return print(JSON.stringify({ configFile: config.configFile ?? null, retention, items: summaries }));
    print(table(summaries, retention));
  });

  const check = addSourceOptions(
    sources
      .command('check')
      .description('read the config file as serve would: "ok" and its counts, or every problem with its line (exit 1)'),
  );
  addExamples(check, [
    {
      say: 'before a SIGHUP, in the environment serve runs with',
      run: 'docv-webhooks sources check --config docv-webhooks.yaml',
    },
  ]);
  check.action((opts: SourcesFlags) => {
    if (opts.config === undefined) throw new CliError('sources check needs --config <file> (or DOCV_CONFIG)');
    let config: ReceiverConfig;
    try {
      config = configOf(opts);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // One problem a line, each starting with file:line:col, as editors and CI logs read them.
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    print(
      `ok: ${plural(sourcesOf(config).length, 'source')}, ${plural(config.destinations?.length ?? 0, 'destination')}`,
    );
  });
}
