import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { adminGuard } from './admin-auth.js';
import { connectionTimeoutOptions, limitConnections } from './connection-limits.js';
import { healthRoutes } from './health-routes.js';
import type { ReceiverConfig } from '../compose/index.js';
import { isLoopbackHost } from './loopback.js';
import { metricsRoute, type ReceiverMetrics } from './metrics.js';
import { problemNotFoundHandler } from './not-found.js';
import { SECURITY_HEADERS } from './security-headers.js';

export interface WorkerAppDependencies {
  store: Store;
  metrics: ReceiverMetrics;
  logger: Logger;
  host: string;
  adminToken?: string | undefined;
  timeouts: ReceiverConfig['timeouts'];
}

/**
 * What an operator needs of a `worker`, which takes no deliveries: liveness, readiness (its store
 * answers) and its metrics, the delivery attempts it made above all; a worker's attempts are
 * counted nowhere else. /metrics is guarded like the receiver's admin API.
 */
export async function buildWorkerApp(deps: WorkerAppDependencies): Promise<FastifyInstance> {
  const { store, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    ...connectionTimeoutOptions(deps.timeouts),
    bodyLimit: 1024,
  });
  // Nobody delivers here, so nobody could earn the connections a receiver keeps in reserve.
  limitConnections(app, deps.timeouts, {
    reservedShare: 0,
    onRefused: (reason) => metrics.onConnectionRefused(reason),
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  problemNotFoundHandler(app, 'a worker serves /healthz, /readyz and /metrics');

  healthRoutes(app, store, { role: 'worker' });
  await app.register(async (guarded) => {
    guarded.addHook(
      'onRequest',
      adminGuard({ token: deps.adminToken, listeningOnLoopback: isLoopbackHost(deps.host) }),
    );
    metricsRoute(guarded, metrics);
  });
  return app;
}
