import { Command, InvalidArgumentError, Option } from 'commander';
import { DIALECTS, type Dialect } from '../../contract/index.js';
import {
  SCENARIOS,
  chaosFromText,
  formatScheduleForHelp,
  parseDuration,
  parseRetrySchedule,
  startSandbox,
  type ChaosOverrides,
  type ScenarioName,
} from '../../sandbox/index.js';
import { CliError } from '../errors.js';
import { addExamples, defaultInHelp } from '../help.js';

/* Flag parsers shared by sandbox, simulate, trigger and deliveries. */

export function intArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function numberArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be a number from ${min} to ${max}`);
    return n;
  };
}

export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function urlArg(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
    return url.toString();
  } catch {
    throw new InvalidArgumentError('must be an absolute http(s) URL');
  }
}

function retryScheduleArg(value: string): number[] {
  try {
    return parseRetrySchedule(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * Repeatable, and the env form takes several at once, separated by commas or spaces (rotation).
 * A value of only separators (`' , '`) is refused: it would send every delivery unsigned. The
 * errors are CliErrors, not InvalidArgumentErrors, because commander quotes the value in those.
 */
function collectSecrets(value: string, previous: string[] | undefined): string[] {
  const secrets = value.split(/[\s,]+/).filter((s) => s !== '');
  if (value !== '' && secrets.length === 0)
    throw new CliError(
      '--signing-secret (DOCV_WEBHOOK_SIGNING_SECRETS) holds nothing usable: only separators and whitespace',
    );
  return [...(previous ?? []), ...secrets];
}

/** The receiver's env takes a comma-separated list (rotation); a sender sends one: the first, the newest by convention. */
function firstSecret(value: string): string {
  const first = value.split(',')[0]!.trim();
  if (first === '') throw new CliError('--webhook-secret (DOCV_WEBHOOK_SECRETS): the first secret is empty');
  return first;
}

/** Repeatable, and each value may list several, separated by commas or spaces. */
function collectTargets(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(/[\s,]+/).filter((s) => s !== '')];
}

function chaosArg(value: string): ChaosOverrides {
  const parsed = chaosFromText(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.reason);
  return parsed.value;
}

export function scenarioOption(defaultScenario: ScenarioName, description: string): Option {
  return new Option('--scenario <name>', description).choices(SCENARIOS).default(defaultScenario);
}

/**
 * How webhooks are shaped. One env name for every command, so a shell that sets it gets the
 * same dialect from the sandbox, simulate and trigger.
 */
export function dialectOption(description: string): Option {
  return new Option('--dialect <dialect>', description).env('DOCV_DIALECT').choices(DIALECTS);
}

export function chaosOption(envName: string): Option {
  return new Option(
    '--chaos <settings>',
    'chaos, e.g. duplicates=0.2,outOfOrder=0.5,delay=0.3,delayMs=10ms-2s,omitDecision=1',
  )
    .env(envName)
    .argParser(chaosArg);
}

export interface DeliveryFlags {
  webhookSecret?: string;
  signingSecret?: string[];
  retrySchedule: number[];
  timeout: number;
}

/** How deliveries authenticate, retry and time out: the same flags on sandbox, simulate and trigger. */
export function addDeliveryFlags(cmd: Command, defaultSchedule: string): Command {
  return (
    cmd
      // The env names are the receiver's (`serve`), so one shell configures both ends alike.
      .addOption(
        new Option(
          '--webhook-secret <secret>',
          'sent as the Authorization header of every delivery; from the env, the first of the list (prefer the env: flags show in ps)',
        )
          .env('DOCV_WEBHOOK_SECRETS')
          .argParser(firstSecret),
      )
      .addOption(
        new Option(
          '--signing-secret <secret>',
          'sign deliveries the Standard Webhooks way (whsec_…); repeat to sign with several',
        )
          .env('DOCV_WEBHOOK_SIGNING_SECRETS')
          .argParser(collectSecrets),
      )
      .addOption(
        new Option('--retry-schedule <delays>', 'delays between attempts, e.g. 50ms,100ms,1s ("none": no retries)')
          .env('DOCV_SANDBOX_RETRY_SCHEDULE')
          .argParser(retryScheduleArg)
          .default(parseRetrySchedule(defaultSchedule), formatScheduleForHelp(defaultSchedule)),
      )
      .addOption(
        new Option('--timeout <duration>', 'give up on one attempt after this long')
          .env('DOCV_SANDBOX_DELIVERY_TIMEOUT')
          .argParser(durationArg)
          .default(15_000, '15s'),
      )
  );
}

interface SandboxFlags extends DeliveryFlags {
  port: number;
  host: string;
  apiKey?: string;
  db: string;
  defaultWebhookUrl?: string;
  allowTarget?: string[];
  publicUrl?: string;
  scenario: ScenarioName;
  dialect: Dialect;
  timeScale: number;
  chaos?: ChaosOverrides;
  maxInFlight: number;
  logLevel: string;
}

const DEFAULT_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';

export function register(program: Command): void {
  const cmd = program
    .command('sandbox')
    .description('run a stand-in DocV service: create transactions, play the end user, deliver the webhook stream')
    .addOption(
      new Option('--port <port>', 'port to listen on')
        .env('DOCV_SANDBOX_PORT')
        .argParser(intArg(0, 65535))
        .default(4010),
    )
    .addOption(new Option('--host <address>', 'address to listen on').env('DOCV_SANDBOX_HOST').default('127.0.0.1'))
    .addOption(
      defaultInHelp(
        new Option('--api-key <key>', 'the key clients send as "Authorization: SocureApiKey <key>"').env(
          'DOCV_SANDBOX_API_KEY',
        ),
        'made up and printed',
      ),
    )
    .addOption(
      new Option('--db <url>', 'where transactions and pending deliveries are kept (sqlite:<file>, or sqlite::memory:)')
        .env('DOCV_SANDBOX_DB')
        .default('sqlite:data/sandbox.db'),
    )
    .addOption(
      new Option('--default-webhook-url <url>', 'webhook URL of transactions created without one')
        .env('DOCV_SANDBOX_WEBHOOK_URL')
        .argParser(urlArg),
    )
    .addOption(
      defaultInHelp(
        new Option(
          '--allow-target <targets>',
          "where deliveries may go, as they carry the receiver's secrets: host:port, an address or CIDR, a CIDR with :port; repeat or separate with commas",
        )
          .env('DOCV_SANDBOX_ALLOW_TARGETS')
          .argParser(collectTargets),
        'loopback only: 127.0.0.0/8,::1',
      ),
    )
    .addOption(
      new Option('--public-url <url>', 'base URL of sessionUrl when the sandbox is reached at another address')
        .env('DOCV_SANDBOX_PUBLIC_URL')
        .argParser(urlArg),
    )
    .addOption(scenarioOption('manual', 'scenario of transactions that choose none').env('DOCV_SANDBOX_SCENARIO'))
    .addOption(
      dialectOption(
        'webhook shape of transactions that choose none: asyncapi (the flat contract), socure-v5 (DocvNotification envelopes), riskos',
      ).default('asyncapi'),
    )
    .addOption(
      new Option(
        '--time-scale <factor>',
        'wall-clock time per unit of scenario time (1: life-like; 0.01: a flow in about a second)',
      )
        .env('DOCV_SANDBOX_TIME_SCALE')
        .argParser(numberArg(0, 1000))
        .default(1),
    )
    .addOption(chaosOption('DOCV_SANDBOX_CHAOS'))
    .addOption(
      new Option('--max-in-flight <n>', 'delivery attempts in flight at once')
        .env('DOCV_SANDBOX_MAX_IN_FLIGHT')
        .argParser(intArg(1, 1024))
        .default(32),
    )
    .addOption(
      new Option('--log-level <level>', 'pino log level')
        .env('LOG_LEVEL')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    );
  addDeliveryFlags(cmd, DEFAULT_SCHEDULE);
  addExamples(cmd, [
    {
      say: 'on http://127.0.0.1:4010 with a chosen API key; a flow takes about a second',
      run: 'docv-webhooks sandbox --api-key dev --time-scale 0.01',
    },
    {
      say: "with the receiver's secret, as Socure v5 envelopes, some sent twice or out of order",
      run: 'DOCV_WEBHOOK_SECRETS=s3cret docv-webhooks sandbox --api-key dev --dialect socure-v5 --chaos duplicates=0.2,outOfOrder=0.5',
    },
    {
      say: 'kept in memory; transactions created without a webhookUrl go to the local receiver and are accepted',
      run: 'docv-webhooks sandbox --db sqlite::memory: --scenario accept --default-webhook-url http://127.0.0.1:3000/socure/docv/webhook',
    },
  ]);
  cmd.action(async (flags: SandboxFlags) => {
    const keyFromFlag = cmd.getOptionValueSource('apiKey') === 'cli';
    let sandbox;
    try {
      sandbox = await startSandbox({
        port: flags.port,
        host: flags.host,
        apiKey: flags.apiKey,
        db: flags.db,
        defaultWebhookUrl: flags.defaultWebhookUrl,
        allowTargets: flags.allowTarget,
        publicUrl: flags.publicUrl,
        defaultScenario: flags.scenario,
        defaultDialect: flags.dialect,
        timeScale: flags.timeScale,
        chaos: flags.chaos,
        maxInFlight: flags.maxInFlight,
        webhookSecret: flags.webhookSecret,
        signingSecrets: flags.signingSecret,
        retrySchedule: flags.retrySchedule,
        attemptTimeoutMs: flags.timeout,
        logLevel: flags.logLevel,
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new CliError(`port ${flags.port} is in use; pick another with --port`);
      throw new CliError(e.message);
    }
    const out = process.stdout;
    out.write(`DocV sandbox listening on ${sandbox.url}\n`);
    // A generated key is shown: it is the only way to learn it. A key given on the command line is
    // already on screen, so the example uses it; one from the environment is named, never printed.
    if (sandbox.apiKeyGenerated)
      out.write(`API key (generated; set --api-key or DOCV_SANDBOX_API_KEY to choose one): ${sandbox.apiKey}\n`);
    const keyInExample = sandbox.apiKeyGenerated || keyFromFlag ? sandbox.apiKey : '$DOCV_SANDBOX_API_KEY';
    out.write(
      `Create a transaction:\n  curl -s ${sandbox.url}/api/3.0/EmailAuthScore -H "Authorization: SocureApiKey ${keyInExample}" ` +
        `-H 'content-type: application/json' -d '{"modules":["docvtransaction"],"webhookUrl":"http://127.0.0.1:3000/socure/docv/webhook","sandbox":{"scenario":"accept"}}'\n`,
    );
    out.write(
      `Webhooks are shaped as ${flags.dialect}; a create request's "dialect" picks another (asyncapi, socure-v5, riskos)\n`,
    );
    await waitForSignal();
    out.write('stopping the sandbox; pending deliveries resume at the next start\n');
    await sandbox.close();
  });
}

/** Resolves on the first SIGINT or SIGTERM. */
function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
