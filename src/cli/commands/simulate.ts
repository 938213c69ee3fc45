import { Command, Option } from 'commander';
import type { Dialect } from '../../contract/index.js';
import {
  runSimulation,
  type ChaosOverrides,
  type ScenarioName,
  type SimulationProgress,
  type SimulationSummary,
} from '../../sandbox/index.js';
import { CliError } from '../errors.js';
import { addExamples, defaultInHelp } from '../help.js';
import {
  addDeliveryFlags,
  chaosOption,
  dialectOption,
  durationArg,
  intArg,
  numberArg,
  scenarioOption,
  urlArg,
  type DeliveryFlags,
} from './sandbox.js';

interface SimulateFlags extends DeliveryFlags {
  target: string;
  scenario: ScenarioName;
  dialect: Dialect;
  transactions: number;
  concurrency: number;
  rate?: number;
  timeScale: number;
  chaos?: ChaosOverrides;
  maxDuration: number;
  json?: boolean;
}

/** One line, redrawn in place: only ever written to a terminal. */
function progressBar(p: SimulationProgress, width = 30): string {
  const total = Math.max(1, p.events);
  const done = p.events - p.open;
  const filled = Math.round((done / total) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${p.events} events settled, ${p.delivered} delivered, ${p.attempts} requests`;
}

export function formatSummary(s: SimulationSummary): string {
  const scenarios = Object.entries(s.scenarios)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const responses = Object.entries(s.responses)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  return [
    `transactions  ${s.transactions} (${scenarios})`,
    `events        ${s.events}`,
    `sent          ${s.sent} requests (${responses || 'none'})`,
    `accepted      ${s.accepted}`,
    `duplicates    ${s.duplicates}`,
    `retries       ${s.retries}`,
    `failed        ${s.failed} event(s) never delivered${s.timedOut ? ' (the run hit --max-duration)' : s.refused ? ' (the run stopped: the receiver refused us)' : ''}`,
    `latency ms    p50 ${s.latencyMs.p50}  p90 ${s.latencyMs.p90}  p99 ${s.latencyMs.p99}  max ${s.latencyMs.max}`,
    `duration      ${(s.durationMs / 1000).toFixed(2)} s`,
    `cpu           ${(s.cpuMs / 1000).toFixed(2)} s${s.sent > 0 ? ` (${Math.round((s.cpuMs * 1000) / s.sent)} µs per request)` : ''}`,
  ].join('\n');
}

export function register(program: Command): void {
  const cmd = program
    .command('simulate')
    .description('drive whole DocV flows at a webhook URL with real delivery behaviour, then summarise')
    .addOption(
      new Option('--target <url>', 'webhook URL to deliver to')
        .env('DOCV_TARGET_URL')
        .argParser(urlArg)
        .makeOptionMandatory(),
    )
    .addOption(scenarioOption('mixed', 'what the simulated end users do'))
    .addOption(
      dialectOption(
        'webhook shape: asyncapi (the flat contract), socure-v5 (DocvNotification envelopes), riskos',
      ).default('asyncapi'),
    )
    .addOption(new Option('--transactions <n>', 'number of flows').argParser(intArg(1, 1_000_000)).default(100))
    .addOption(
      new Option('--concurrency <n>', 'delivery attempts in flight at once').argParser(intArg(1, 1024)).default(8),
    )
    .addOption(
      defaultInHelp(
        new Option('--rate <n>', 'delivery attempts started per second at most').argParser(numberArg(0.001, 1_000_000)),
        'no limit',
      ),
    )
    .addOption(
      new Option('--time-scale <factor>', 'wall-clock time per unit of scenario time (0: no pauses)')
        .argParser(numberArg(0, 1000))
        .default(0),
    )
    .addOption(chaosOption('DOCV_SIMULATE_CHAOS'))
    .addOption(
      new Option('--max-duration <duration>', 'stop after this long; undelivered events count as failed')
        .argParser(durationArg)
        .default(600_000, '10m'),
    )
    .option('--json', 'print the summary as JSON');
  addDeliveryFlags(cmd, '200ms,1s,5s');
  addExamples(cmd, [
    {
      say: '100 mixed flows at the local receiver, then a summary',
      run: 'docv-webhooks simulate --target http://127.0.0.1:3000/socure/docv/webhook',
    },
    {
      say: "a load run with the receiver's secret, at most 200 requests a second",
      run: 'DOCV_WEBHOOK_SECRETS=s3cret docv-webhooks simulate --target http://127.0.0.1:3000/socure/docv/webhook --transactions 1000 --concurrency 16 --rate 200',
    },
    {
      say: 'accepted flows with duplicates and reordering, the summary as JSON',
      run: 'docv-webhooks simulate --target http://127.0.0.1:3000/socure/docv/webhook --scenario accept --chaos duplicates=0.2,outOfOrder=0.5 --json',
    },
  ]);
  cmd.action(async (flags: SimulateFlags) => {
    const tty = process.stderr.isTTY === true && !flags.json;
    let summary: SimulationSummary;
    try {
      summary = await runSimulation({
        target: flags.target,
        scenario: flags.scenario,
        dialect: flags.dialect,
        transactions: flags.transactions,
        concurrency: flags.concurrency,
        rate: flags.rate,
        timeScale: flags.timeScale,
        chaos: flags.chaos,
        maxDurationMs: flags.maxDuration,
        webhookSecret: flags.webhookSecret,
        signingSecrets: flags.signingSecret,
        retrySchedule: flags.retrySchedule,
        attemptTimeoutMs: flags.timeout,
        onProgress: tty ? (p) => process.stderr.write(progressBar(p)) : undefined,
      });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    if (tty) process.stderr.write('\n');
    process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
    // Last, on stderr: the one line that says what to fix, under the summary on a terminal.
    if (summary.refused) process.stderr.write(`docv-webhooks: ${summary.refused.message}\n`);
    if (summary.failed > 0 || summary.refused) process.exitCode = 1;
  });
}
