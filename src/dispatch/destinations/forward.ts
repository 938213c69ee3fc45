import { request } from 'undici';
import { signStandardWebhook } from '../../auth/standard-webhooks.js';
import type { ClaimedDelivery } from '../../store/index.js';
import type { AttemptOutcome, Destination } from '../types.js';
import { withDeadline } from './deadline.js';
import { outcomeOfError, outcomeOfResponse } from './http-outcome.js';

export interface ForwardOptions {
  url: string;
  /** Standard Webhooks secret(s) (`whsec_…`) to sign with; unsigned when absent. */
  signingSecrets?: string[] | undefined;
  timeoutMs: number;
  name?: string;
}

/**
 * A stable destination name for a forward URL: host and path, never credentials or query (they
 * end up in logs and the admin API).
 */
export function forwardDestinationName(url: string): string {
  const u = new URL(url);
  return `forward:${u.host}${u.pathname}`;
}

/** What the integrator's service receives: the event as Socure sent it, plus what we know. */
export function forwardBody(delivery: ClaimedDelivery): string {
  const decision = delivery.fetchedDecision;
  return JSON.stringify({
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    docvTransactionId: delivery.docvTransactionId,
    receivedAt: delivery.receivedAt,
    event: delivery.event,
    decision: decision
      ? { value: decision.decision, reasonCodes: decision.reasonCodes, fetchedAt: decision.fetchedAt, ...(decision.details ? { details: decision.details } : {}) }
      : null,
  });
}

/** POSTs each event to the integrator's own service, signed with Standard Webhooks. */
export function createForwardDestination(options: ForwardOptions): Destination {
  const name = options.name ?? forwardDestinationName(options.url);
  return {
    name,
    async deliver(delivery, signal): Promise<AttemptOutcome> {
      const body = forwardBody(delivery);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'docv-webhooks-forward/1',
        // The delivery id is stable across retries, so the receiving side can deduplicate.
        'webhook-id': delivery.deliveryId,
      };
      if (options.signingSecrets?.length) {
        const timestamp = Math.floor(Date.now() / 1000);
        headers['webhook-timestamp'] = String(timestamp);
        headers['webhook-signature'] = signStandardWebhook(options.signingSecrets, delivery.deliveryId, timestamp, body);
      }
      const deadline = withDeadline(signal, options.timeoutMs);
      try {
        // undici's request rather than fetch: the same connection pool and no redirects followed,
        // without the WHATWG Request/Response/stream objects fetch builds per call (most of the
        // CPU an attempt cost).
        const res = await request(options.url, { method: 'POST', headers, body, signal: deadline.signal });
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        const retryAfter = res.headers['retry-after'];
        const outcome = outcomeOfResponse(res.statusCode, (Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) ?? null, ok ? '' : await bodySnippet(res.body));
        if (ok) await res.body.dump();
        return outcome;
      } catch (err) {
        return outcomeOfError(err, options.timeoutMs);
      } finally {
        deadline.done();
      }
    },
  };
}

/** The first bytes of an error body, for the attempt log: enough to debug, bounded. */
async function bodySnippet(body: { text(): Promise<string> }): Promise<string> {
  try {
    const text = await body.text();
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return '';
  }
}
