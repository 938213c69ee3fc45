import { randomUUID } from 'node:crypto';

/**
 * The request bodies every section sends: whole DocV flows over unique transactions, interleaved
 * (many users are mid-flow at once), plus a share of exact re-deliveries, which is what Socure's
 * retries look like to a receiver.
 */
export interface PayloadOptions {
  /** Share of requests that repeat an earlier body byte for byte (0.1 = 10%). */
  duplicateShare?: number;
  /** Transactions in flight at once: their events interleave. */
  window?: number;
  /** Makes transaction ids unique to this generator. */
  runId?: string;
}

const DECISIONS = ['accept', 'accept', 'accept', 'reject', 'resubmit'] as const;
/** How far back a duplicate reaches: retries come soon after the first attempt. */
const RECENT = 512;

export interface PayloadGenerator {
  /** The next body (a Buffer, so the load generator does not re-encode it). */
  next(): Buffer;
  /** Bodies handed out so far, and how many of them were duplicates. */
  readonly sent: number;
  readonly duplicates: number;
}

/**
 * Flow per transaction: APP_OPENED, DOCUMENTS_UPLOADED, then VERIFICATION_COMPLETED (4 in 5) or
 * SESSION_EXPIRED. So about 32% / 32% / 27% / 7% over the four types, before duplicates.
 */
export function createPayloads(options: PayloadOptions = {}): PayloadGenerator {
  const duplicateShare = options.duplicateShare ?? 0.1;
  const window = options.window ?? 256;
  const runId = options.runId ?? randomUUID().slice(0, 8);
  const recent: Buffer[] = [];
  const t0 = Date.parse('2026-03-01T10:00:00Z');
  let fresh = 0;
  let sent = 0;
  let duplicates = 0;
  // A deterministic spread of duplicates: every 1/share-th request, not random clumps.
  let dupAccumulator = 0;

  function body(j: number): Buffer {
    const block = Math.floor(j / (3 * window));
    const tx = block * window + (j % window);
    const step = Math.floor(j / window) % 3;
    const docvTransactionId = transactionIdFor(runId, tx);
    const eventTime = new Date(t0 + tx * 1000 + step * 30_000).toISOString();
    const customerUserId = `cust-${tx % 100_000}`;
    let event: Record<string, string>;
    if (step === 0) event = { eventType: 'APP_OPENED', docvTransactionId, customerUserId, eventTime };
    else if (step === 1) event = { eventType: 'DOCUMENTS_UPLOADED', docvTransactionId, customerUserId, eventTime };
    else if (tx % 5 === 4) event = { eventType: 'SESSION_EXPIRED', docvTransactionId, customerUserId, eventTime };
    else
      event = {
        eventType: 'VERIFICATION_COMPLETED',
        docvTransactionId,
        customerUserId,
        eventTime,
        decision: DECISIONS[tx % DECISIONS.length]!,
      };
    return Buffer.from(JSON.stringify(event));
  }

  return {
    next() {
      sent++;
      dupAccumulator += duplicateShare;
      if (dupAccumulator >= 1 && recent.length > 0) {
        dupAccumulator -= 1;
        duplicates++;
        return recent[(sent * 7919) % recent.length]!;
      }
      const b = body(fresh++);
      if (recent.length < RECENT) recent.push(b);
      else recent[fresh % RECENT] = b;
      return b;
    },
    get sent() {
      return sent;
    },
    get duplicates() {
      return duplicates;
    },
  };
}

/** The transaction id of a body made by createPayloads (for lookups after a fill). */
export function transactionIdOf(body: Buffer): string {
  return (JSON.parse(body.toString('utf8')) as { docvTransactionId: string }).docvTransactionId;
}

/** The transaction ids createPayloads uses for run `runId` (same formula as its bodies). */
export function transactionIdFor(runId: string, tx: number): string {
  return `${runId}-${tx.toString(16).padStart(8, '0')}-4c2e-9d1a-bench`;
}

/** Whether createPayloads, after `events` fresh bodies, has sent transaction `tx` at least once. */
export function transactionStarted(tx: number, events: number, window = 256): boolean {
  return Math.floor(tx / window) * 3 * window + (tx % window) < events;
}
