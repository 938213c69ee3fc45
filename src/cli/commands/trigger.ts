import { Argument, Command, Option } from 'commander';
import { CANONICAL_DECISIONS, DOCV_EVENT_TYPES, type CanonicalDecision, type Dialect } from '../../contract/index.js';
import { parseFieldAssignment, sendEvent, type SendEventResult } from '../../sandbox/index.js';
import { CliError } from '../errors.js';
import { addExamples, defaultInHelp } from '../help.js';
import { addDeliveryFlags, dialectOption, urlArg, type DeliveryFlags } from './sandbox.js';

interface TriggerFlags extends DeliveryFlags {
  target: string;
  dialect?: Dialect;
  transaction?: string;
  customerUserId?: string;
  decision?: CanonicalDecision;
  set?: string[];
  unset?: string[];
  webhookId?: string;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function register(program: Command): void {
  const cmd = program
    .command('trigger')
    .description('send one DocV event to a webhook URL (signed as configured) and print the response')
    .addArgument(
      new Argument(
        '<EVENT_TYPE>',
        `the event to send: ${DOCV_EVENT_TYPES.join(', ')} (asyncapi); any v5 type such as TEST_WEBHOOK or SESSION_COMPLETE (socure-v5); case_notes_added, evaluation_completed (riskos); with --dialect, any name`,
      ),
    )
    .addOption(
      new Option('--target <url>', 'webhook URL to deliver to')
        .env('DOCV_TARGET_URL')
        .argParser(urlArg)
        .makeOptionMandatory(),
    )
    .addOption(
      defaultInHelp(dialectOption('webhook shape: asyncapi, socure-v5, riskos'), 'the one the event type belongs to'),
    )
    .addOption(defaultInHelp(new Option('--transaction <id>', 'docvTransactionId, the v5 token'), 'a new UUID'))
    .option('--customer-user-id <id>', 'customerUserId (--set event.customerUserId=121212 sends a number)')
    .addOption(
      defaultInHelp(
        new Option(
          '--decision <decision>',
          'decision of VERIFICATION_COMPLETED and evaluation_completed (review breaks the asyncapi contract, on purpose)',
        ).choices(CANONICAL_DECISIONS),
        'accept',
      ),
    )
    .option('--set <field=value>', 'set a payload field; dotted paths; JSON values (repeatable)', collect)
    .option('--unset <field>', 'leave a payload field out (repeatable)', collect)
    .option('--webhook-id <id>', 'the webhook-id to send (reuse one to test deduplication)');
  addDeliveryFlags(cmd, 'none');
  addExamples(cmd, [
    {
      say: 'a rejection, to the local receiver',
      run: 'docv-webhooks trigger VERIFICATION_COMPLETED --target http://127.0.0.1:3000/socure/docv/webhook --decision reject',
    },
    {
      say: "Socure's dashboard test event (a v5 notification)",
      run: 'docv-webhooks trigger TEST_WEBHOOK --target http://127.0.0.1:3000/socure/docv/webhook',
    },
    {
      say: 'an event that breaks the contract, on purpose (a 422)',
      run: 'docv-webhooks trigger APP_OPENED --target http://127.0.0.1:3000/socure/docv/webhook --transaction demo-1 --unset eventTime',
    },
  ]);
  cmd.action(async (eventType: string, flags: TriggerFlags) => {
    let set: Record<string, unknown> | undefined;
    try {
      set = flags.set ? Object.fromEntries(flags.set.map(parseFieldAssignment)) : undefined;
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const out = process.stdout;
    let result: SendEventResult;
    try {
      result = await sendEvent({
        target: flags.target,
        eventType,
        dialect: flags.dialect,
        docvTransactionId: flags.transaction,
        customerUserId: flags.customerUserId,
        decision: flags.decision,
        set,
        unset: flags.unset,
        eventId: flags.webhookId,
        webhookSecret: flags.webhookSecret,
        signingSecrets: flags.signingSecret,
        retrySchedule: flags.retrySchedule,
        attemptTimeoutMs: flags.timeout,
        onAttempt: (n, o) => {
          // The cause in words first (as simulate's summary says it), the library's code after.
          const head =
            o.statusCode === undefined
              ? `no response (${o.failure ?? 'network error'}): ${o.error}`
              : `HTTP ${o.statusCode}`;
          out.write(`attempt ${n}: ${head} in ${Math.round(o.latencyMs)} ms\n`);
          if (o.response) out.write(`${o.response}\n`);
        },
      });
    } catch (err) {
      // What was asked cannot be sent (an event type the dialect lacks, a misplaced decision).
      if (err instanceof RangeError) throw new CliError(err.message);
      throw err;
    }
    out.write(`sent webhook-id ${result.eventId}: ${JSON.stringify(result.payload)}\n`);
    if (result.refused) process.stderr.write(`docv-webhooks: ${result.refused.message}\n`);
    if (!result.delivered) process.exitCode = 1;
  });
}
