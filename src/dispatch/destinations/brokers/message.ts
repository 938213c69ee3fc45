import { signStandardWebhook } from '../../../auth/standard-webhooks.js';
import type { ClaimedDelivery } from '../../../store/index.js';
import { forwardBody } from '../forward.js';

/**
 * What every broker receives for a delivery: the HTTP forward's body, and as message headers what
 * the HTTP forward sends as request headers plus the event's ids, so a consumer can route and
 * deduplicate without parsing the body. `webhook-id` is the delivery id, the same on every retry
 * and replay (JetStream's Nats-Msg-Id and a consumer's deduplication key).
 */
export interface BrokerMessage {
  body: string;
  headers: Record<string, string>;
}

export const MESSAGE_CONTENT_TYPE = 'application/json';

export function brokerMessage(delivery: ClaimedDelivery, signingSecrets?: readonly string[]): BrokerMessage {
  const body = forwardBody(delivery);
  const headers: Record<string, string> = {
    'content-type': MESSAGE_CONTENT_TYPE,
    'webhook-id': delivery.deliveryId,
    'docv-event-id': delivery.eventId,
    'docv-event-type': delivery.eventType,
    'docv-source': delivery.source,
  };
  if (delivery.docvTransactionId !== null) headers['docv-transaction-id'] = delivery.docvTransactionId;
  if (signingSecrets?.length) {
    const timestamp = Math.floor(Date.now() / 1000);
    headers['webhook-timestamp'] = String(timestamp);
    headers['webhook-signature'] = signStandardWebhook([...signingSecrets], delivery.deliveryId, timestamp, body);
  }
  return { body, headers };
}

/** The fields a routing key, subject or stream-name template may name. */
export const TEMPLATE_FIELDS = ['eventType', 'decision', 'source', 'docvTransactionId', 'dialect'] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Throws a TypeError naming a placeholder that is not a template field (checked when the URL is read). */
export function checkTemplate(template: string, what: string): void {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(m[1]!))
      throw new TypeError(
        `${what} "${template}" names {${m[1]}}: use ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(', ')}`,
      );
  }
}

/**
 * A template filled in for one delivery (`docv.{eventType}.{decision}` → `docv.VERIFICATION_COMPLETED.accept`).
 * A field the event lacks is `none`. `clean` makes each value safe where it lands: a NATS subject
 * token or a routing key word must not contain the separator (`.`), wildcards or spaces.
 */
export function renderTemplate(
  template: string,
  delivery: Pick<ClaimedDelivery, 'eventType' | 'docvTransactionId' | 'source' | 'event' | 'fetchedDecision'>,
  clean: (value: string) => string = (v) => v,
): string {
  const values: Record<TemplateField, string | null | undefined> = {
    eventType: delivery.eventType,
    decision: delivery.fetchedDecision?.decision ?? delivery.event.decision ?? null,
    source: delivery.source,
    docvTransactionId: delivery.docvTransactionId,
    dialect: delivery.event.dialect,
  };
  return template.replace(PLACEHOLDER, (_all, field: TemplateField) => clean(values[field] ?? 'none'));
}

/** For subjects and routing keys: `.`, `*`, `>`, `#` and whitespace become `_`, so a value is one token. */
export function tokenSafe(value: string): string {
  return value.replace(/[.*>#\s]/g, '_') || 'none';
}
