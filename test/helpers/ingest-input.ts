import { contentKey } from '../../src/contract/index.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import type { IngestInput } from '../../src/store/index.js';

/** What the ingest pipeline hands a store for `event`: deduplicated by delivery id when given, else by content. */
export function ingestInput(event: Record<string, unknown>, deliveryId?: string): IngestInput {
  const hash = contentKey(event);
  return {
    dedupeKey: typeof event.eventTime === 'string' ? dedupeKeyOf({ eventTime: event.eventTime }, hash, deliveryId ?? null) : hash,
    deliveryId: deliveryId ?? null,
    contentHash: hash,
    event: event as never,
    rawBody: Buffer.from(JSON.stringify(event)),
    headers: { 'content-type': 'application/json' },
    receivedAt: new Date(),
  };
}
