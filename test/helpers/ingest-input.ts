import { canonicalOfFlat, contentKey, type CanonicalEvent, type DocvEvent } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import type { IngestInput } from '../../src/store/index.js';

/**
 * What the ingest pipeline hands a store for a flat (contract-shaped) `event`: deduplicated by
 * delivery id when given, else by content.
 */
export function ingestInput(event: Record<string, unknown>, deliveryId?: string): IngestInput {
  const hash = contentKey(event);
  return {
    dedupeKey: typeof event.eventTime === 'string' ? dedupeKeyOf({ eventTime: event.eventTime }, hash, deliveryId ?? null) : hash,
    deliveryId: deliveryId ?? null,
    contentHash: hash,
    event: canonicalOfFlat(event as unknown as DocvEvent),
    rawBody: Buffer.from(JSON.stringify(event)),
    headers: { 'content-type': 'application/json' },
    receivedAt: new Date(),
  };
}

/**
 * What the pipeline hands a store for an event of any dialect, already normalised: deduplicated
 * by delivery id when given, else by the envelope's own id, else by content (as
 * ingest/dedupe-key.ts does).
 */
export function canonicalInput(event: CanonicalEvent, options: { deliveryId?: string; receivedAt?: Date } = {}): IngestInput {
  const hash = contentKey(event.payload);
  const deliveryId = options.deliveryId ?? null;
  return {
    dedupeKey: deliveryId === null && event.envelopeId !== undefined ? `env:${event.envelopeId}` : dedupeKeyOf(event, hash, deliveryId),
    deliveryId,
    contentHash: hash,
    event,
    rawBody: Buffer.from(JSON.stringify(event.payload)),
    headers: { 'content-type': 'application/json' },
    receivedAt: options.receivedAt ?? new Date(),
  };
}
