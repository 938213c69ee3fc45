import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AuthConfigError, createInboundAuth, requireSecret, type InboundAuth } from '../auth/index.js';
import { redactUrl } from '../auth/redact-url.js';
import { burstThrottle, type Dispatcher, type HandlerRegistry } from '../dispatch/index.js';
import { openStore, ThreadedSqliteStore, type Store } from '../store/index.js';
import { checkAdminExposure } from './admin-exposure.js';
import { buildApp } from './app.js';
import { receiverFailureLimiter } from './auth-failure-limiter.js';
import { defaultReceiverConfig, type DispatchConfig, type ReceiverConfig, type SocureApiConfig } from './config.js';
import { wireDispatch } from './dispatch-wiring.js';
import { ConfigError } from './errors.js';
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

export interface StartReceiverOptions extends Partial<Omit<ReceiverConfig, 'auth' | 'timeouts' | 'dispatch' | 'socure'>> {
  /** Shorthand for `databaseUrl`. */
  db?: string;
  webhookSecrets?: string[];
  signingSecrets?: string[];
  basicAuth?: string[];
  auth?: ReceiverConfig['auth'];
  timeouts?: Partial<ReceiverConfig['timeouts']>;
  dispatch?: Partial<DispatchConfig>;
  socure?: Partial<SocureApiConfig>;
  logger?: Logger;
  /** Use this store instead of opening `databaseUrl`; it is closed with the receiver. */
  store?: Store;
  /** In-process handlers (library use): a destination of their own in the outbox. */
  handlers?: HandlerRegistry;
}

export { ConfigError };

export function resolveReceiverConfig(options: StartReceiverOptions): ReceiverConfig {
  const { db, webhookSecrets, signingSecrets, basicAuth, auth, timeouts, dispatch, socure, logger: _l, store: _s, handlers: _h, ...rest } = options;
  const base = defaultReceiverConfig({
    ...rest,
    ...(timeouts ? { timeouts: timeouts as ReceiverConfig['timeouts'] } : {}),
    ...(dispatch ? { dispatch: dispatch as DispatchConfig } : {}),
    ...(socure ? { socure: socure as SocureApiConfig } : {}),
  });
  if (db !== undefined) base.databaseUrl = db;
  base.auth = {
    ...auth,
    ...(webhookSecrets ? { webhookSecrets } : {}),
    ...(signingSecrets ? { signingSecrets } : {}),
    ...(basicAuth ? { basicAuth } : {}),
  };
  checkAdminToken(base.adminToken);
  return base;
}

/**
 * A token that is set must be usable: one of only whitespace counted as configured (so the admin
 * API opened beyond loopback) while a bearer token could never match it, and a Basic password of
 * spaces could. Not set (undefined) is different: loopback only, or a refusal (checkExposure).
 */
function checkAdminToken(token: string | undefined): void {
  if (token === undefined) return;
  try {
    requireSecret('adminToken (--admin-token, DOCV_ADMIN_TOKEN)', token, 'token');
  } catch (err) {
    if (err instanceof AuthConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

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
    throw new ConfigError(`refusing to expose the admin API on ${config.host} without a token: set --admin-token (DOCV_ADMIN_TOKEN), or pass --insecure-no-auth`);
  }
}

function validateSocure(socure: SocureApiConfig): void {
  if (Boolean(socure.baseUrl) !== Boolean(socure.apiKey)) {
    throw new ConfigError('SOCURE_BASE_URL and SOCURE_API_KEY go together: set both to fetch decisions, or neither');
  }
  if (socure.baseUrl && !/^https?:\/\//.test(socure.baseUrl)) throw new ConfigError(`SOCURE_BASE_URL "${redactUrl(socure.baseUrl).slice(0, 300)}" is not an http(s) URL`);
  // fetch refuses a URL with credentials: every decision fetch would fail, one by one, much later.
  if (socure.baseUrl && URL.canParse(socure.baseUrl) && /^[^/]*\/\/[^/?#]*@/.test(socure.baseUrl)) {
    throw new ConfigError(`SOCURE_BASE_URL "${redactUrl(socure.baseUrl).slice(0, 300)}" carries user:password; the API key goes in SOCURE_API_KEY`);
  }
}

/** Opens the store, applies migrations, starts dispatch and listens: `docv-webhooks serve`. */
export async function startReceiver(options: StartReceiverOptions = {}): Promise<RunningReceiver> {
  const config = resolveReceiverConfig(options);
  let auth: InboundAuth;
  try {
    auth = createInboundAuth(config.auth);
  } catch (err) {
    if (err instanceof AuthConfigError) throw new ConfigError(err.message);
    throw err;
  }
  checkExposure(config, auth);
  checkAdminExposure({ host: config.host, adminToken: config.adminToken, behindProxy: config.auth.trustProxy === true, where: 'the admin API and dashboard' });
  validateSocure(config.socure);
  const logger = options.logger ?? createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  // The store reports commits from the first write; metrics need the store to exist first.
  const commits = { observe: (_batchSize: number): void => undefined };
  const store =
    options.store ?? (await openStore(config.databaseUrl, {
      quarantineCapacity: config.quarantineCapacity,
      onCommit: (n) => commits.observe(n),
      writerThread: config.sqliteWriterThread,
      checkpointThread: config.sqliteCheckpointThread,
    }));
  const metrics = new ReceiverMetrics(store);
  commits.observe = (n) => metrics.onCommit(n);

  // Deliveries received so far: during a burst, dispatch gives the event loop back to them.
  let received = 0;
  let dispatcher: Dispatcher | null;
  let destinationsChanged: () => Promise<void>;
  try {
    ({ dispatcher, destinationsChanged } = await wireDispatch(config, store, logger, {
      handlers: options.handlers,
      ingests: true,
      onAttempt: (delivery, outcome) => metrics.onAttempt(delivery, outcome),
      throttle: burstThrottle(config.dispatch.concurrency, {
        foreground: () => received,
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
      auth,
      failureLimiter: receiverFailureLimiter(config.authFailureLimit, auth.configured, logger),
      metrics,
      onIngest: (response, latencyMs) => {
        received++;
        metrics.onIngest(response, latencyMs);
        if (response.outcome === 'accepted') dispatcher?.wake();
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
        await app.close();
        await dispatcher?.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
