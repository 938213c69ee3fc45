import { canonicalOfFlat, contentKey, type CanonicalEvent, type DocvEvent } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import type { IngestInput } from '../../src/store/index.js';

/**
 * What the ingest pipeline hands a store for a flat (contract-shaped) `event`: deduplicated by
 * webhook-id when given, else by content.
 */
export function ingestInput(event: Record<string, unknown>, webhookId?: string): IngestInput {
  const hash = contentKey(event);
  return {
    dedupeKey:
      typeof event.eventTime === 'string' ? dedupeKeyOf({ eventTime: event.eventTime }, hash, webhookId ?? null) : hash,
    webhookId: webhookId ?? null,
    contentHash: hash,
    event: canonicalOfFlat(event as unknown as DocvEvent),
    rawBody: Buffer.from(JSON.stringify(event)),
    headers: { 'content-type': 'application/json' },
    receivedAt: new Date(),
  };
}

/**
 * What the pipeline hands a store for an event of any dialect, already normalised: deduplicated
 * by webhook-id when given, else by the envelope's own id, else by content (as
 * ingest/dedupe-key.ts does).
 */
export function canonicalInput(
  event: CanonicalEvent,
  options: { webhookId?: string; receivedAt?: Date } = {},
): IngestInput {
  const hash = contentKey(event.payload);
  const webhookId = options.webhookId ?? null;
  return {
    dedupeKey: dedupeKeyOf(event, hash, webhookId),
    webhookId,
    contentHash: hash,
    event,
    rawBody: Buffer.from(JSON.stringify(event.payload)),
    headers: { 'content-type': 'application/json' },
    receivedAt: options.receivedAt ?? new Date(),
  };
}
