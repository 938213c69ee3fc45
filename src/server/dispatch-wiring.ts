import type { Logger } from 'pino';
import {
  attemptBudget,
  createDecisionFetchDestination,
  DEFAULT_DECISION_PENDING_MAX_MS,
  isSocureApi,
  SOCURE_APIS,
  createDispatcher,
  createForwardDestination,
  createHttpThread,
  forwardDestinationName,
  type Destination,
  type Dispatcher,
  type DispatcherOptions,
  type HandlerRegistry,
} from '../dispatch/index.js';
import { DECISION_FETCH_DESTINATION, type Store } from '../store/index.js';
import type { ReceiverConfig } from './config.js';
import { ConfigError } from './errors.js';

/** The outbox destinations this configuration delivers to, in a stable order. */
export function buildDestinations(config: ReceiverConfig, store: Store, handlers?: HandlerRegistry): Destination[] {
  const destinations: Destination[] = [];
  if (handlers) destinations.push(handlers);
  const seen = new Set<string>();
  // One thread for all forward URLs, started at the first POST (never, if dispatch is off here).
  const poster = config.dispatch.forwardUrls.length > 0 && config.dispatch.forwardThread !== false ? createHttpThread() : undefined;
  for (const url of config.dispatch.forwardUrls) {
    let name: string;
    try {
      name = forwardDestinationName(url);
    } catch {
      throw new ConfigError(`forward URL "${url}" is not a valid URL`);
    }
    if (!/^https?:$/.test(new URL(url).protocol)) throw new ConfigError(`forward URL "${url}" must be http(s)`);
    if (seen.has(name)) throw new ConfigError(`forward URL "${url}" is configured twice`);
    seen.add(name);
    destinations.push(createForwardDestination({ url, name, signingSecrets: config.dispatch.forwardSigningSecrets, timeoutMs: config.dispatch.forwardTimeoutMs, poster }));
  }
  if (config.socure.baseUrl && config.socure.apiKey) {
    // JavaScript callers can pass anything: a wrong API name must not quietly call the other one.
    const api = config.socure.api ?? 'idplus';
    if (!isSocureApi(api)) throw new ConfigError(`Socure API "${String(api)}" is not one of ${SOCURE_APIS.join(', ')}`);
    destinations.push(
      createDecisionFetchDestination({
        store,
        api,
        baseUrl: config.socure.baseUrl,
        apiKey: config.socure.apiKey,
        timeoutMs: config.socure.timeoutMs,
        storeDocumentData: config.socure.storeDocumentData,
        pendingMaxMs: config.socure.decisionPendingMaxMs ?? DEFAULT_DECISION_PENDING_MAX_MS,
        // The fetch marks the transaction itself on its last attempt, so it must know which one that is.
        maxAttempts: attemptBudget(config.dispatch.retry),
      }),
    );
  }
  return destinations;
}

/**
 * A lease must outlast any attempt, or a slow but healthy attempt would be taken over and made
 * twice; it should not be much longer, since a crashed worker's deliveries wait for it to run out.
 */
export function leaseFor(config: ReceiverConfig): number {
  if (config.dispatch.leaseMs > 0) return config.dispatch.leaseMs;
  const fetchesDecisions = Boolean(config.socure.baseUrl && config.socure.apiKey);
  return 2 * Math.max(config.dispatch.forwardTimeoutMs, fetchesDecisions ? config.socure.timeoutMs : 0) + 5_000;
}

/**
 * Tells the store which outbox rows new events create and builds the dispatcher that delivers
 * them (not started). Shared by `serve`, `worker` and the library receiver.
 */
export function wireDispatch(
  config: ReceiverConfig,
  store: Store,
  logger: Logger,
  options: { handlers?: HandlerRegistry | undefined; ingests: boolean; onAttempt?: DispatcherOptions['onAttempt']; throttle?: DispatcherOptions['throttle'] },
): { destinations: Destination[]; dispatcher: Dispatcher | null } {
  const destinations = buildDestinations(config, store, options.handlers);
  if (options.ingests) {
    store.configureOutbox({
      destinations: destinations.map((d) => d.name).filter((n) => n !== DECISION_FETCH_DESTINATION),
      fetchDecisions: destinations.some((d) => d.name === DECISION_FETCH_DESTINATION),
      decisionWaitMs: config.dispatch.decisionWaitMs,
    });
  }
  const dispatcher =
    config.dispatch.enabled && destinations.length > 0
      ? createDispatcher({
          store,
          destinations,
          logger,
          concurrency: config.dispatch.concurrency,
          retry: config.dispatch.retry,
          ordered: config.dispatch.ordered,
          leaseMs: leaseFor(config),
          pollMs: config.dispatch.pollMs,
          ...(options.throttle ? { throttle: options.throttle } : {}),
          ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
        })
      : null;
  return { destinations, dispatcher };
}
