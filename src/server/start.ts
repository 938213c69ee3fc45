import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AuthConfigError, createInboundAuth, type InboundAuth } from '../auth/index.js';
import {
  ConfigError,
  createReceiverPipeline,
  refuseUnknownOptions,
  resolveReceiverConfig,
  wireDispatch,
  type DeprecatedReceiverSpellings,
  type ReceiverConfig,
  type ReceiverConfigInput,
} from '../compose/index.js';
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

export interface RunningReceiver {
  /** http://host:port of the server. */
  url: string;
  webhookUrl: string;
  adminUrl: string;
  config: ReceiverConfig;
  store: Store;
  app: FastifyInstance;
  logger: Logger;
  auth: InboundAuth;
  /** The outbox worker of this process, when dispatch is on. */
  dispatcher: Dispatcher | null;
  metrics: ReceiverMetrics;
  /** Stops accepting, lets in-flight requests and attempts finish, then closes the store. */
  close(): Promise<void>;
}

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
  'db',
  'webhookSecrets',
  'signingSecrets',
  'basicAuth',
  'logger',
  'store',
  'handlers',
];

export { ConfigError, resolveReceiverConfig };

/** Refuses configurations that would expose an open endpoint to the network. */
function checkExposure(config: ReceiverConfig, auth: InboundAuth): void {
  if (isLoopbackHost(config.host) || config.insecureNoAuth) return;
  if (!auth.configured) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without webhook credentials: set --webhook-secret, --basic-auth or --signing-secret ` +
        '(DOCV_WEBHOOK_SECRETS, DOCV_WEBHOOK_BASIC_AUTH, DOCV_WEBHOOK_SIGNING_SECRETS), or pass --insecure-no-auth',
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
  let auth: InboundAuth;
  try {
    auth = createInboundAuth(config.auth);
  } catch (err) {
    if (err instanceof AuthConfigError) throw new ConfigError(err.message);
    throw err;
  }
  checkExposure(config, auth);
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
  let dispatcher: Dispatcher | null;
  let destinationsChanged: () => Promise<void>;
  let destinationNames: () => string[] = () => [];
  try {
    ({ dispatcher, destinationsChanged, destinationNames } = await wireDispatch(config, store, logger, {
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
    }));
  } catch (err) {
    await store.close();
    throw err;
  }

  let app: FastifyInstance;
  try {
    app = await buildApp({
      config,
      store,
      logger,
      pipeline: createReceiverPipeline({
        config,
        store,
        logger,
        auth,
        onAccepted: () => dispatcher?.wake(),
        beforeIngest: dispatcher ? () => backpressure.admit() : undefined,
      }),
      metrics,
      onIngest: (response, latencyMs) => {
        received++;
        if (response.outcome === 'accepted') backlog.accepted();
        metrics.onIngest(response, latencyMs);
      },
      onOutboxChange: dispatcher ? () => dispatcher.wake() : undefined,
      onDestinationsChange: destinationsChanged,
    });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await store.close();
    throw listenError(err, config.host, config.port, '--port');
  }
  dispatcher?.start();
  const retention = startRetentionJob(store, config, logger);
  const { port, url } = listeningAddress(app, config.host, config.port);
  let closing: Promise<void> | null = null;
  return {
    url,
    webhookUrl: `${url}${config.webhookPath}`,
    adminUrl: `${url}/v1`,
    config: { ...config, port },
    store,
    app,
    logger,
    auth,
    dispatcher,
    metrics,
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
