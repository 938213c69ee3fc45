import { eventTimeMs, type DocvEvent } from '../contract/index.js';

/** The largest event time a 12-hex-digit prefix holds (year 10889); later or earlier ones go unprefixed. */
const MAX_PREFIXED_MS = 0xffff_ffff_ffff;

/**
 * What a delivery is deduplicated by: `id:<webhook-id>` when the sender gave a delivery id, else
 * `t:<event time, 12 hex digits of epoch ms>:<content hash>`.
 *
 * Why the time prefix: the key has a unique index, and a bare hash lands each new event on a
 * random page of it. A group commit of 50 events then rewrote about 60 pages of that index alone,
 * 44% of all the WAL it wrote (BENCHMARKS.md, third pass). Equal content means equal eventTime,
 * so the prefix changes no answer; it sorts the index by event time, and events arrive close to
 * their time, so new keys land on the few pages at its end. The stores' migrations rewrite the
 * keys of events stored before (SQLite 3, PostgreSQL 4) with the same formula.
 */
export function dedupeKeyOf(event: Pick<DocvEvent, 'eventTime'>, contentHash: string, deliveryId: string | null): string {
  if (deliveryId !== null) return `id:${deliveryId}`;
  const ms = eventTimeMs(event.eventTime);
  if (ms < 0 || ms > MAX_PREFIXED_MS) return contentHash;
  return `t:${ms.toString(16).padStart(12, '0')}:${contentHash}`;
}
