/**
 * Where events go, kept in the store so that every process on it agrees: the receiver that
 * accepts an event makes one outbox row per active destination, whichever process added it and
 * whatever the receiver's own flags say. Secrets are never stored: a forward's signing secret, the
 * user:password of its URL and the Socure API key stay in the flags of the processes that deliver.
 */

/** `forward`: POST every event to `url`. `decision-fetch`: ask Socure at `url` for the decision. */
export type DestinationKind = 'forward' | 'decision-fetch';
export const DESTINATION_KINDS: readonly DestinationKind[] = ['forward', 'decision-fetch'];

/** A disabled destination gets no new outbox rows, and no worker takes the rows it already has. */
export type DestinationState = 'active' | 'disabled';
export const DESTINATION_STATES: readonly DestinationState[] = ['active', 'disabled'];

export interface NewDestination {
  /** `forward:<host><path>` (dispatch/destinations/forward.ts) or `decision-fetch`. */
  name: string;
  kind: DestinationKind;
  /** Without user:password. */
  url: string;
  /** Forward: deliveries must carry a signature, so only a process with a signing secret takes them. */
  signed: boolean;
  /** Forward: the URL had user:password, which is not stored; only a process whose flags give it delivers. */
  urlCredentials: boolean;
  /**
   * What it subscribes to (issue 20): only events of these sources and of these event types;
   * absent or null: all. A log destination's worker passes over the others (its cursor moves on
   * without a delivery), and its deliveries, counts and replays leave them out.
   */
  subscription?: Subscription | null | undefined;
}

/** Which events a destination takes; a missing or null list means every one. */
export interface Subscription {
  sources?: string[] | null | undefined;
  eventTypes?: string[] | null | undefined;
}

/** Whether a destination with this subscription takes an event of this source and type. */
export function subscribes(
  subscription: Subscription | null | undefined,
  event: { source: string; eventType: string },
): boolean {
  if (!subscription) return true;
  if (subscription.sources && !subscription.sources.includes(event.source)) return false;
  if (subscription.eventTypes && !subscription.eventTypes.includes(event.eventType)) return false;
  return true;
}

/** A subscription as stored (one text column, JSON), null for "everything". */
export function subscriptionColumn(subscription: Subscription | null | undefined): string | null {
  const sources = subscription?.sources ?? null;
  const eventTypes = subscription?.eventTypes ?? null;
  if (sources === null && eventTypes === null) return null;
  return JSON.stringify({ sources, eventTypes });
}

export function subscriptionOfColumn(value: string | null | undefined): Subscription | null {
  if (value === null || value === undefined || value === '') return null;
  const parsed = JSON.parse(value) as Subscription;
  return { sources: parsed.sources ?? null, eventTypes: parsed.eventTypes ?? null };
}

export interface StoredDestination extends NewDestination {
  subscription: Subscription | null;
  state: DestinationState;
  createdAt: string;
  updatedAt: string;
}

/**
 * `keep`: add it when missing, change nothing otherwise (what a process does with its flags at
 * start: it says so when the store disagrees, it never overrules it). `replace`: an operator's
 * `destinations add` / `POST /v1/destinations`, which also sets url, signed and urlCredentials of
 * an existing one. Neither changes the state: a disabled destination is enabled only on purpose.
 */
export type AddDestinationMode = 'keep' | 'replace';

export interface AddDestinationResult {
  destination: StoredDestination;
  outcome: 'created' | 'updated' | 'unchanged';
}

/** What ingest needs of an active destination. */
export interface ActiveDestination {
  name: string;
  kind: DestinationKind;
}

/** The outbox rows an accepted event gets (see OutboxConfig in types.ts). */
export interface OutboxTargets {
  destinations: string[];
  fetchDecisions: boolean;
  decisionWaitMs: number;
}

/**
 * This process's own destinations (configureOutbox: a library's in-process handlers) and the
 * store's active ones: a forward is a row per event, the decision fetch a row where the rule
 * calls for one.
 */
export function outboxTargets(local: OutboxTargets, active: readonly ActiveDestination[]): OutboxTargets {
  if (active.length === 0) return local;
  const names = new Set(local.destinations);
  let fetchDecisions = local.fetchDecisions;
  for (const d of active) {
    if (d.kind === 'decision-fetch') fetchDecisions = true;
    else names.add(d.name);
  }
  return { destinations: [...names], fetchDecisions, decisionWaitMs: local.decisionWaitMs };
}

/** A row of either store's destinations table (timestamps as text or Date, booleans as 0/1 or boolean). */
export interface DestinationRow {
  name: string;
  kind: string;
  url: string;
  state: string;
  signed: number | boolean;
  url_credentials: number | boolean;
  /** JSON (subscriptionColumn); added in issue 20 (SQLite v11, PostgreSQL v12). */
  subscription: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

export function destinationOf(row: DestinationRow): StoredDestination {
  return {
    name: row.name,
    kind: row.kind as DestinationKind,
    url: row.url,
    state: row.state as DestinationState,
    signed: Boolean(row.signed),
    urlCredentials: Boolean(row.url_credentials),
    subscription: subscriptionOfColumn(row.subscription),
    createdAt: typeof row.created_at === 'string' ? row.created_at : row.created_at.toISOString(),
    updatedAt: typeof row.updated_at === 'string' ? row.updated_at : row.updated_at.toISOString(),
  };
}

/** Whether `replace` would change anything of `existing`. */
export function differs(existing: StoredDestination, wanted: NewDestination): boolean {
  return (
    existing.url !== wanted.url ||
    existing.signed !== wanted.signed ||
    existing.urlCredentials !== wanted.urlCredentials ||
    existing.kind !== wanted.kind ||
    subscriptionColumn(existing.subscription) !== subscriptionColumn(wanted.subscription)
  );
}
