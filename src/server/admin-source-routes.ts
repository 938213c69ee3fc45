import type { FastifyInstance } from 'fastify';
import type { SourceSummary } from '../compose/source-summary.js';

/**
 * `GET /v1/sources`: the inbound endpoints this receiver listens on, as `sources list` shows them
 * (summarizeSource: secrets only as `sha256:` fingerprints). Read on every request, so a reload
 * (SIGHUP) shows at once.
 */
export async function adminSourceRoutes(
  app: FastifyInstance,
  options: { listSources: () => SourceSummary[] },
): Promise<void> {
  app.get(
    '/v1/sources',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: {} } } },
    async () => ({ items: options.listSources() }),
  );
}
