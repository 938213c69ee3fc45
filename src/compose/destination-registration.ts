import type { Logger } from 'pino';
import { storedForwardUrl } from '../dispatch/index.js';
import type { NewDestination } from '../store/destinations.js';
import { DECISION_FETCH_DESTINATION, type Store } from '../store/types.js';
import type { ReceiverConfig } from './config.js';

/** The destinations this process's flags name, as the store keeps them (no secret in them). */
export function flagDestinations(config: ReceiverConfig): NewDestination[] {
  const signed = config.dispatch.forwardSigningSecrets.length > 0;
  const wanted: NewDestination[] = config.dispatch.forwardUrls.map((url) => ({
    ...storedForwardUrl(url),
    kind: 'forward',
    signed,
  }));
  if (config.socure.baseUrl && config.socure.apiKey) {
    const base = new URL(config.socure.baseUrl);
    base.username = '';
    base.password = '';
    wanted.push({
      name: DECISION_FETCH_DESTINATION,
      kind: 'decision-fetch',
      url: base.toString(),
      signed: false,
      urlCredentials: false,
    });
  }
  return wanted;
}

/**
 * Adds the flags' destinations to the store when they are missing. One that is there is left as
 * it is, disabled included: flags say what a process can deliver, the store what is wanted, and
 * only an operator changes that (`docv-webhooks destinations …`, the admin API).
 */
export async function registerFlagDestinations(config: ReceiverConfig, store: Store, logger: Logger): Promise<void> {
  for (const destination of flagDestinations(config)) {
    const { outcome } = await store.addDestination(destination, 'keep');
    if (outcome === 'created')
      logger.info(
        { destination: destination.name },
        `added ${destination.name} to the store's destinations (from this process's flags)`,
      );
  }
}
