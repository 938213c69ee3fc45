import { randomBytes, randomUUID } from 'node:crypto';

/** Ids look like Socure's (UUIDs) where Socure uses UUIDs, so receivers' column sizes fit. */
export function newTransactionId(): string {
  return randomUUID();
}

export function newReferenceId(): string {
  return randomUUID();
}

/** The unguessable part of a `sessionUrl`: knowing a transaction id must not open its capture page. */
export function newSessionToken(): string {
  return randomBytes(18).toString('base64url');
}

/** One id per event, reused by every delivery of it as `webhook-id`, so receivers can deduplicate. */
export function newEventId(): string {
  return `evt_${randomBytes(12).toString('base64url')}`;
}

export function newApiKey(): string {
  return `sandbox_${randomBytes(18).toString('base64url')}`;
}
