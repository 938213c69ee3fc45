import { signStandardWebhook } from '../../auth/standard-webhooks.js';

/** How deliveries authenticate: Socure's shared secret, Standard Webhooks signatures, or both. */
export interface DeliveryAuth {
  /** Sent as the whole `Authorization` value, as Socure sends the secret registered in its dashboard. */
  webhookSecret?: string;
  /** One signature per secret in `webhook-signature`, so receivers mid-rotation accept either. */
  signingSecrets?: readonly string[];
}

export const USER_AGENT = 'docv-webhooks-sandbox/0.1';

/**
 * Headers of one attempt. The timestamp (and so the signature) is fresh per attempt because
 * receivers reject timestamps more than five minutes old, while `webhook-id` stays the event's
 * id across retries and duplicates so the receiver can deduplicate.
 */
export function deliveryHeaders(
  auth: DeliveryAuth,
  webhookId: string,
  body: string,
  nowMs: number,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': webhookId,
  };
  if (auth.webhookSecret !== undefined && auth.webhookSecret !== '') headers.authorization = auth.webhookSecret;
  if (auth.signingSecrets && auth.signingSecrets.length > 0) {
    const timestamp = Math.floor(nowMs / 1000);
    headers['webhook-timestamp'] = String(timestamp);
    headers['webhook-signature'] = signStandardWebhook(auth.signingSecrets, webhookId, timestamp, body);
  }
  return headers;
}
