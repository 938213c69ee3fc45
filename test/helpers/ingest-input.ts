import { contentKey } from '../../src/contract/index.js';
import type { IngestInput } from '../../src/store/index.js';

/** What the ingest pipeline hands a store for `event`: deduplicated by delivery id when given, else by content. */
export function ingestInput(event: Record<string, unknown>, deliveryId?: string): IngestInput {
  const hash = contentKey(event);
  return {
    dedupeKey: deliveryId ? `id:${deliveryId}` : hash,
    deliveryId: deliveryId ?? null,
    contentHash: hash,
    event: event as never,
    rawBody: Buffer.from(JSON.stringify(event)),
    headers: { 'content-type': 'application/json' },
    receivedAt: new Date(),
  };
}
