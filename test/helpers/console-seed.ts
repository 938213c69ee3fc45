import { sampleNotification } from '../../src/entries/testing.js';
import type { CanonicalDecision, Dialect } from '../../src/contract/index.js';
import { startSink, type HttpSink } from './http-sink.js';

/**
 * What the operations console is shown with (browser tests, screenshots): a day's worth of
 * verifications in every dialect, through the real webhook route, with the cases support staff
 * look for: a customer with several attempts, a decision that arrived before the upload (out of
 * order), a retried event (duplicate), contradictory decisions (anomaly), a body the contract
 * refused (quarantine) and a destination that gives up on one transaction (dead delivery).
 */

export interface ConsoleSeed {
  /** The customer with several transactions (search for this). */
  customerUserId: string;
  /** Transactions by role. */
  outOfOrder: string;
  duplicated: string;
  conflicting: string;
  /** Its delivery to the failing destination dies (410 Gone) until the sink is told to accept. */
  deadDelivery: string;
  /** Every transaction id sent. */
  transactions: string[];
}

/** A sink that answers 410 for `refuse` transactions' forwards until `accept()` is called. */
export interface FlakySink extends HttpSink {
  refuse: Set<string>;
  accept(): void;
}

export async function startFlakySink(): Promise<FlakySink> {
  const refuse = new Set<string>();
  let accepting = false;
  const sink = (await startSink((req, res) => {
    const gone = !accepting && [...refuse].some((id) => req.body.includes(id));
    if (gone) res.writeHead(410, { 'content-type': 'text/plain' }).end('this customer was offboarded');
    else res.writeHead(200).end('ok');
  })) as FlakySink;
  sink.refuse = refuse;
  sink.accept = () => {
    accepting = true;
  };
  return sink;
}

type Deliver = (body: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: unknown }>;

function flat(eventType: string, docvTransactionId: string, at: number, extra: Record<string, unknown> = {}) {
  return {
    eventType,
    docvTransactionId,
    eventTime: new Date(at).toISOString(),
    customerUserId: 'cust-walk-in',
    ...extra,
  };
}

function notification(
  dialect: Dialect,
  eventType: string,
  docvTransactionId: string,
  at: number,
  decision?: CanonicalDecision,
) {
  return sampleNotification(dialect, eventType, { docvTransactionId, at, ...(decision ? { decision } : {}) }).payload;
}

/** Sends the seed through `deliver` (the receiver's webhook route, with its credentials). */
export async function seedConsole(
  deliver: Deliver,
  options: { now?: number; prefix?: string } = {},
): Promise<ConsoleSeed> {
  const now = options.now ?? Date.now();
  const p = options.prefix ?? 'txn';
  const minute = 60_000;
  const sent: string[] = [];
  const send = async (body: unknown) => {
    const res = await deliver(body);
    if (res.status !== 200) throw new Error(`seed delivery answered ${res.status}: ${JSON.stringify(res.json)}`);
  };

  // Ordinary flows in each dialect, decisions of every kind.
  const flows: Array<[Dialect, CanonicalDecision]> = [
    ['asyncapi', 'accept'],
    ['socure-v5', 'accept'],
    ['socure-v5', 'reject'],
    ['asyncapi', 'resubmit'],
    ['riskos', 'review'],
    ['socure-v5', 'accept'],
  ];
  for (const [i, [dialect, decision]] of flows.entries()) {
    const id = `${p}-${dialect}-${i}`;
    sent.push(id);
    const start = now - (flows.length - i) * 7 * minute;
    await send(notification(dialect, 'APP_OPENED', id, start));
    await send(notification(dialect, 'DOCUMENTS_UPLOADED', id, start + minute));
    await send(notification(dialect, 'VERIFICATION_COMPLETED', id, start + 2 * minute, decision));
  }

  // One customer, three attempts: a resubmit, an expiry, then an accept.
  const customerUserId = 'cust-ana-lima';
  for (const [i, end] of (['resubmit', 'expired', 'accept'] as const).entries()) {
    const id = `${p}-ana-${i + 1}`;
    sent.push(id);
    const start = now - (40 - i * 12) * minute;
    await send(flat('APP_OPENED', id, start, { customerUserId }));
    if (end === 'expired') await send(flat('SESSION_EXPIRED', id, start + 30 * minute, { customerUserId }));
    else {
      await send(flat('DOCUMENTS_UPLOADED', id, start + minute, { customerUserId }));
      await send(flat('VERIFICATION_COMPLETED', id, start + 2 * minute, { customerUserId, decision: end }));
    }
  }

  // The completion arrives before the upload and the opening (Socure retried those later).
  const outOfOrder = `${p}-late-upload`;
  sent.push(outOfOrder);
  await send(flat('VERIFICATION_COMPLETED', outOfOrder, now - 5 * minute, { decision: 'accept' }));
  await send(flat('APP_OPENED', outOfOrder, now - 8 * minute));
  await send(flat('DOCUMENTS_UPLOADED', outOfOrder, now - 7 * minute));

  // The same event three times: the first answer did not reach Socure in time.
  const duplicated = `${p}-retried`;
  sent.push(duplicated);
  const retried = flat('APP_OPENED', duplicated, now - 3 * minute);
  for (let i = 0; i < 3; i++) await send(retried);
  await send(flat('DOCUMENTS_UPLOADED', duplicated, now - 2 * minute));

  // Two completions that disagree.
  const conflicting = `${p}-two-verdicts`;
  sent.push(conflicting);
  await send(flat('APP_OPENED', conflicting, now - 20 * minute));
  await send(flat('VERIFICATION_COMPLETED', conflicting, now - 18 * minute, { decision: 'accept' }));
  await send(flat('VERIFICATION_COMPLETED', conflicting, now - 17 * minute, { decision: 'reject' }));

  // Its forward dies: the destination answers 410 Gone for it (see startFlakySink).
  const deadDelivery = `${p}-offboarded`;
  sent.push(deadDelivery);
  await send(flat('APP_OPENED', deadDelivery, now - minute));

  // A body the contract refuses: kept in quarantine (422), not an event.
  const refused = await deliver({ eventType: 'APP_OPENED', docvTransactionId: `${p}-broken`, eventTime: 'yesterday' });
  if (refused.status !== 422) throw new Error(`the refused body answered ${refused.status}, not 422`);

  return { customerUserId, outOfOrder, duplicated, conflicting, deadDelivery, transactions: sent };
}
