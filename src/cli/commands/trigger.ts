import { Argument, Command, Option } from 'commander';
import { DECISIONS, DOCV_EVENT_TYPES, type Decision, type DocvEventType } from '../../contract/index.js';
import { parseFieldAssignment, sendEvent } from '../../sandbox/index.js';
import { CliError } from '../errors.js';
import { addDeliveryFlags, urlArg, type DeliveryFlags } from './sandbox.js';

interface TriggerFlags extends DeliveryFlags {
  target: string;
  transaction?: string;
  customerUserId?: string;
  decision?: Decision;
  set?: string[];
  unset?: string[];
  eventId?: string;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function register(program: Command): void {
  const cmd = program
    .command('trigger')
    .description('send one DocV event to a webhook URL (signed as configured) and print the response')
    .addArgument(new Argument('<EVENT_TYPE>', 'the event to send').choices(DOCV_EVENT_TYPES))
    .addOption(new Option('--target <url>', 'webhook URL to deliver to').env('DOCV_TARGET_URL').argParser(urlArg).makeOptionMandatory())
    .option('--transaction <id>', 'docvTransactionId (a new UUID when absent)')
    .option('--customer-user-id <id>', 'customerUserId')
    .addOption(new Option('--decision <decision>', 'decision (VERIFICATION_COMPLETED sends accept unless told)').choices(DECISIONS))
    .option('--set <field=value>', 'set a payload field; dotted paths; JSON values (repeatable)', collect)
    .option('--unset <field>', 'leave a payload field out (repeatable)', collect)
    .option('--event-id <id>', 'the webhook-id to send (reuse one to test deduplication)');
  addDeliveryFlags(cmd, 'none').action(async (eventType: DocvEventType, flags: TriggerFlags) => {
    let set: Record<string, unknown> | undefined;
    try {
      set = flags.set ? Object.fromEntries(flags.set.map(parseFieldAssignment)) : undefined;
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const out = process.stdout;
    const result = await sendEvent({
      target: flags.target,
      eventType,
      docvTransactionId: flags.transaction,
      customerUserId: flags.customerUserId,
      decision: flags.decision,
      set,
      unset: flags.unset,
      eventId: flags.eventId,
      webhookSecret: flags.webhookSecret,
      signingSecrets: flags.signingSecret,
      retrySchedule: flags.retrySchedule,
      attemptTimeoutMs: flags.timeout,
      onAttempt: (n, o) => {
        const head = o.statusCode === undefined ? `no response: ${o.error}` : `HTTP ${o.statusCode}`;
        out.write(`attempt ${n}: ${head} in ${Math.round(o.latencyMs)} ms\n`);
        if (o.response) out.write(`${o.response}\n`);
      },
    });
    out.write(`sent ${result.eventId}: ${JSON.stringify(result.payload)}\n`);
    if (!result.delivered) process.exitCode = 1;
  });
}
