import { isDecision } from '../../contract/index.js';
import { DECISION_FETCH_DESTINATION, type ClaimedDelivery, type Store } from '../../store/index.js';
import type { AttemptOutcome, Destination } from '../types.js';
import { withDeadline } from './deadline.js';
import { outcomeOfError, outcomeOfResponse, snippet } from './http-outcome.js';

export interface DecisionFetchOptions {
  store: Store;
  /** e.g. https://sandbox.socure.com */
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  /** Keep document data (PII: names, dates of birth, document numbers). Off by default. */
  storeDocumentData: boolean;
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Get A DocV Transaction for each VERIFICATION_COMPLETED: the decision of record, with reason
 * codes. It runs as an outbox destination, so it is retried like any delivery and survives restarts.
 */
export function createDecisionFetchDestination(options: DecisionFetchOptions): Destination {
  const base = options.baseUrl.replace(/\/+$/, '');

  async function fetchDecision(delivery: ClaimedDelivery, signal: AbortSignal): Promise<AttemptOutcome> {
    const url = `${base}/api/3.0/documents/${encodeURIComponent(delivery.docvTransactionId)}`;
    const res = await fetch(url, {
      headers: { authorization: `SocureApiKey ${options.apiKey}`, accept: 'application/json' },
      redirect: 'manual',
      signal,
    });
    if (!res.ok) return outcomeOfResponse(res.status, res.headers.get('retry-after'), await snippet(res));
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_RESPONSE_BYTES) {
      await res.body?.cancel();
      return { outcome: 'failed', status: res.status, error: `response of ${length} bytes is over ${MAX_RESPONSE_BYTES}` };
    }
    let body: Record<string, unknown>;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      return { outcome: 'failed', status: res.status, error: 'response is not JSON' };
    }
    const decision = body.decision as { value?: unknown; reasonCodes?: unknown } | undefined;
    if (!decision || !isDecision(decision.value)) {
      // Socure may answer before the decision is ready: try again later.
      return { outcome: 'failed', status: res.status, error: 'no decision in the response yet' };
    }
    const reasonCodes = Array.isArray(decision.reasonCodes) ? decision.reasonCodes.filter((c): c is string => typeof c === 'string').slice(0, 100) : [];
    await options.store.recordDecision(delivery.eventId, delivery.docvTransactionId, {
      decision: decision.value,
      reasonCodes,
      fetchedAt: new Date().toISOString(),
      details: options.storeDocumentData ? body : null,
    });
    return { outcome: 'delivered', status: res.status };
  }

  return {
    name: DECISION_FETCH_DESTINATION,
    async deliver(delivery, signal): Promise<AttemptOutcome> {
      const deadline = withDeadline(signal, options.timeoutMs);
      try {
        return await fetchDecision(delivery, deadline.signal);
      } catch (err) {
        return outcomeOfError(err, options.timeoutMs);
      } finally {
        deadline.done();
      }
    },
  };
}
