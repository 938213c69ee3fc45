import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import {
  ConfigError,
  refuseUnknownOptions,
  resolveReceiverConfig,
  wireDispatch,
  type ReceiverConfig,
  type ReceiverConfigInput,
  type WiredDispatch,
} from '../compose/index.js';
import type { Dispatcher, HandlerRegistry } from '../dispatch/index.js';
import { startRetentionJob } from '../compose/retention-job.js';
import { openStore, type Store } from '../store/index.js';
import { checkAdminExposure } from './admin-exposure.js';
import { createLogger } from './logger.js';
import { listenError, listeningAddress } from './listen.js';
import { isLoopbackHost } from './loopback.js';
import { ReceiverMetrics } from './metrics.js';
import { buildWorkerApp } from './worker-app.js';
import {
  checkReloadable,
  logReload,
  oneAtATime,
  reloadDispatch,
  restartNeeded,
  type WorkerReloadReport,
} from './reload.js';

export type { WorkerReloadReport } from './reload.js';

/**
 * What `startWorker` takes: a worker takes no deliveries, so of the configuration only what
 * dispatch, its store, its log and its metrics listener use (no port, credentials or body limit).
 */
export interface StartWorkerOptions extends Pick<
  ReceiverConfigInput,
  | 'databaseUrl'
  | 'adminToken'
  | 'logLevel'
  | 'prettyLogs'
  | 'timeouts'
  | 'dispatch'
  | 'socure'
  | 'encryption'
  | 'retention'
  | 'retentionIntervalMs'
  | 'sources'
  | 'destinations'
  | 'configFile'
> {
  /** @deprecated Use `databaseUrl`. */
  db?: string | undefined;
  /** Serve /healthz, /readyz and /metrics on this port (0: any free one); none when unset. */
  metricsPort?: number | undefined;
  /** Where that listener binds (default 127.0.0.1); beyond loopback it needs `adminToken`. */
  metricsHost?: string | undefined;
  logger?: Logger | undefined;
  /** Use this store instead of opening `databaseUrl`; it is closed with the worker. */
  store?: Store | undefined;
  /** In-process handlers: each a destination of its own, delivered by this worker. */
  handlers?: HandlerRegistry | undefined;
}

const WORKER_OPTIONS: ReadonlyArray<keyof StartWorkerOptions> = [
  'databaseUrl',
  'db',
  'adminToken',
  'logLevel',
  'prettyLogs',
  'timeouts',
  'dispatch',
  'socure',
  'encryption',
  'retention',
  'retentionIntervalMs',
  'sources',
  'destinations',
  'configFile',
  'metricsPort',
  'metricsHost',
  'logger',
  'store',
  'handlers',
];

/** Settings of a worker a reload cannot change: its store, its log, its metrics listener's token and timeouts. */
const WORKER_RESTART_SETTINGS = [
  'databaseUrl',
  'adminToken',
  'logLevel',
  'prettyLogs',
  'timeouts',
  'encryption',
  'retentionIntervalMs',
] as const satisfies ReadonlyArray<keyof ReceiverConfig>;

export interface RunningWorker {
  dispatcher: Dispatcher;
  store: Store;
  logger: Logger;
  metrics: ReceiverMetrics;
  /** Names of the destinations this worker delivers to now (they follow the store's). */
  readonly destinations: string[];
  /** http://host:port of /healthz, /readyz and /metrics, when `metricsPort` was given. */
  url: string | null;
  /** The configuration it runs with (the last reloaded one). */
  readonly config: ReceiverConfig;
  /**
   * Applies a new configuration (SIGHUP with a config file): the config file's destinations, the
   * decision fetch per source, forwards, retention. Checked first: a configuration that cannot
   * work throws ConfigError and changes nothing. Attempts in flight finish as they started.
   */
  reload(next: ReceiverConfig): Promise<WorkerReloadReport>;
  /** Finishes in-flight attempts (the rest stays due) and closes the store. */
  close(): Promise<void>;
}

/** Dispatch without ingest: `docv-webhooks worker`, beside `serve --no-dispatch` on the same store. */
export async function startWorker(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  refuseUnknownOptions('startWorker', options, WORKER_OPTIONS);
  const {
    metricsPort,
    metricsHost = '127.0.0.1',
    logger: givenLogger,
    store: givenStore,
    handlers,
    ...input
  } = options;
  const config = resolveReceiverConfig(input);
  if (metricsPort !== undefined && !isLoopbackHost(metricsHost) && !config.adminToken) {
    throw new ConfigError(
      `refusing to serve the worker's metrics on ${metricsHost} without a token: set --admin-token (DOCV_ADMIN_TOKEN), or keep --metrics-host on loopback`,
    );
  }
  // The worker has no --trust-proxy: its listener serves metrics only, and its guard refuses proxied callers when it has no token.
  if (metricsPort !== undefined)
    checkAdminExposure({
      host: metricsHost,
      adminToken: config.adminToken,
      behindProxy: false,
      where: "the worker's metrics",
    });
  const logger = givenLogger ?? createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  // The store reports commits from the first write; the metrics need the store first.
  const commits = { observe: (_batchSize: number): void => undefined };
  const store =
    givenStore ??
    (await openStore(config.databaseUrl, {
      onCommit: (n) => commits.observe(n),
      ...(config.encryption ? { encryption: config.encryption } : {}),
    }));
  const metrics = new ReceiverMetrics(store, { ingest: false });
  commits.observe = (n) => metrics.onCommit(n);
  let wired: WiredDispatch;
  try {
    wired = await wireDispatch(config, store, logger, {
      handlers,
      ingests: false,
      onAttempt: (delivery, outcome) => metrics.onAttempt(delivery, outcome),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const { dispatcher, destinationNames } = wired;
  // One its flags name but the store has disabled is worth waiting for: enabled, it is delivered here.
  if (!dispatcher || (destinationNames().length === 0 && wired.disabledInStore.length === 0)) {
    await dispatcher?.stop();
    await store.close();
    throw new ConfigError(
      'the worker has nowhere to deliver: set --forward-url and/or SOCURE_BASE_URL with SOCURE_API_KEY, or add a destination to the store ' +
        '(docv-webhooks destinations add <url>); a destination the store has but this process cannot deliver is named in a warning above',
    );
  }

  let app: FastifyInstance | null = null;
  let url: string | null = null;
  if (metricsPort !== undefined) {
    try {
      app = await buildWorkerApp({
        store,
        metrics,
        logger,
        host: metricsHost,
        adminToken: config.adminToken,
        timeouts: config.timeouts,
      });
      await app.listen({ port: metricsPort, host: metricsHost });
    } catch (err) {
      await app?.close();
      await store.close();
      throw listenError(err, metricsHost, metricsPort, '--metrics-port');
    }
    url = listeningAddress(app, metricsHost, metricsPort).url;
  }
  dispatcher.start();
  // A worker may be the only process with a policy (serve --no-dispatch beside it need not have one);
  // on PostgreSQL several running it take turns on the store's advisory lock.
  const retention = startRetentionJob(store, config, logger);
  let closing: Promise<void> | null = null;
  let current = config;

  async function reload(next: ReceiverConfig): Promise<WorkerReloadReport> {
    if (closing) throw new ConfigError('the worker is shutting down: nothing was reloaded');
    checkReloadable(next);
    const restart = restartNeeded(WORKER_RESTART_SETTINGS, next, config);
    const destinations = await reloadDispatch({ store, wired, retention, logger }, next, current);
    current = { ...next, ...Object.fromEntries(WORKER_RESTART_SETTINGS.map((key) => [key, config[key]])) };
    const report: WorkerReloadReport = { destinations, restartNeeded: restart };
    logReload(logger, report);
    return report;
  }

  return {
    dispatcher,
    store,
    logger,
    metrics,
    get destinations() {
      return destinationNames();
    },
    url,
    get config() {
      return current;
    },
    // One at a time (two SIGHUPs in a row): each starts from what the previous one applied.
    reload: oneAtATime(reload),
    close() {
      closing ??= (async () => {
        await retention?.stop();
        await dispatcher.stop();
        await app?.close();
        await store.close();
      })();
      return closing;
    },
  };
}
