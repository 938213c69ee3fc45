import { DEFAULT_SOURCE, eventTimeMs, type CanonicalEvent } from '../contract/index.js';

/** The largest event time a 12-hex-digit prefix holds (year 10889); later or earlier ones go unprefixed. */
const MAX_PREFIXED_MS = 0xffff_ffff_ffff;

/**
 * What a delivery is deduplicated by, the first that applies:
 * - `id:<webhook-id>` when the sender gave a delivery id (Standard Webhooks, Svix);
 * - `env:<dialect>:<envelope id>` when the envelope has an id of its own (v5 `id`, RiskOS
 *   `event_id`): Socure says to deduplicate on it, and a retry keeps it;
 * - `t:<event time, 12 hex digits of epoch ms>:<content hash>`;
 * - the bare content hash when the event time is the receipt time (the sender gave none): two
 *   receipts of one event have different receipt times, so the time cannot be part of the key.
 *
 * Why the time prefix: the key has a unique index, and a bare hash lands each new event on a
 * random page of it. A group commit of 50 events then rewrote about 60 pages of that index alone,
 * 44% of all the WAL it wrote (BENCHMARKS.md, third pass). Equal content means equal eventTime,
 * so the prefix changes no answer; it sorts the index by event time, and events arrive close to
 * their time, so new keys land on the few pages at its end. The stores' migrations rewrite the
 * keys of events stored before (SQLite 3, PostgreSQL 4) with the same formula.
 *
 * Under a source other than the default the key starts with `s:<source>:` (issue 20): two Socure
 * accounts deduplicate each their own deliveries, and one's webhook-id or envelope id never
 * matches the other's. No unprefixed key starts with `s:`. Each source's keys still sort by event
 * time within its prefix, so new keys stay on a few pages per source.
 */
export function dedupeKeyOf(
  event: Pick<CanonicalEvent, 'eventTime'> &
    Partial<Pick<CanonicalEvent, 'eventTimeSource' | 'envelopeId' | 'dialect'>>,
  contentHash: string,
  webhookId: string | null,
  source: string = DEFAULT_SOURCE,
): string {
  const key = unscopedDedupeKey(event, contentHash, webhookId);
  return source === DEFAULT_SOURCE ? key : `s:${source}:${key}`;
}

function unscopedDedupeKey(
  event: Pick<CanonicalEvent, 'eventTime'> &
    Partial<Pick<CanonicalEvent, 'eventTimeSource' | 'envelopeId' | 'dialect'>>,
  contentHash: string,
  webhookId: string | null,
): string {
  if (webhookId !== null) return `id:${webhookId}`;
  if (event.envelopeId !== undefined) return `env:${event.dialect ?? 'asyncapi'}:${event.envelopeId}`;
  if (event.eventTimeSource === 'receipt') return contentHash;
  const ms = eventTimeMs(event.eventTime);
  if (ms < 0 || ms > MAX_PREFIXED_MS) return contentHash;
  return `t:${ms.toString(16).padStart(12, '0')}:${contentHash}`;
}
