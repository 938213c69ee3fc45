import { redactUrl } from '../auth/redact-url.js';
import { sourceNameProblem } from '../contract/index.js';
import type { Subscription } from '../store/destinations.js';

/**
 * A destination as it is shown (`GET /v1/destinations`, `docv-webhooks destinations`): the store
 * keeps a forward URL's query (a process needs all of it to deliver), and a query may hold a
 * token (`?token=…`, `?sig=…`), so what is shown has those values as ***, like every URL printed.
 * Its subscription is shown as stored: `null` for every event, else the sources and event types
 * it takes (a list that is null takes all of its kind).
 */
export function shownDestination<T extends { url: string; subscription?: Subscription | null | undefined }>(
  destination: T,
): T & { subscription: Subscription | null } {
  return { ...destination, url: redactUrl(destination.url), subscription: destination.subscription ?? null };
}

/** A subscription in words, for a table cell or a card: "every event", "sources a, b · types X". */
export function subscriptionWords(subscription: Subscription | null | undefined): string {
  const parts = [
    subscription?.sources
      ? `source${subscription.sources.length === 1 ? '' : 's'} ${subscription.sources.join(', ')}`
      : null,
    subscription?.eventTypes
      ? `event type${subscription.eventTypes.length === 1 ? '' : 's'} ${subscription.eventTypes.join(', ')}`
      : null,
  ].filter((p): p is string => p !== null);
  return parts.length === 0 ? 'every event' : parts.join(' · ');
}

/** An event type as senders spell them (the admin API's `eventType` filter takes the same). */
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/**
 * Why a subscription cannot be stored, or null: a source name that breaks the naming rule or, when
 * `known` is given, names no source the receiver listens on; an event type no sender could send.
 * An empty list would take nothing at all: disabling the destination says that plainly.
 */
export function subscriptionProblem(subscription: Subscription, known?: readonly string[]): string | null {
  const { sources, eventTypes } = subscription;
  if (sources && sources.length === 0)
    return 'sources: an empty list takes no event; leave it out to take every source';
  if (eventTypes && eventTypes.length === 0)
    return 'eventTypes: an empty list takes no event; leave it out to take every event type';
  for (const name of sources ?? []) {
    const why = sourceNameProblem(name);
    if (why !== null) return `sources: ${why}`;
    if (known !== undefined && !known.includes(name))
      return `sources: this receiver has no source ${JSON.stringify(name)} (its sources: ${known.join(', ') || 'none'})`;
  }
  for (const type of eventTypes ?? [])
    if (!EVENT_TYPE.test(type))
      return `eventTypes: ${JSON.stringify(type.slice(0, 80))} is not an event type (a letter, then letters, digits, _ . : or -; at most 64)`;
  return null;
}
