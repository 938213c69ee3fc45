// `docv-webhooks/testing`: for integrators' tests. Build a DocV notification in any dialect as
// the sandbox sends it, sign it as Socure or a Standard Webhooks sender would, and start the
// sandbox. Importing it loads nothing heavy: the sandbox (fastify, SQLite) is loaded by
// startSandbox when it is called.
import { randomUUID } from 'node:crypto';
import { buildNotification } from '../sandbox/dialects/index.js';
import { deliveryHeaders, type DeliveryAuth } from '../sandbox/delivery/headers.js';
import type { SandboxHandle, SandboxOptions } from '../sandbox/index.js';
import type { CanonicalDecision, Dialect } from '../contract/canonical-event.js';

export { signStandardWebhook } from '../auth/standard-webhooks.js';
export type { SandboxHandle, SandboxOptions, DeliveryAuth, CanonicalDecision, Dialect };

/** The completion's spelling in each dialect (RiskOS: evaluation_completed). */
const COMPLETIONS: ReadonlySet<string> = new Set(['VERIFICATION_COMPLETED', 'evaluation_completed']);

export interface SampleNotificationOptions {
  /** The transaction; default `txn-test-1`. */
  docvTransactionId?: string;
  /** On the event types that carry one (a completion). Default `accept`. */
  decision?: CanonicalDecision;
  /** When it happened, in milliseconds since the epoch. Default now. */
  at?: number;
  /** The envelope's id (v5 `id`, RiskOS `event_id`); default derived from the transaction and type. */
  notificationId?: string;
}

/**
 * One notification as the sandbox delivers it: `eventType` in the dialect's spelling
 * (`VERIFICATION_COMPLETED` for v5 and the flat contract, `evaluation_completed` for RiskOS) and
 * the JSON body. What `verifyDocvWebhook` and the receiver accept.
 */
export function sampleNotification(
  dialect: Dialect,
  eventType: string,
  options: SampleNotificationOptions = {},
): { eventType: string; payload: Record<string, unknown> } {
  const docvTransactionId = options.docvTransactionId ?? 'txn-test-1';
  return buildNotification(
    dialect,
    eventType,
    {
      docvTransactionId,
      referenceId: `ref-${docvTransactionId}`,
      customerUserId: 'customer-1',
      documentType: 'license',
      country: 'US',
    },
    {
      at: options.at ?? Date.now(),
      // Only a completion carries one, as the sandbox sends them (the flat contract refuses a
      // decision on any other type).
      decision: COMPLETIONS.has(eventType) ? (options.decision ?? 'accept') : undefined,
      notificationId: options.notificationId ?? `ntf-${docvTransactionId}-${eventType}`,
    },
  );
}

export interface SignedDeliveryOptions extends DeliveryAuth {
  /** `webhook-id`: the sender's id for the delivery, kept across its retries. Default a new random one. */
  webhookId?: string;
  /** When it is signed, in milliseconds. Default now. */
  now?: number;
}

/**
 * The body and headers of one delivery, exactly as the sandbox sends it: `Authorization` with the
 * shared secret, `webhook-id`, and with signing secrets `webhook-timestamp` and
 * `webhook-signature`. Hand them to your handler, to `verifyDocvWebhook`, or to `fetch`.
 */
export function signedDelivery(
  payload: unknown,
  options: SignedDeliveryOptions,
): { body: string; headers: Record<string, string> } {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const auth: DeliveryAuth = {
    ...(options.webhookSecret !== undefined ? { webhookSecret: options.webhookSecret } : {}),
    ...(options.signingSecrets !== undefined ? { signingSecrets: options.signingSecrets } : {}),
  };
  return {
    body,
    headers: deliveryHeaders(auth, options.webhookId ?? `msg_${randomUUID()}`, body, options.now ?? Date.now()),
  };
}

/** The sandbox (docs/sandbox.md#from-code), loaded on first call. */
export async function startSandbox(options?: SandboxOptions): Promise<SandboxHandle> {
  const sandbox = await import('../sandbox/index.js');
  return sandbox.startSandbox(options);
}
