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
  storedForwardUrl,
  transportOfUrl,
  createBrokerDestination,
  type Destination,
  type Dispatcher,
  type DispatcherOptions,
  type HandlerRegistry,
  type HttpPoster,
} from '../dispatch/index.js';
import type { Store } from '../store/index.js';
import type { SocureCredentials } from '../dispatch/destinations/decision-fetch.js';
import type { ReceiverConfig } from './config.js';
import { planDelivery, type PlannedDestination } from './destination-plan.js';
import { registerFlagDestinations } from './destination-registration.js';
import { reportDisagreements } from './destination-report.js';
import { DestinationSync } from './destination-sync.js';
import { ConfigError } from './errors.js';

/** Refuses destination flags that could never work, before anything is written to the store. */
export function validateDestinationConfig(config: ReceiverConfig): void {
  const seen = new Set<string>();
  for (const url of config.dispatch.forwardUrls) {
    let name: string;
    try {
      name = storedForwardUrl(url).name;
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    if (seen.has(name)) throw new ConfigError(`forward URL for ${name} is configured twice`);
    seen.add(name);
  }
  if (config.socure.baseUrl && config.socure.apiKey) {
    // JavaScript callers can pass anything: a wrong API name must not quietly call the other one.
    const api = config.socure.api ?? 'idplus';
    if (!isSocureApi(api)) throw new ConfigError(`Socure API "${String(api)}" is not one of ${SOCURE_APIS.join(', ')}`);
  }
}

/**
 * The Socure account a source's decision fetches use: its own (config file `socure:`), else the
 * receiver-wide one, else none (null: its fetches end dead, saying so).
 */
export function socureCredentials(config: ReceiverConfig, source: string): SocureCredentials | null {
  const own = config.sources?.find((s) => s.name === source)?.socure;
  if (own?.baseUrl && own.apiKey) return { baseUrl: own.baseUrl, apiKey: own.apiKey };
  if (config.socure.baseUrl && config.socure.apiKey)
    return { baseUrl: config.socure.baseUrl, apiKey: config.socure.apiKey };
  return null;
}

/**
 * Makes the destination object of a destination this process delivers to. `current` is read when
 * a delivery needs it (the decision fetch's credentials per source), so a reload applies at once.
 */
function destinationBuilder(
  current: () => ReceiverConfig,
  store: Store,
  poster: HttpPoster | undefined,
): (planned: PlannedDestination) => Destination {
  return (planned) => {
    const config = current();
    if (planned.kind === 'forward') {
      // The URL's scheme picks how: a broker's (issue 21) publishes, http(s) POSTs.
      const transport = transportOfUrl(planned.url);
      if (transport !== 'http')
        return createBrokerDestination(transport, {
          url: planned.url,
          name: planned.name,
          signingSecrets: config.dispatch.forwardSigningSecrets,
          timeoutMs: config.dispatch.forwardTimeoutMs,
        });
      return createForwardDestination({
        url: planned.url,
        name: planned.name,
        signingSecrets: config.dispatch.forwardSigningSecrets,
        timeoutMs: config.dispatch.forwardTimeoutMs,
        poster,
      });
    }
    return createDecisionFetchDestination({
      store,
      api: config.socure.api ?? 'idplus',
      baseUrl: planned.url,
      apiKey: config.socure.apiKey ?? '',
      credentialsFor: (source) => socureCredentials(current(), source),
      timeoutMs: config.socure.timeoutMs,
      storeDocumentData: config.socure.storeDocumentData,
      pendingMaxMs: config.socure.decisionPendingMaxMs ?? DEFAULT_DECISION_PENDING_MAX_MS,
      // The fetch marks the transaction itself on its last attempt, so it must know which one that is.
      maxAttempts: attemptBudget(config.dispatch.retry),
    });
  };
}

/**
 * A lease must outlast any attempt, or a slow but healthy attempt would be taken over and made
 * twice; it should not be much longer, since a crashed worker's deliveries wait for it to run out.
 */
export function leaseFor(config: ReceiverConfig): number {
  if (config.dispatch.leaseMs > 0) return config.dispatch.leaseMs;
  const fetchesDecisions =
    Boolean(config.socure.baseUrl && config.socure.apiKey) ||
    (config.sources ?? []).some((s) => s.socure?.baseUrl && s.socure.apiKey);
  return 2 * Math.max(config.dispatch.forwardTimeoutMs, fetchesDecisions ? config.socure.timeoutMs : 0) + 5_000;
}

export interface WiredDispatch {
  /** Delivers the store's active destinations (those this process can) and its own handlers; null when dispatch is off here. */
  dispatcher: Dispatcher | null;
  /** Names of the destinations this process delivers to now. */
  destinationNames(): string[];
  /** Reads the store's destinations again now (this process changed them). */
  destinationsChanged(): Promise<void>;
  /** Destinations this process's flags name that are disabled in the store (delivered here once enabled). */
  disabledInStore: string[];
  /**
   * A reloaded configuration (SIGHUP): the config file's destinations are planned against from
   * now, the decision fetch asks each source's Socure account as the new configuration says. The
   * lease, concurrency and retry schedule stay as started (a restart changes them).
   */
  reconfigure(next: ReceiverConfig): Promise<void>;
}

/**
 * Adds this process's destination flags to the store, tells the store which outbox rows are this
 * process's alone (one per handler), and builds the dispatcher (not started) that delivers the store's
 * destinations, following them as they change. Shared by `serve`, `worker` and the library receiver.
 */
export async function wireDispatch(
  config: ReceiverConfig,
  store: Store,
  logger: Logger,
  options: {
    handlers?: HandlerRegistry | undefined;
    ingests: boolean;
    onAttempt?: DispatcherOptions['onAttempt'];
    throttle?: DispatcherOptions['throttle'];
  },
): Promise<WiredDispatch> {
  validateDestinationConfig(config);
  await registerFlagDestinations(config, store, logger);
  let current = config;
  const handlers = options.handlers;
  const configureOutbox = () => {
    // Forwards and the decision fetch come from the store's destinations at each commit; this
    // process's own are its handlers, each a destination of its own.
    if (options.ingests)
      store.configureOutbox({
        destinations: handlers?.outboxNames() ?? [],
        fetchDecisions: false,
        decisionWaitMs: config.dispatch.decisionWaitMs,
      });
  };
  configureOutbox();
  const plan = planDelivery(await store.listDestinations(), config);
  if (!config.dispatch.enabled) {
    handlers?.onChange(configureOutbox);
    reportDisagreements(plan, logger, new Set(), false);
    return {
      dispatcher: null,
      destinationNames: () => [],
      destinationsChanged: async () => undefined,
      disabledInStore: plan.disabled,
      reconfigure: async (next) => {
        current = next;
      },
    };
  }

  // One thread for all forward URLs, started at the first POST (never, if nothing is forwarded here).
  const poster = config.dispatch.forwardThread !== false ? createHttpThread() : undefined;
  let dispatcher: Dispatcher | null = null;
  const sync = new DestinationSync({
    config,
    store,
    logger,
    local: handlers?.destinations() ?? [],
    build: destinationBuilder(() => current, store, poster),
    onChange: (destinations) => {
      if (!dispatcher) return;
      dispatcher.setDestinations(destinations);
      logger.info(
        { destinations: destinations.map((d) => d.name) },
        `the store's destinations changed: delivering to ${destinations.map((d) => d.name).join(', ') || 'none'}`,
      );
    },
  });
  sync.apply(plan);
  // A handler registered once the receiver runs (after ready()): its rows start with the next
  // event, and this process delivers them from now on.
  handlers?.onChange(() => {
    configureOutbox();
    sync.setLocal(handlers.destinations());
  });
  const inner = createDispatcher({
    store,
    destinations: sync.destinations,
    logger,
    concurrency: config.dispatch.concurrency,
    retry: config.dispatch.retry,
    ordered: config.dispatch.ordered,
    leaseMs: leaseFor(config),
    pollMs: config.dispatch.pollMs,
    ...(options.throttle ? { throttle: options.throttle } : {}),
    ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
  });
  let unsubscribe: (() => void) | undefined;
  dispatcher = {
    ...inner,
    start() {
      inner.start();
      sync.start();
      // Events another instance accepted (PostgreSQL NOTIFY) wake this worker at once.
      unsubscribe = store.onNewEvents?.(() => inner.wake());
    },
    async stop(graceMs) {
      unsubscribe?.();
      await sync.stop();
      await inner.stop(graceMs);
      await poster?.close();
    },
  };
  return {
    dispatcher,
    destinationNames: () => sync.destinations.map((d) => d.name),
    destinationsChanged: () => sync.refresh(),
    disabledInStore: plan.disabled,
    reconfigure: async (next) => {
      current = next;
      await sync.setConfig(next);
    },
  };
}
