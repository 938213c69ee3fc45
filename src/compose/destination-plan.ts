import { storedForwardUrl } from '../dispatch/index.js';
import type { DestinationKind, StoredDestination } from '../store/destinations.js';
import { DECISION_FETCH_DESTINATION } from '../store/types.js';
import type { ReceiverConfig } from './config.js';

/** A destination this process delivers to, with the URL it uses. */
export interface PlannedDestination {
  name: string;
  kind: DestinationKind;
  /** From this process's flags when they name it (they may carry user:password), else the store's. */
  url: string;
}

/**
 * What a process delivers, given the store's destinations and what its flags and environment hold.
 * Every active destination is delivered by every process that can (any worker may take any
 * delivery); a process lacks what one needs only when the secret lives elsewhere.
 */
export interface DeliveryPlan {
  deliver: PlannedDestination[];
  /** This process's flags name destinations of their own (a process without any simply follows the store). */
  flagged: boolean;
  /** Active in the store and delivered here, though this process's flags do not name them. */
  notInFlags: string[];
  /** Active in the store, but this process lacks what they need: their deliveries wait for one that has it. */
  cannot: Array<{ name: string; why: string }>;
  /** Named by this process's flags but disabled in the store. */
  disabled: string[];
  /** Named by this process's flags with another URL than the store's (scheme, port or query): this process uses its own. */
  urlDiffers: string[];
}

export function planDelivery(stored: readonly StoredDestination[], config: ReceiverConfig): DeliveryPlan {
  // The config file's forwards are this process's as much as its flags' (they may carry user:password too).
  const flagged = new Map(
    [...config.dispatch.forwardUrls, ...(config.destinations ?? []).map((d) => d.url)].map((url) => [
      storedForwardUrl(url).name,
      url,
    ]),
  );
  const signing = config.dispatch.forwardSigningSecrets.length > 0;
  const fetches = fetchesDecisions(config);
  const plan: DeliveryPlan = {
    deliver: [],
    flagged: flagged.size > 0 || fetches,
    notInFlags: [],
    cannot: [],
    disabled: [],
    urlDiffers: [],
  };
  for (const d of stored) {
    const named = d.kind === 'decision-fetch' ? fetches : flagged.has(d.name);
    if (d.state !== 'active') {
      if (named) plan.disabled.push(d.name);
      continue;
    }
    if (d.kind === 'decision-fetch') {
      if (d.name !== DECISION_FETCH_DESTINATION) continue;
      if (fetches) plan.deliver.push({ name: d.name, kind: d.kind, url: decisionFetchUrl(config)! });
      else
        plan.cannot.push({
          name: d.name,
          why: 'it needs SOCURE_BASE_URL and SOCURE_API_KEY, which this process does not have',
        });
      continue;
    }
    const own = flagged.get(d.name);
    if (d.signed && !signing) {
      plan.cannot.push({
        name: d.name,
        why: 'its deliveries must be signed and this process has no --forward-signing-secret',
      });
    } else if (own !== undefined) {
      plan.deliver.push({ name: d.name, kind: d.kind, url: own });
      if (storedForwardUrl(own).url !== d.url) plan.urlDiffers.push(d.name);
    } else if (d.urlCredentials) {
      plan.cannot.push({
        name: d.name,
        why: 'its URL carries user:password, which the store does not keep; give this process the URL with --forward-url',
      });
    } else {
      plan.deliver.push({ name: d.name, kind: d.kind, url: d.url });
      plan.notInFlags.push(d.name);
    }
  }
  return plan;
}

/**
 * Whether this process can fetch decisions: with the receiver-wide Socure credentials, or with a
 * source's own (a source without them then uses the receiver-wide ones, or gets none: see
 * dispatch-wiring.ts, socureCredentials).
 */
export function fetchesDecisions(config: Pick<ReceiverConfig, 'socure' | 'sources'>): boolean {
  return decisionFetchUrl(config) !== undefined;
}

/** The URL the decision-fetch destination is stored with: the receiver-wide one, else the first source's. */
export function decisionFetchUrl(config: Pick<ReceiverConfig, 'socure' | 'sources'>): string | undefined {
  if (config.socure.baseUrl && config.socure.apiKey) return config.socure.baseUrl;
  return config.sources?.find((s) => s.socure?.baseUrl && s.socure.apiKey)?.socure?.baseUrl;
}
