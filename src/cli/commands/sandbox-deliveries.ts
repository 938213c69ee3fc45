import { CliError } from '../errors.js';
import { formatTable } from '../table.js';

/** `docv-webhooks deliveries --sandbox URL`: a sandbox's webhook deliveries, through its API. */

export interface SandboxDeliveriesFlags {
  sandbox: string;
  apiKey?: string;
  transaction?: string;
  status?: string;
  limit: number;
  retry?: boolean;
  cancel?: boolean;
  json?: boolean;
}

interface DeliveryRow {
  id: number;
  docvTransactionId: string;
  eventType: string;
  status: string;
  waitingFor?: number;
  reason?: string;
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  nextAttemptAt?: string;
  copy: number;
  attemptLog?: Array<{
    n: number;
    startedAt: string;
    latencyMs: number;
    statusCode?: number;
    error?: string;
    retryAfterMs?: number;
    response?: string;
  }>;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** Milliseconds for people: one decimal at most (`3.7 ms`), not the float a subtraction leaves. */
export function formatMs(ms: number): string {
  return `${Math.round(ms * 10) / 10} ms`;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** One call to the sandbox's API; its problem's detail becomes the CLI's error. */
async function call(
  flags: SandboxDeliveriesFlags,
  method: 'GET' | 'POST',
  path: string,
  query?: URLSearchParams,
): Promise<string> {
  const url = new URL(path, flags.sandbox);
  if (query) url.search = query.toString();
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `SocureApiKey ${flags.apiKey}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new CliError(`cannot reach the sandbox at ${flags.sandbox}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text.slice(0, 300);
    try {
      detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
    } catch {
      // not problem+json
    }
    throw new CliError(`the sandbox answered ${res.status}: ${detail}`);
  }
  return text;
}

/** NEXT says what a delivery waits for: a time, or the earlier delivery it goes after. */
function next(r: DeliveryRow): string {
  if (r.waitingFor !== undefined) return `after delivery ${r.waitingFor}`;
  return r.nextAttemptAt ?? '-';
}

/** The receiver's table style (formatTable), so both ends' listings read alike. */
function table(rows: DeliveryRow[]): string {
  const shown = rows.map((r) => ({
    // * marks a chaos duplicate, as the line under the table says.
    id: `${r.id}${r.copy > 1 ? '*' : ''}`,
    docvTransactionId: r.docvTransactionId,
    eventType: r.eventType,
    status: r.status,
    attempts: r.attempts,
    last: r.lastStatusCode ?? r.lastError,
    next: next(r),
  }));
  return formatTable(shown, ['id', 'docvTransactionId', 'eventType', 'status', 'attempts', 'last', 'next']);
}

async function list(flags: SandboxDeliveriesFlags): Promise<void> {
  const query = new URLSearchParams();
  if (flags.transaction) query.set('transaction', flags.transaction);
  if (flags.status) query.set('status', flags.status);
  query.set('limit', String(flags.limit));
  const text = await call(flags, 'GET', '/sandbox/deliveries', query);
  if (flags.json) return print(text);
  const body = JSON.parse(text) as { deliveries: DeliveryRow[]; counts: Record<string, number> };
  print(table(body.deliveries));
  const counts = Object.entries(body.counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  print(`(${body.deliveries.length} shown; all deliveries: ${counts || 'none'}; * marks a chaos duplicate)`);
}

/** One delivery: its fields, why it is where it is, and every attempt with its latency rounded. */
function show(d: DeliveryRow): void {
  const fields: Array<[string, unknown]> = [
    ['id', d.id],
    ['transaction', d.docvTransactionId],
    ['eventType', d.eventType],
    ['status', d.status],
    ['waitingFor', d.waitingFor],
    ['reason', d.reason],
    ['attempts', d.attempts],
    ['nextAttemptAt', d.nextAttemptAt],
  ];
  for (const [k, v] of fields) print(`${k.padEnd(14)} ${v ?? '-'}`);
  print('');
  if (!d.attemptLog?.length) return print('(no attempts yet)');
  const attempts = d.attemptLog.map((a) => ({
    attempt: a.n,
    startedAt: a.startedAt,
    latency: formatMs(a.latencyMs),
    status: a.statusCode,
    error: a.error,
    response: a.response,
  }));
  print(formatTable(attempts, ['attempt', 'startedAt', 'latency', 'status', 'error', 'response'], 60));
}

export async function sandboxDeliveries(deliveryId: string | undefined, flags: SandboxDeliveriesFlags): Promise<void> {
  if (!flags.apiKey) throw new CliError('--api-key (DOCV_SANDBOX_API_KEY) is required with --sandbox');
  if ((flags.cancel || flags.retry) && !deliveryId) {
    throw new CliError(
      `${flags.cancel ? '--cancel' : '--retry'} needs a delivery id: docv-webhooks deliveries <deliveryId> ${flags.cancel ? '--cancel' : '--retry'} --sandbox URL`,
    );
  }
  if (flags.cancel && flags.retry) throw new CliError('--cancel and --retry do opposite things: give one');
  if (!deliveryId) return list(flags);
  const path = `/sandbox/deliveries/${encodeURIComponent(deliveryId)}`;
  const action = flags.cancel ? 'cancel' : flags.retry ? 'retry' : undefined;
  const text = await call(flags, action ? 'POST' : 'GET', action ? `${path}/${action}` : path);
  if (flags.json) return print(text);
  const d = JSON.parse(text) as DeliveryRow;
  if (action === 'cancel')
    return print(
      `cancelled delivery ${d.id} (${d.eventType} of ${d.docvTransactionId}): no more attempts; the transaction's later deliveries go on`,
    );
  if (action === 'retry')
    return print(
      `re-queued delivery ${d.id} (${d.eventType} of ${d.docvTransactionId}): ${d.status}, with the whole retry schedule ahead`,
    );
  show(d);
}
