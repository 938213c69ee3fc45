import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_FAILURE_LIMITS, DEFAULT_SIGNATURE_TOLERANCE_SECONDS, readSecretList } from '../auth/index.js';
import { DEFAULT_DISPATCH, DEFAULT_TIMEOUTS, type StartReceiverOptions } from '../server/index.js';
import {
  DEFAULT_DECISION_PENDING_MAX_MS,
  DEFAULT_SOCURE_API_KIND,
  exponentialSchedule,
  isSocureApi,
  SOCURE_APIS,
  type SocureApi,
} from '../dispatch/index.js';
import { formatDuration, parseDuration, parseRetrySchedule } from '../retry/schedule.js';
import type { ReceiverConfig, SourceConfig } from '../compose/config.js';
import { readConfigFile, withConfigFile } from '../compose/config-file.js';
import { encryptionKeysFromFlags, type EncryptionFlags } from './encryption-options.js';
import { CliError } from './errors.js';
import { defaultInHelp, envInHelp, orFile } from './help.js';
import { collect, parsePositiveInt, switchOn, switchOption } from './options.js';

/** Flags shared by `serve` and `worker`: credentials, destinations, retries, the Socure API, the keys. */
export interface ReceiverFlags extends EncryptionFlags {
  /** `--config` (DOCV_CONFIG): the config file. */
  config?: string;
  webhookSecret?: string[];
  basicAuth?: string[];
  signingSecret?: string[];
  signatureTolerance?: number;
  allowIp?: string[];
  trustProxy?: boolean;
  authFailureLimit?: number;
  maxConnectionsPerClient?: number;
  adminToken?: string;
  forwardUrl?: string[];
  forwardSigningSecret?: string[];
  forwardTimeout?: string;
  retrySchedule?: string;
  maxAttempts?: number;
  concurrency?: number;
  ordering: boolean;
  socureBaseUrl?: string;
  socureApiKey?: string;
  socureApi?: string;
  decisionPendingMax?: string;
  storeDocumentData?: boolean;
}

/**
 * A repeatable flag whose environment variable (or its `_FILE`) the code reads as a list, split
 * on `separators` (see fromEnv): commander's `.env()` would take the whole value as one entry.
 */
function listOption(
  flags: string,
  description: string,
  envName: string,
  separators: 'commas' | 'commas or spaces',
): Option {
  return envInHelp(
    new Option(flags, `${description}; repeatable, separated by ${separators} in the env`).argParser(collect),
    orFile(envName),
  );
}

/**
 * The flags that make the single source (its credentials and allow-list): `serve`, and `sources
 * list|check` without a config file. A config file with sources gives each its own instead.
 */
export function addSourceCredentialOptions(command: Command): Command {
  return command
    .addOption(
      listOption(
        '--webhook-secret <secret>',
        'shared secret expected in Authorization (several: rotation)',
        'DOCV_WEBHOOK_SECRETS',
        'commas',
      ),
    )
    .addOption(listOption('--basic-auth <user:pass>', 'HTTP Basic credentials', 'DOCV_WEBHOOK_BASIC_AUTH', 'commas'))
    .addOption(
      listOption(
        '--signing-secret <whsec_…>',
        'Standard Webhooks signing secret',
        'DOCV_WEBHOOK_SIGNING_SECRETS',
        'commas or spaces',
      ),
    )
    .addOption(
      defaultInHelp(
        new Option('--signature-tolerance <seconds>', 'how far webhook-timestamp may be from now')
          .env('DOCV_SIGNATURE_TOLERANCE_SECONDS')
          .argParser(parsePositiveInt),
        String(DEFAULT_SIGNATURE_TOLERANCE_SECONDS),
      ),
    )
    .addOption(
      listOption(
        '--allow-ip <cidr>',
        'accept deliveries only from these addresses',
        'DOCV_ALLOWED_IPS',
        'commas or spaces',
      ),
    );
}

export function addAuthOptions(command: Command): Command {
  return addSourceCredentialOptions(command)
    .addOption(
      switchOption(
        '--trust-proxy',
        'believe the X-Forwarded-For entry added by one proxy in front',
        'DOCV_TRUST_PROXY',
      ),
    )
    .addOption(
      defaultInHelp(
        new Option(
          '--auth-failure-limit <n>',
          'failed authentications an address may make within a minute; the next blocks it for 5 minutes (429); 0 turns this off',
        )
          .env('DOCV_AUTH_FAILURE_LIMIT')
          .argParser(parseFailureLimit),
        String(DEFAULT_FAILURE_LIMITS.maxFailures),
      ),
    )
    .addOption(
      defaultInHelp(
        new Option(
          '--max-connections-per-client <n>',
          'open connections an address that has not delivered successfully yet may hold; more are closed at once. Behind a proxy all come from the proxy: raise it there, or 0 turns this off',
        )
          .env('DOCV_MAX_CONNECTIONS_PER_CLIENT')
          .argParser(parseConnectionCap),
        String(DEFAULT_TIMEOUTS.maxConnectionsPerClient),
      ),
    )
    .addOption(adminTokenOption());
}

function parseFailureLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`"${value}" is not a whole number (0 turns the limiter off)`);
  return n;
}

function parseConnectionCap(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`"${value}" is not a whole number (0 turns the cap off)`);
  return n;
}

/** The admin API's token: `serve`'s admin API and dashboard, a `worker`'s /metrics. */
export function adminTokenOption(): Option {
  return envInHelp(
    new Option('--admin-token <token>', 'bearer token for the admin API and /metrics'),
    orFile('DOCV_ADMIN_TOKEN'),
  );
}

/** The default retry schedule in a few words: it doubles from its first delay to its cap. */
function defaultScheduleText(): string {
  const schedule = DEFAULT_DISPATCH.retry.schedule;
  return `${formatDuration(schedule[0]!)} doubling to ${formatDuration(Math.max(...schedule))}`;
}

export function addDispatchOptions(command: Command): Command {
  const { retry } = DEFAULT_DISPATCH;
  return command
    .addOption(
      listOption(
        '--forward-url <url>',
        'send every event to this URL: POST to http(s), publish to amqp(s)://, nats://, redis(s)://',
        'DOCV_FORWARD_URLS',
        'commas or spaces',
      ),
    )
    .addOption(
      listOption(
        '--forward-signing-secret <whsec_…>',
        'sign forwarded events with Standard Webhooks',
        'DOCV_FORWARD_SIGNING_SECRET',
        'commas or spaces',
      ),
    )
    .addOption(
      defaultInHelp(
        new Option('--forward-timeout <duration>', 'time out a forward attempt').env('DOCV_FORWARD_TIMEOUT'),
        formatDuration(DEFAULT_DISPATCH.forwardTimeoutMs),
      ),
    )
    .addOption(
      defaultInHelp(
        new Option('--retry-schedule <delays>', 'delays between attempts, e.g. 1s,5s,1m (last repeats)').env(
          'DOCV_RETRY_SCHEDULE',
        ),
        defaultScheduleText(),
      ),
    )
    .addOption(
      defaultInHelp(
        new Option('--max-attempts <n>', 'attempts before a delivery is dead')
          .env('DOCV_MAX_ATTEMPTS')
          .argParser(parsePositiveInt),
        `${retry.maxAttempts}; with --retry-schedule its steps + 1`,
      ),
    )
    .addOption(
      defaultInHelp(
        new Option('--concurrency <n>', 'attempts in flight at once')
          .env('DOCV_DISPATCH_CONCURRENCY')
          .argParser(parsePositiveInt),
        String(DEFAULT_DISPATCH.concurrency),
      ),
    )
    .option('--no-ordering', "do not hold a transaction's later events until the earlier one is done")
    .addOption(
      new Option(
        '--socure-base-url <url>',
        "fetch decisions from Socure's API here (for uploads, and completions without a decision)",
      ).env('SOCURE_BASE_URL'),
    )
    .addOption(envInHelp(new Option('--socure-api-key <key>', "API key for Socure's API"), orFile('SOCURE_API_KEY')))
    .addOption(
      new Option('--socure-api <api>', 'idplus: POST /api/3.0/EmailAuthScore; profile: GET /api/3.0/documents/{id}')
        .choices(SOCURE_APIS)
        .default(DEFAULT_SOCURE_API_KIND)
        .env('SOCURE_API'),
    )
    .addOption(
      defaultInHelp(
        new Option(
          '--decision-pending-max <duration>',
          'stop asking for a decision that has not come after this long (then: decision unavailable)',
        ).env('DOCV_DECISION_PENDING_MAX'),
        formatDuration(DEFAULT_DECISION_PENDING_MAX_MS),
      ),
    )
    .addOption(
      switchOption(
        '--store-document-data',
        'keep document data (PII) from the fetched decision',
        'DOCV_STORE_DOCUMENT_DATA',
      ),
    );
}

/**
 * A list flag, else its environment variable (or `_FILE`), read by readSecretList, which refuses
 * one that is set but holds nothing usable. A flag is refused for the same reason: an entry that
 * is empty or only separators (`--webhook-secret ' , '`) is a mistake, never a secret.
 */
function fromEnv(
  flag: string[] | undefined,
  flagName: string,
  name: string,
  separator: string | RegExp,
  env: NodeJS.ProcessEnv,
): string[] | undefined {
  if (flag && flag.length > 0) {
    const blank = flag.findIndex((entry) => entry.split(separator).every((part) => part.trim() === ''));
    if (blank !== -1) {
      const which = flag.length > 1 ? `${flagName} (number ${blank + 1} of ${flag.length})` : flagName;
      throw new CliError(`${which} holds nothing usable: it is empty, or only separators and whitespace`);
    }
    return flag;
  }
  try {
    return readSecretList(env, name, { separator, warn: warnOnStderr });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/**
 * A single-value flag, else its environment variable (or `_FILE`). The variable is read here, not
 * by commander's `.env()`, so `NAME=` means unset, `NAME` and `NAME_FILE` together are refused,
 * and one of only whitespace is refused (readSecretList), as for every secret.
 */
function single(flag: string | undefined, flagName: string, name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (flag !== undefined) {
    if (flag.trim() === '') throw new CliError(`${flagName} holds nothing usable: it is empty or only whitespace`);
    return flag;
  }
  try {
    return readSecretList(env, name, { warn: warnOnStderr })?.[0];
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** A secret file others can read: one line, before the start-up's own output. */
function warnOnStderr(message: string): void {
  process.stderr.write(`docv-webhooks: warning: ${message}\n`);
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`${flag}: ${(err as Error).message}`);
  }
}

/** commander checks `--socure-api` against its choices; this guards callers that bypass it. */
function socureApi(text: string): SocureApi {
  if (!isSocureApi(text)) throw new CliError(`--socure-api: "${text}" is not one of ${SOCURE_APIS.join(', ')}`);
  return text;
}

/** The single source's credentials and allow-list from flags and environment (addSourceCredentialOptions). */
export function sourceAuthFromFlags(
  flags: Pick<ReceiverFlags, 'webhookSecret' | 'basicAuth' | 'signingSecret' | 'signatureTolerance' | 'allowIp'>,
  env: NodeJS.ProcessEnv = process.env,
): SourceConfig['auth'] {
  return {
    webhookSecrets: fromEnv(flags.webhookSecret, '--webhook-secret', 'DOCV_WEBHOOK_SECRETS', ',', env),
    basicAuth: fromEnv(flags.basicAuth, '--basic-auth', 'DOCV_WEBHOOK_BASIC_AUTH', ',', env),
    signingSecrets: fromEnv(flags.signingSecret, '--signing-secret', 'DOCV_WEBHOOK_SIGNING_SECRETS', /[\s,]+/, env),
    allowIps: fromEnv(flags.allowIp, '--allow-ip', 'DOCV_ALLOWED_IPS', /[\s,]+/, env),
    ...(flags.signatureTolerance !== undefined ? { signatureToleranceSeconds: flags.signatureTolerance } : {}),
  };
}

/** Flags and environment → the receiver's options. Flags win over the environment. */
export function receiverOptionsFromFlags(
  flags: ReceiverFlags,
  env: NodeJS.ProcessEnv = process.env,
): StartReceiverOptions {
  let schedule: number[] = DEFAULT_DISPATCH.retry.schedule as number[];
  if (flags.retrySchedule !== undefined) {
    try {
      schedule = parseRetrySchedule(flags.retrySchedule);
    } catch (err) {
      throw new CliError(`--retry-schedule: ${(err as Error).message}`);
    }
  }
  const maxAttempts =
    flags.maxAttempts ?? (flags.retrySchedule !== undefined ? schedule.length + 1 : DEFAULT_DISPATCH.retry.maxAttempts);
  return {
    auth: {
      ...sourceAuthFromFlags(flags, env),
      trustProxy: switchOn(flags.trustProxy, 'DOCV_TRUST_PROXY', env),
    },
    ...(flags.authFailureLimit !== undefined ? { authFailureLimit: flags.authFailureLimit } : {}),
    ...(flags.maxConnectionsPerClient !== undefined
      ? { timeouts: { maxConnectionsPerClient: flags.maxConnectionsPerClient } }
      : {}),
    adminToken: single(flags.adminToken, '--admin-token', 'DOCV_ADMIN_TOKEN', env),
    dispatch: {
      forwardUrls: fromEnv(flags.forwardUrl, '--forward-url', 'DOCV_FORWARD_URLS', /[\s,]+/, env) ?? [],
      forwardSigningSecrets:
        fromEnv(flags.forwardSigningSecret, '--forward-signing-secret', 'DOCV_FORWARD_SIGNING_SECRET', /[\s,]+/, env) ??
        [],
      ...(flags.forwardTimeout !== undefined
        ? { forwardTimeoutMs: duration(flags.forwardTimeout, '--forward-timeout') }
        : {}),
      retry: {
        schedule: schedule.length ? schedule : exponentialSchedule(),
        maxAttempts: schedule.length ? maxAttempts : 1,
        jitter: DEFAULT_DISPATCH.retry.jitter,
      },
      ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
      ordered: flags.ordering,
    },
    socure: {
      baseUrl: flags.socureBaseUrl,
      apiKey: single(flags.socureApiKey, '--socure-api-key', 'SOCURE_API_KEY', env),
      ...(flags.socureApi !== undefined ? { api: socureApi(flags.socureApi) } : {}),
      ...(flags.decisionPendingMax !== undefined
        ? { decisionPendingMaxMs: duration(flags.decisionPendingMax, '--decision-pending-max') }
        : {}),
      storeDocumentData: switchOn(flags.storeDocumentData, 'DOCV_STORE_DOCUMENT_DATA', env),
    },
    encryption: encryptionKeysFromFlags(flags, env),
  };
}

export const CONFIG_ENV = 'DOCV_CONFIG';

/** `--config <file>` (DOCV_CONFIG); `what` says what the command takes from it. */
export function addConfigFileOption(command: Command, what: string): Command {
  return command.addOption(
    new Option('--config <file>', `the config file, YAML or JSON (docs/configuration.md): ${what}`).env(CONFIG_ENV),
  );
}

/**
 * The configuration a command runs with: that of its flags and environment alone, with the config
 * file's parts when `--config` names one (compose/config-file.ts). Start-up and every SIGHUP call
 * it with the same flags' configuration, so a re-read file replaces the last one's parts rather
 * than adding to them. ConfigError (ConfigFileError: with lines) when either is wrong.
 */
export function withConfigFlag(
  flagsConfig: ReceiverConfig,
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ReceiverConfig {
  if (file === undefined) return flagsConfig;
  return withConfigFile(flagsConfig, readConfigFile(file, env), file);
}
