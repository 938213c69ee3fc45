import type { Logger } from 'pino';
import { storedForwardUrl } from '../dispatch/index.js';
import { subscriptionColumn, type NewDestination } from '../store/destinations.js';
import { DECISION_FETCH_DESTINATION, type Store } from '../store/types.js';
import type { ReceiverConfig } from './config.js';
import { decisionFetchUrl } from './destination-plan.js';

/** The forwards the config file declares, as the store keeps them: with their subscriptions. */
export function fileDestinations(config: Pick<ReceiverConfig, 'destinations' | 'dispatch'>): NewDestination[] {
  const signed = config.dispatch.forwardSigningSecrets.length > 0;
  return (config.destinations ?? []).map((d) => ({
    ...storedForwardUrl(d.url),
    kind: 'forward',
    signed,
    subscription: { sources: d.sources ?? null, eventTypes: d.eventTypes ?? null },
  }));
}

/** The destinations this process's flags name, as the store keeps them (no secret in them). */
export function flagDestinations(config: ReceiverConfig): NewDestination[] {
  const signed = config.dispatch.forwardSigningSecrets.length > 0;
  const wanted: NewDestination[] = config.dispatch.forwardUrls.map((url) => ({
    ...storedForwardUrl(url),
    kind: 'forward',
    signed,
  }));
  const fetchUrl = decisionFetchUrl(config);
  if (fetchUrl !== undefined) {
    const base = new URL(fetchUrl);
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
export async function registerFlagDestinations(
  config: ReceiverConfig,
  store: Pick<Store, 'addDestination' | 'setDestinationState'>,
  logger: Pick<Logger, 'info'>,
): Promise<void> {
  await addKept(flagDestinations(config), store, logger);
  await syncConfiguredDestinations(store, config, undefined, logger);
}

/**
 * A reload's part of the above: the file's destinations, and the decision fetch when a source
 * has just been given Socure credentials of its own (the flags, which make the forwards, do not
 * change without a restart).
 */
export async function registerReloadedDestinations(
  next: ReceiverConfig,
  previous: ReceiverConfig,
  store: Pick<Store, 'addDestination' | 'setDestinationState'>,
  logger: Pick<Logger, 'info'>,
): Promise<DestinationSyncReport> {
  await addKept(
    flagDestinations(next).filter((d) => d.kind === 'decision-fetch'),
    store,
    logger,
  );
  return syncConfiguredDestinations(store, next, previous, logger);
}

async function addKept(
  destinations: NewDestination[],
  store: Pick<Store, 'addDestination'>,
  logger: Pick<Logger, 'info'>,
): Promise<void> {
  for (const destination of destinations) {
    const { outcome } = await store.addDestination(destination, 'keep');
    if (outcome === 'created')
      logger.info(
        { destination: destination.name },
        `added ${destination.name} to the store's destinations (from this process's configuration)`,
      );
  }
}

export interface DestinationSyncReport {
  added: string[];
  updated: string[];
  /** Declared by the previous file, not by this one: disabled (their deliveries wait; nothing is deleted). */
  disabled: string[];
}

/**
 * Makes the store's destinations say what the config file says (at start, and on each reload):
 * unlike flags, the file is where an operator declares a destination and its subscription, so it
 * replaces the url and subscription the store has (never the state: one an operator disabled stays
 * disabled). A destination the previous file declared and this one does not is disabled rather
 * than deleted: its deliveries stay, and enabling it again (or declaring it again) resumes them.
 * Deliveries in flight finish: the dispatcher follows the store at its next read.
 */
export async function syncConfiguredDestinations(
  store: Pick<Store, 'addDestination' | 'setDestinationState'>,
  next: Pick<ReceiverConfig, 'destinations' | 'dispatch'>,
  previous: Pick<ReceiverConfig, 'destinations' | 'dispatch'> | undefined,
  logger: Pick<Logger, 'info'>,
): Promise<DestinationSyncReport> {
  const report: DestinationSyncReport = { added: [], updated: [], disabled: [] };
  const wanted = fileDestinations(next);
  for (const destination of wanted) {
    const { outcome } = await store.addDestination(destination, 'replace');
    if (outcome === 'created') report.added.push(destination.name);
    if (outcome === 'updated') report.updated.push(destination.name);
    if (outcome !== 'unchanged')
      logger.info(
        { destination: destination.name, subscription: subscriptionColumn(destination.subscription) },
        `${outcome} ${destination.name} in the store's destinations (from the config file)`,
      );
  }
  const names = new Set(wanted.map((d) => d.name));
  for (const gone of previous ? fileDestinations(previous) : []) {
    if (names.has(gone.name)) continue;
    if (await store.setDestinationState(gone.name, 'disabled')) {
      report.disabled.push(gone.name);
      logger.info(
        { destination: gone.name },
        `disabled ${gone.name}: the config file no longer declares it (its deliveries wait; enable it to resume)`,
      );
    }
  }
  return report;
}
