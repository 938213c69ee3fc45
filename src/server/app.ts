import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createFastifySourcesPlugin, SOURCES_ROUTE } from '../adapters/fastify.js';
import { sourcesOf } from '../compose/config.js';
import type { ReceiverConfig } from '../compose/index.js';
import type { SourceSummary } from '../compose/source-summary.js';
import { PROBLEM_CONTENT_TYPE, problem, type IngestResponse, type ReprocessRequest } from '../ingest/index.js';
import { InvalidCursorError, randomHex, SealedRowError, StoreUnavailableError, type Store } from '../store/index.js';
import { adminGuard } from './admin-auth.js';
import { adminDeliveryRoutes } from './admin-delivery-routes.js';
import { adminDestinationRoutes } from './admin-destination-routes.js';
import { adminQuarantineRoutes } from './admin-quarantine-routes.js';
import { adminRetentionRoutes } from './admin-retention-routes.js';
import { adminRoutes } from './admin-routes.js';
import { adminSourceRoutes } from './admin-source-routes.js';
import { dashboardActionRoutes } from './dashboard/action-routes.js';
import { dashboardLoginRoutes } from './dashboard/login-routes.js';
import { dashboardRoutes, type DashboardOptions } from './dashboard/routes.js';
import { connectionTimeoutOptions, limitConnections } from './connection-limits.js';
import { healthRoutes } from './health-routes.js';
import { isLoopbackHost } from './loopback.js';
import { metricsRoute, type ReceiverMetrics } from './metrics.js';
import { problemNotFoundHandler } from './not-found.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { SourceRouter } from './source-router.js';

export interface AppDependencies {
  config: ReceiverConfig;
  store: Store;
  logger: Logger;
  /**
   * The sources served, each at its path with its pipeline (startReceiver builds them with the
   * dispatcher's wake-up, and swaps them on reload); when absent, the configuration's, built
   * here, waking nobody (tests of the admin API).
   */
  sources?: SourceRouter | undefined;
  /** Each answer of a source's endpoint, how long it took and which source it was. */
  onIngest?: (response: IngestResponse, latencyMs: number, source: string) => void;
  /** `GET /v1/sources`; by default the router's sources as they are now. */
  listSources?: (() => SourceSummary[]) | undefined;
  /** Served at /metrics, behind the admin guard. */
  metrics?: ReceiverMetrics | undefined;
  /** Deliveries were re-queued through the admin API: the dispatcher should look now. */
  onOutboxChange?: (() => void) | undefined;
  /** The store's destinations were changed through the admin API: this process's dispatcher should follow now. */
  onDestinationsChange?: (() => unknown) | undefined;
}

/** Wires ingest, admin API and health onto one fastify instance (not yet listening). */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, store, logger } = deps;
  const app = Fastify({
    // Unknown query parameters are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: true } },
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per delivery comes from the ingest route; fastify's own per-request lines would double it.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomHex(6),
    ...connectionTimeoutOptions(config.timeouts),
    bodyLimit: 64 * 1024,
    // Transaction ids may be 256 characters, more once percent-encoded.
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: true,
  });
  const admission = limitConnections(app, config.timeouts, {
    onRefused: (reason) => deps.metrics?.onConnectionRefused(reason),
  });

  // Set before any plugin registers so every encapsulated context inherits them.
  problemNotFoundHandler(app);

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.validation) {
      const errors = error.validation.map((v) => ({
        path: `/${v.instancePath.replace(/^\//, '') || ((v.params as { additionalProperty?: string }).additionalProperty ?? '')}`,
        message: v.message ?? 'is invalid',
      }));
      return reply
        .code(400)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(
          JSON.stringify(
            problem(
              400,
              'invalid-query',
              'Bad Request',
              `invalid ${error.validationContext ?? 'request'}: ${error.message}`,
              { errors },
            ),
          ),
        );
    }
    if (error instanceof StoreUnavailableError) {
      return reply
        .code(503)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .header('retry-after', '5')
        .send(
          JSON.stringify(
            problem(
              503,
              'store-unavailable',
              'Service Unavailable',
              'the store cannot be reached right now; retry later',
            ),
          ),
        );
    }
    if (error instanceof SealedRowError) {
      // Not an internal error: a row sealed with a key this process lacks, or changed on disk.
      // The answer names the row (ids are in clear) so an operator can find it; never its data.
      request.log.warn({ table: error.table, rowId: error.rowId }, error.message);
      return reply
        .code(422)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problem(422, 'sealed-row-unreadable', 'Stored Data Cannot Be Opened', error.message)));
    }
    if ((error as Error).name === 'AmbiguousTransactionError') {
      // An id looked up without ?source= that several sources have (store/types.ts): say which.
      const { docvTransactionId, sources } = error as unknown as { docvTransactionId: string; sources: string[] };
      return reply
        .code(409)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(
          JSON.stringify(
            problem(
              409,
              'ambiguous-transaction',
              'Conflict',
              `transaction ${JSON.stringify(docvTransactionId.slice(0, 300))} exists under several sources (${sources.join(', ')}): add ?source= with one of them`,
              { sources },
            ),
          ),
        );
    }
    if (error instanceof InvalidCursorError) {
      return reply
        .code(400)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problem(400, 'invalid-cursor', 'Bad Request', error.message)));
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    return reply
      .code(status)
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(
        JSON.stringify(
          problem(
            status,
            status === 500 ? 'internal' : 'bad-request',
            status === 500 ? 'Internal Server Error' : 'Bad Request',
            status === 500 ? 'unexpected error' : error.message,
          ),
        ),
      );
  });

  const sources = deps.sources ?? new SourceRouter({ config, store, logger }, sourcesOf(config));
  // A sender answered 2xx on any source's path (accepted or duplicate: a pipeline answers 2xx
  // only once the credentials passed) may use the connections kept in reserve. The socket peer,
  // not the X-Forwarded-For client: admission decides before any header is read. Added before the
  // route is registered, so its context inherits the hook. The sources route answers nothing
  // else with 2xx (a path no source serves is a 404).
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode >= 200 && reply.statusCode < 300 && request.routeOptions.url === SOURCES_ROUTE)
      admission.markTrusted(request.socket.remoteAddress);
    done();
  });
  await app.register(createFastifySourcesPlugin(sources, { logger, onResponse: deps.onIngest }));

  healthRoutes(app, store);

  await app.register(async (admin) => {
    admin.addHook('onSend', async (request, reply, payload) => {
      reply.headers(SECURITY_HEADERS);
      // Under no-referrer a browser sends `Origin: null` with a form POST, even to its own
      // origin; same-origin lets the dashboard's forms say where they come from (the CSRF and
      // open-admin checks read it) and still tells other sites nothing.
      if (request.url.startsWith('/dashboard')) reply.header('referrer-policy', 'same-origin');
      return payload;
    });
    const listeningOnLoopback = isLoopbackHost(config.host);
    const behindProxy = config.auth.trustProxy === true;
    admin.addHook('onRequest', adminGuard({ token: config.adminToken, listeningOnLoopback, behindProxy }));
    // Through the current pipeline of the body's source, which wakes the dispatcher itself when
    // the body is accepted; a source no longer configured answers 409.
    const reprocess = (request: ReprocessRequest) => sources.reprocess(request);
    await admin.register(adminRoutes, { store });
    await admin.register(adminQuarantineRoutes, { store, reprocess });
    await admin.register(adminRetentionRoutes, { store });
    const listSources = deps.listSources ?? (() => sources.summaries());
    await admin.register(adminSourceRoutes, { listSources });
    const dashboard: DashboardOptions = {
      store,
      reprocess,
      listSources,
      onOutboxChange: deps.onOutboxChange,
      onDestinationsChange: deps.onDestinationsChange,
      metrics: deps.metrics,
      adminToken: config.adminToken,
      listeningOnLoopback,
      storeDocumentData: config.socure.storeDocumentData,
    };
    await admin.register(dashboardRoutes, dashboard);
    // Sign-in and the pages' buttons: form posts, each context parsing forms for itself.
    await admin.register(dashboardLoginRoutes, { ...dashboard, behindProxy });
    await admin.register(dashboardActionRoutes, { ...dashboard, behindProxy });
    if (deps.metrics) metricsRoute(admin, deps.metrics);
    await admin.register(adminDeliveryRoutes, {
      store,
      ...(deps.onOutboxChange ? { onOutboxChange: deps.onOutboxChange } : {}),
    });
    // A subscription naming a source this receiver does not have would silently take nothing.
    await admin.register(adminDestinationRoutes, {
      store,
      onDestinationsChange: deps.onDestinationsChange,
      knownSources: () => listSources().map((s) => s.name),
    });
  });

  return app;
}
