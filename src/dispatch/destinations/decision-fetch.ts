import { formatDuration } from '../../retry/schedule.js';
import {
  DECISION_FETCH_DESTINATION,
  type ClaimedDelivery,
  type DecisionRecords,
  type ReadModel,
} from '../../store/types.js';
import type { AttemptOutcome, Destination } from '../types.js';
import { readCapped, snippet } from './capped-body.js';
import { withDeadline } from './deadline.js';
import { outcomeOfError, outcomeOfResponse } from './http-outcome.js';
import { decisionRequest, readDecisionAnswer, type SocureApi } from './socure-result.js';

/** What the fetch needs of the store: the transaction's decision, and where to put the answer. */
export type DecisionFetchStore = Pick<ReadModel, 'getTransaction'> & DecisionRecords;

export interface DecisionFetchOptions {
  store: DecisionFetchStore;
  /** Which call asks for the result (see socure-result.ts); ID+ by default. */
  api?: SocureApi;
  /** e.g. https://sandbox.socure.us */
  baseUrl: string;
  apiKey: string;
  /**
   * The Socure account to ask about a source's transactions, when it is not the one above (issue
   * 20: a sandbox and a production account on one receiver). Read at each attempt, so a reloaded
   * configuration applies to the next one. Null: this source has no credentials here at all.
   */
  credentialsFor?: ((source: string) => SocureCredentials | null | undefined) | undefined;
  timeoutMs: number;
  /** Keep document data (PII: names, dates of birth, document numbers). Off by default. */
  storeDocumentData: boolean;
  /**
   * How long after the fetch was queued an answer without a decision is still worth asking
   * again. Past it the transaction is marked decision-unavailable and the fetch ends, dead.
   */
  pendingMaxMs: number;
  /**
   * Attempts the dispatcher allows in all (retry-policy.ts, attemptBudget): the last one must
   * not end without saying so on the transaction.
   */
  maxAttempts: number;
  now?: () => number;
}

export const DEFAULT_DECISION_PENDING_MAX_MS = 10 * 60_000;

export interface SocureCredentials {
  baseUrl: string;
  apiKey: string;
}
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** What one call came to, before the attempt budget and the pending bound are applied. */
type FetchResult =
  | { kind: 'done'; outcome: AttemptOutcome }
  /** A 2xx answer without a decision: Socure has not decided yet. */
  | { kind: 'pending'; status: number; why: string };

/**
 * The document-verification result for each decision-fetch row of the outbox (which events get
 * one: lifecycle/decision-fetch-rule.ts). It runs as an outbox destination, so it is retried like
 * any delivery and survives restarts; it never ends without a decision unless the transaction
 * says so (`decisionUnavailable`).
 */
export function createDecisionFetchDestination(options: DecisionFetchOptions): Destination {
  const api = options.api ?? 'idplus';
  const receiverWide: SocureCredentials = { baseUrl: options.baseUrl, apiKey: options.apiKey };
  const now = options.now ?? Date.now;
  const store = options.store;

  /** The call itself: skipped when the API has already given the transaction its decision. */
  async function fetchOnce(
    delivery: ClaimedDelivery,
    txId: string,
    credentials: SocureCredentials,
    signal: AbortSignal,
  ): Promise<FetchResult> {
    const tx = await store.getTransaction(txId, delivery.source);
    if (tx && tx.decision !== null && tx.decisionSource === 'api') {
      // An earlier fetch got it: asking again (and an upload's fetch polling on) would only cost
      // calls. A decision an event carried is asked about all the same: it is only the sender's word.
      return {
        kind: 'done',
        outcome: {
          outcome: 'delivered',
          note: `the API already gave the transaction its decision (${tx.decision}); no call made`,
        },
      };
    }
    const customerUserId = delivery.event.customerUserId ?? tx?.customerUserId ?? null;
    const request = decisionRequest(api, credentials.baseUrl.replace(/\/+$/, ''), txId, customerUserId);
    const res = await fetch(request.url, {
      method: request.method,
      headers: {
        authorization: `SocureApiKey ${credentials.apiKey}`,
        accept: 'application/json',
        ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(request.body !== undefined ? { body: request.body } : {}),
      redirect: 'manual',
      signal,
    });
    if (!res.ok)
      return {
        kind: 'done',
        outcome: outcomeOfResponse(res.status, res.headers.get('retry-after'), await snippet(res)),
      };
    const read = await readCapped(res, MAX_RESPONSE_BYTES);
    if (!read.ok) return { kind: 'done', outcome: { outcome: 'failed', status: res.status, error: read.error } };
    const body = parseObject(read.bytes);
    if (!body)
      return {
        kind: 'done',
        outcome: { outcome: 'failed', status: res.status, error: 'response is not a JSON object' },
      };
    const answer = readDecisionAnswer(api, body);
    if (answer.kind === 'pending') return { kind: 'pending', status: res.status, why: answer.why };
    await store.recordDecision(
      delivery.eventId,
      txId,
      {
        decision: answer.decision,
        reasonCodes: answer.reasonCodes,
        fetchedAt: new Date(now()).toISOString(),
        ...(answer.decisionName !== undefined ? { decisionName: answer.decisionName } : {}),
        details: options.storeDocumentData ? body : null,
      },
      delivery.source,
    );
    return { kind: 'done', outcome: { outcome: 'delivered', status: res.status } };
  }

  /**
   * A pending answer is retried like a failure, within bounds: past `pendingMaxMs` since the row
   * was queued, or at the last attempt, the transaction is marked and the row ends.
   */
  async function settlePending(
    delivery: ClaimedDelivery,
    txId: string,
    pending: { status: number; why: string },
  ): Promise<AttemptOutcome> {
    const attemptsMade = delivery.attempts + 1;
    const createdAt = Date.parse(delivery.createdAt);
    const elapsed = Number.isNaN(createdAt) ? 0 : Math.max(0, now() - createdAt);
    const overdue = elapsed >= options.pendingMaxMs;
    if (!overdue && attemptsMade < options.maxAttempts)
      return { outcome: 'failed', status: pending.status, error: pending.why };
    const bound = overdue ? `past the ${formatDuration(options.pendingMaxMs)} bound` : 'at the last attempt allowed';
    const reason = `${pending.why} after ${attemptsMade} attempt${attemptsMade === 1 ? '' : 's'} over ${roughly(elapsed)} (${bound})`;
    const marked = await markUnavailable(txId, delivery.source, reason);
    if (marked !== null) return { outcome: 'failed', status: pending.status, error: `${reason}; ${marked}` };
    return {
      outcome: 'dead',
      status: pending.status,
      error: `decision unavailable: ${reason}; the transaction is marked decision-unavailable`,
    };
  }

  /**
   * An error on the attempt that ends the row (410, or the last attempt): the outcome stays as
   * outcomeOfResponse/outcomeOfError made it, and the transaction says no decision came.
   */
  async function settleEnding(
    delivery: ClaimedDelivery,
    txId: string,
    outcome: AttemptOutcome,
  ): Promise<AttemptOutcome> {
    if (outcome.outcome === 'delivered') return outcome;
    const attemptsMade = delivery.attempts + 1;
    if (outcome.outcome === 'failed' && attemptsMade < options.maxAttempts) return outcome;
    const marked = await markUnavailable(
      txId,
      delivery.source,
      `the decision fetch gave up after ${attemptsMade} attempt${attemptsMade === 1 ? '' : 's'}: ${outcome.error}`,
    );
    return { ...outcome, error: `${outcome.error}; ${marked ?? 'the transaction is marked decision-unavailable'}` };
  }

  /** Null when marked; else what went wrong, for the attempt's error (the row is retried then). */
  async function markUnavailable(txId: string, source: string, reason: string): Promise<string | null> {
    try {
      await store.markDecisionUnavailable(txId, reason, new Date(now()), source);
      return null;
    } catch (err) {
      return `could not mark the transaction decision-unavailable: ${(err as Error).message}`;
    }
  }

  return {
    name: DECISION_FETCH_DESTINATION,
    async deliver(delivery, signal): Promise<AttemptOutcome> {
      const txId = delivery.docvTransactionId;
      // The stores only queue fetches for events of a transaction; nothing to ask about otherwise.
      if (txId === null)
        return {
          outcome: 'delivered',
          note: 'no docvTransactionId on this event: nothing to fetch (a decision fetch should never be queued for it)',
        };
      const credentials = options.credentialsFor ? options.credentialsFor(delivery.source) : receiverWide;
      if (credentials === null)
        return settleEnding(delivery, txId, {
          outcome: 'dead',
          error: `no Socure API credentials for source "${delivery.source}": give it socure.baseUrl and socure.apiKey in the config file (or set SOCURE_BASE_URL and SOCURE_API_KEY), then replay`,
        });
      const deadline = withDeadline(signal, options.timeoutMs);
      let result: FetchResult;
      try {
        result = await fetchOnce(delivery, txId, credentials ?? receiverWide, deadline.signal);
      } catch (err) {
        result = { kind: 'done', outcome: outcomeOfError(err, options.timeoutMs) };
      } finally {
        deadline.done();
      }
      // Shutting down: the attempt was cut short, not answered; the next worker asks again.
      if (signal.aborted)
        return result.kind === 'done'
          ? result.outcome
          : { outcome: 'failed', status: result.status, error: result.why };
      if (result.kind === 'pending') return settlePending(delivery, txId, result);
      return settleEnding(delivery, txId, result.outcome);
    },
  };
}

/** `850ms`, `42s`, `11m 5s`: for people reading why a fetch ended. */
function roughly(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1_000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
