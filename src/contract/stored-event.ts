import { canonicalFields, type CanonicalEvent, type CanonicalFields } from './canonical-event.js';
import type { DocvEvent } from './types.js';

/**
 * The canonical event of a flat, contract-shaped payload. Everything it says is in the payload, so
 * the stores keep no metadata for such events (the flat path writes nothing more than before).
 */
export function canonicalOfFlat(event: DocvEvent): CanonicalEvent {
  const canonical: CanonicalEvent = {
    dialect: 'asyncapi',
    eventType: event.eventType,
    docvTransactionId: event.docvTransactionId,
    eventTime: event.eventTime,
    eventTimeSource: 'event',
    test: false,
    payload: event as unknown as Record<string, unknown>,
  };
  if (event.customerUserId !== undefined) canonical.customerUserId = event.customerUserId;
  if (event.decision !== undefined) canonical.decision = event.decision;
  return canonical;
}

/**
 * What a store keeps beside the raw body to rebuild the canonical event: null for the flat
 * dialect (the payload says it all), the canonical fields as JSON text otherwise.
 */
export function storedMetadata(event: CanonicalEvent): string | null {
  return event.dialect === 'asyncapi' ? null : JSON.stringify(canonicalFields(event));
}

/** The canonical event back from a stored payload and its metadata (see storedMetadata). */
export function canonicalFromStored(
  payload: unknown,
  metadata: string | CanonicalFields | null | undefined,
): CanonicalEvent {
  const body = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  if (metadata === null || metadata === undefined) return canonicalOfFlat(body as unknown as DocvEvent);
  const fields = typeof metadata === 'string' ? (JSON.parse(metadata) as CanonicalFields) : metadata;
  return { ...fields, payload: body };
}
