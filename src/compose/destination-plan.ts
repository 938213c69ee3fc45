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
  const flagged = new Map(config.dispatch.forwardUrls.map((url) => [storedForwardUrl(url).name, url]));
  const signing = config.dispatch.forwardSigningSecrets.length > 0;
  const fetches = Boolean(config.socure.baseUrl && config.socure.apiKey);
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
      if (fetches) plan.deliver.push({ name: d.name, kind: d.kind, url: config.socure.baseUrl! });
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
