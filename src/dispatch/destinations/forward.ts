import { signStandardWebhook } from '../../auth/standard-webhooks.js';
import { canonicalFields } from '../../contract/index.js';
import type { ClaimedDelivery } from '../../store/index.js';
import type { AttemptOutcome, Destination } from '../types.js';
import { inlinePoster, type HttpPoster } from './http-post.js';

export interface ForwardOptions {
  url: string;
  /** Standard Webhooks secret(s) (`whsec_…`) to sign with; unsigned when absent. */
  signingSecrets?: string[] | undefined;
  timeoutMs: number;
  name?: string;
  /** Where the POST runs: this thread by default, or the forward thread (createHttpThread). */
  poster?: HttpPoster | undefined;
}

/**
 * A stable destination name for a forward URL: host and path, never credentials or query (they
 * end up in logs and the admin API).
 */
export function forwardDestinationName(url: string): string {
  const u = new URL(url);
  return `forward:${u.host}${u.pathname}`;
}

/**
 * What the integrator's service receives: the event as Socure sent it (document data removed
 * unless kept), the canonical reading of it whatever the dialect, the source it came through,
 * plus the fetched decision.
 */
export function forwardBody(delivery: ClaimedDelivery): string {
  const decision = delivery.fetchedDecision;
  return JSON.stringify({
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    docvTransactionId: delivery.docvTransactionId,
    // With several sources the transaction id alone is ambiguous (issue 20): the pair names it.
    source: delivery.source,
    receivedAt: delivery.receivedAt,
    event: delivery.event.payload,
    canonical: canonicalFields(delivery.event),
    decision: decision
      ? {
          value: decision.decision,
          // The decision logic Socure applied (`lenient`…), named as its answer names it.
          ...(decision.decisionName ? { name: decision.decisionName } : {}),
          reasonCodes: decision.reasonCodes,
          fetchedAt: decision.fetchedAt,
          ...(decision.details ? { details: decision.details } : {}),
        }
      : null,
  });
}

/**
 * The URL to POST to and the Authorization its user:password stands for. fetch refuses a URL with
 * credentials and undici's request drops them silently, so a forward to `https://user:pass@host/`
 * would arrive unauthenticated: they are sent as HTTP Basic instead, as curl and browsers do.
 */
export function forwardTarget(url: string): { url: string; authorization?: string } {
  const u = new URL(url);
  if (u.username === '' && u.password === '') return { url };
  const credentials = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` };
}

/** POSTs each event to the integrator's own service, signed with Standard Webhooks. */
export function createForwardDestination(options: ForwardOptions): Destination {
  const name = options.name ?? forwardDestinationName(options.url);
  const poster = options.poster ?? inlinePoster;
  const target = forwardTarget(options.url);
  return {
    name,
    deliver(delivery, signal): Promise<AttemptOutcome> {
      const body = forwardBody(delivery);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'docv-webhooks-forward/1',
        // The delivery id is stable across retries, so the receiving side can deduplicate.
        'webhook-id': delivery.deliveryId,
        // Routing without parsing the body: which Socure account (source) the event came through.
        'docv-source': delivery.source,
      };
      if (target.authorization !== undefined) headers.authorization = target.authorization;
      if (options.signingSecrets?.length) {
        const timestamp = Math.floor(Date.now() / 1000);
        headers['webhook-timestamp'] = String(timestamp);
        headers['webhook-signature'] = signStandardWebhook(
          options.signingSecrets,
          delivery.deliveryId,
          timestamp,
          body,
        );
      }
      return poster.post({ url: target.url, headers, body, timeoutMs: options.timeoutMs }, signal);
    },
    close: () => poster.close(),
  };
}
