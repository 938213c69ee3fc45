import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { InboundAuth } from '../auth/index.js';
import {
  ConfigError,
  refuseUnknownOptions,
  resolveReceiverConfig,
  wireDispatch,
  type DeprecatedReceiverSpellings,
  type ReceiverConfig,
  type ReceiverConfigInput,
  type WiredDispatch,
} from '../compose/index.js';
import { sourcesOf, type SourceConfig } from '../compose/config.js';
import {
  burstThrottle,
  DeliveryBacklog,
  DeliveryBackpressure,
  type Dispatcher,
  type HandlerRegistry,
} from '../dispatch/index.js';
import { DECISION_FETCH_DESTINATION, openStore, type Store } from '../store/index.js';
import { ThreadedSqliteStore } from '../store/drivers.js';
import { startRetentionJob } from '../compose/retention-job.js';
import { checkAdminExposure } from './admin-exposure.js';
import { buildApp } from './app.js';
import { listenError, listeningAddress } from './listen.js';
import { createLogger } from './logger.js';
import { ReceiverMetrics } from './metrics.js';
import { isLoopbackHost } from './loopback.js';
import { checkReloadable, logReload, oneAtATime, reloadDispatch, restartNeeded, type ReloadReport } from './reload.js';
import { sourceAuth, sourcePrefix, SourceRouter } from './source-router.js';

export type { ReloadReport } from './reload.js';

export interface RunningReceiver {
  /** http://host:port of the server. */
  url: string;
  /** The first source's URL (the only one's, configured the single-source way). */
  readonly webhookUrl: string;
  /** Each source's URL, by name, as configured now. */
  readonly sourceUrls: Record<string, string>;
  adminUrl: string;
  /** The configuration it runs with (the last reloaded one), with the port it listens on. */
  readonly config: ReceiverConfig;
  store: Store;
  app: FastifyInstance;
  logger: Logger;
  /** The first source's credentials. */
  readonly auth: InboundAuth;
  /** The sources served now, each with its credentials and pipeline. */
  readonly sources: SourceRouter;
  /** The outbox worker of this process, when dispatch is on. */
  dispatcher: Dispatcher | null;
  metrics: ReceiverMetrics;
  /**
   * Applies a new configuration (SIGHUP with a config file): its sources, the config file's
   * destinations, the decision fetch and forwards (dispatch), and retention. Everything is built and
   * checked first: a configuration that cannot work throws ConfigError and changes nothing.
   * Requests in flight finish on the source they started on. Listener, store and limits settings
   * take a restart (the report names those that differ).
   */
  reload(next: ReceiverConfig): Promise<ReloadReport>;
  /** Stops accepting, lets in-flight requests and attempts finish, then closes the store. */
  close(): Promise<void>;
}

/** Settings a reload cannot change: the listener, the store, the limits every source shares. */
const RESTART_SETTINGS = [
  'port',
  'host',
  'databaseUrl',
  'maxBodyBytes',
  'authFailureLimit',
  'insecureNoAuth',
  'adminToken',
  'logLevel',
  'prettyLogs',
  'quarantineCapacity',
  'sqliteWriterThread',
  'sqliteCheckpointThread',
  'timeouts',
  'encryption',
  'retentionIntervalMs',
] as const satisfies ReadonlyArray<keyof ReceiverConfig>;

/** What `startReceiver` takes: the configuration (any part of it), and what a program hands in. */
export interface StartReceiverOptions extends ReceiverConfigInput, DeprecatedReceiverSpellings {
  logger?: Logger | undefined;
  /** Use this store instead of opening `databaseUrl`; it is closed with the receiver. */
  store?: Store | undefined;
  /** In-process handlers (library use): each a destination of its own in the outbox. */
  handlers?: HandlerRegistry | undefined;
}

const RECEIVER_OPTIONS: ReadonlyArray<keyof StartReceiverOptions> = [
  'port',
  'host',
  'databaseUrl',
  'webhookPath',
  'maxBodyBytes',
  'dialect',
  'adminToken',
  'auth',
  'authFailureLimit',
  'insecureNoAuth',
  'logLevel',
  'prettyLogs',
  'quarantineCapacity',
  'sqliteWriterThread',
  'sqliteCheckpointThread',
  'encryption',
  'retention',
  'retentionIntervalMs',
  'timeouts',
  'dispatch',
  'socure',
  'sources',
  'destinations',
  'configFile',
  'db',
  'webhookSecrets',
  'signingSecrets',
  'basicAuth',
  'logger',
  'store',
  'handlers',
];

export { ConfigError, resolveReceiverConfig };

/**
 * Refuses configurations that would expose an open endpoint to the network: beyond loopback,
 * every source needs credentials of its own (one open path is an open receiver).
 */
function checkExposure(
  config: ReceiverConfig,
  sources: ReadonlyArray<{ source: SourceConfig; auth: InboundAuth }>,
): void {
  if (isLoopbackHost(config.host) || config.insecureNoAuth) return;
  const open = sources.find((s) => !s.auth.configured);
  if (open && sourcePrefix(open.source.name) === '') {
    throw new ConfigError(
      `refusing to listen on ${config.host} without webhook credentials: set --webhook-secret, --basic-auth or --signing-secret ` +
        '(DOCV_WEBHOOK_SECRETS, DOCV_WEBHOOK_BASIC_AUTH, DOCV_WEBHOOK_SIGNING_SECRETS), or pass --insecure-no-auth',
    );
  }
  if (open) {
    throw new ConfigError(
      `refusing to listen on ${config.host}: source ${JSON.stringify(open.source.name)} (${open.source.path}) has no webhook credentials; ` +
        `give it webhookSecrets, basicAuth or signingSecrets${config.configFile ? ` in ${config.configFile}` : ''}, or pass --insecure-no-auth`,
    );
  }
  if (!config.adminToken) {
    throw new ConfigError(
      `refusing to expose the admin API on ${config.host} without a token: set --admin-token (DOCV_ADMIN_TOKEN), or pass --insecure-no-auth`,
    );
  }
}

/** Opens the store, applies migrations, starts dispatch and listens: `docv-webhooks serve`. */
export async function startReceiver(options: StartReceiverOptions = {}): Promise<RunningReceiver> {
  refuseUnknownOptions('startReceiver', options, RECEIVER_OPTIONS);
  const { logger: givenLogger, store: givenStore, handlers, ...input } = options;
  const config = resolveReceiverConfig(input);
  // Each source's credentials built (and refused) before the store opens; the router builds them
  // again with the pipelines once it is open.
  checkExposure(
    config,
    sourcesOf(config).map((source) => ({ source, auth: sourceAuth(source, config.auth.trustProxy) })),
  );
  checkAdminExposure({
    host: config.host,
    adminToken: config.adminToken,
    behindProxy: config.auth.trustProxy === true,
    where: 'the admin API and dashboard',
  });
  const logger = givenLogger ?? createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  // The store reports commits from the first write; metrics need the store to exist first.
  const commits = { observe: (_batchSize: number): void => undefined };
  const store =
    givenStore ??
    (await openStore(config.databaseUrl, {
      quarantineCapacity: config.quarantineCapacity,
      onCommit: (n) => commits.observe(n),
      writerThread: config.sqliteWriterThread,
      checkpointThread: config.sqliteCheckpointThread,
      ...(config.encryption ? { encryption: config.encryption } : {}),
    }));
  const metrics = new ReceiverMetrics(store);
  commits.observe = (n) => metrics.onCommit(n);

  // Deliveries received so far: during a burst, dispatch gives the event loop back to them,
  // unless it has fallen behind the events accepted (then it takes its share until it catches up).
  let received = 0;
  const backlog = new DeliveryBacklog();
  // Dispatch's share of the machine under a steady load: ingest waits for it past a bound.
  const backpressure = new DeliveryBackpressure({ backlog: () => backlog.owed(destinationNames()) });
  let wired: WiredDispatch;
  let destinationNames: () => string[] = () => [];
  try {
    wired = await wireDispatch(config, store, logger, {
      handlers,
      ingests: true,
      onAttempt: (delivery, outcome) => {
        // The decision fetch takes only some events: counted, it would always look behind.
        if (delivery.destination !== DECISION_FETCH_DESTINATION) {
          backlog.attempted(delivery.destination);
          backpressure.progress();
        }
        metrics.onAttempt(delivery, outcome);
      },
      throttle: burstThrottle(config.dispatch.concurrency, {
        foreground: () => received,
        backlog: () => backlog.owed(destinationNames()),
        ...(store instanceof ThreadedSqliteStore ? { otherLoops: [() => store.writerUtilization()] } : {}),
      }),
    });
    destinationNames = wired.destinationNames;
  } catch (err) {
    await store.close();
    throw err;
  }
  const { dispatcher } = wired;

  let app: FastifyInstance;
  let sources: SourceRouter;
  try {
    sources = new SourceRouter(
      {
        config,
        store,
        logger,
        onAccepted: () => dispatcher?.wake(),
        beforeIngest: dispatcher ? () => backpressure.admit() : undefined,
      },
      sourcesOf(config),
    );
    metrics.declareSources(sources.routes().map((r) => r.source.name));
    app = await buildApp({
      config,
      store,
      logger,
      sources,
      metrics,
      onIngest: (response, latencyMs, source) => {
        received++;
        if (response.outcome === 'accepted') backlog.accepted();
        metrics.onIngest(response, latencyMs, source);
      },
      onOutboxChange: dispatcher ? () => dispatcher.wake() : undefined,
      onDestinationsChange: wired.destinationsChanged,
    });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await store.close();
    throw listenError(err, config.host, config.port, '--port');
  }
  dispatcher?.start();
  const retention = startRetentionJob(store, config, logger);
  const { port, url } = listeningAddress(app, config.host, config.port);
  const running: ReceiverConfig = { ...config, port };
  let current = running;
  let closing: Promise<void> | null = null;

  async function reload(next: ReceiverConfig): Promise<ReloadReport> {
    if (closing) throw new ConfigError('the receiver is shutting down: nothing was reloaded');
    checkReloadable(next);
    const prepared = sources.prepare(sourcesOf(next));
    checkExposure({ ...config, configFile: next.configFile }, prepared.routes);
    // The port asked for (0: any) or the one listened on are both the running one.
    const restart = restartNeeded(
      RESTART_SETTINGS,
      { ...next, port: next.port === config.port ? port : next.port },
      running,
    );
    if (next.auth.trustProxy !== config.auth.trustProxy) restart.push('auth.trustProxy');
    // The store and dispatch first: a new source's events then find its decision fetch and its
    // destinations' subscriptions; the sources last, in one assignment (nothing left can fail).
    const destinations = await reloadDispatch({ store, wired, retention, logger }, next, current);
    const swapped = sources.commit(prepared);
    metrics.declareSources(sources.routes().map((r) => r.source.name));
    // What runs: the new configuration but for what only a restart changes.
    current = {
      ...next,
      ...Object.fromEntries(RESTART_SETTINGS.map((key) => [key, running[key]])),
      auth: { ...next.auth, trustProxy: config.auth.trustProxy },
    };
    const report: ReloadReport = { sources: swapped, destinations, restartNeeded: restart };
    logReload(logger, report);
    return report;
  }

  const sourceUrl = (source: SourceConfig) => `${url}${source.path}`;
  return {
    url,
    get webhookUrl() {
      return sourceUrl(sources.routes()[0]!.source);
    },
    get sourceUrls() {
      return Object.fromEntries(sources.routes().map((r) => [r.source.name, sourceUrl(r.source)]));
    },
    adminUrl: `${url}/v1`,
    get config() {
      return current;
    },
    store,
    app,
    logger,
    get auth() {
      return sources.routes()[0]!.auth;
    },
    sources,
    dispatcher,
    metrics,
    // One at a time (two SIGHUPs in a row): each starts from what the previous one applied.
    reload: oneAtATime(reload),
    close() {
      closing ??= (async () => {
        backpressure.releaseAll();
        await app.close();
        await retention?.stop();
        await dispatcher?.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
