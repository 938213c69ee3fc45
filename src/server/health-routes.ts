import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import type { StoreLifecycle } from '../store/index.js';

/**
 * Liveness (the process answers) and readiness (its store answers too), for an orchestrator's
 * probes; `extra` fields go into both answers (a worker says it is one).
 */
export function healthRoutes(app: FastifyInstance, store: StoreLifecycle, extra: Record<string, string> = {}): void {
  app.get('/healthz', async () => ({ status: 'ok', ...extra }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await store.ping();
      return { status: 'ready', ...extra, store: store.kind };
    } catch (err) {
      return reply
        .code(503)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .header('retry-after', '5')
        .send(
          JSON.stringify(
            problem(503, 'not-ready', 'Service Unavailable', `store unreachable: ${(err as Error).message}`),
          ),
        );
    }
  });
}
