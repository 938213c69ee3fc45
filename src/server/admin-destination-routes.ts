import type { FastifyInstance } from 'fastify';
import { storedForwardUrl } from '../dispatch/index.js';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import type { Subscription } from '../store/destinations.js';
import type { DestinationState, DestinationStore } from '../store/index.js';
import { shownDestination, subscriptionProblem } from './destination-view.js';

/** A subscription list: names checked one by one afterwards, so the 400 says which and why. */
const stringList = {
  type: 'array',
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 200 },
} as const;

function notFound(name: string) {
  return JSON.stringify(
    problem(
      404,
      'not-found',
      'Not Found',
      `no destination ${JSON.stringify(name.slice(0, 300))}; GET /v1/destinations lists them`,
    ),
  );
}

/**
 * The store's destinations, which every receiver and worker on the store shares: list them, add a
 * forward URL, disable or enable one. Names hold ':' and '/', so they are percent-encoded in paths.
 */
export async function adminDestinationRoutes(
  app: FastifyInstance,
  options: {
    store: DestinationStore;
    onDestinationsChange?: (() => unknown) | undefined;
    /**
     * The names of the sources this receiver listens on: a subscription naming another is refused
     * (a typo would otherwise forward nothing, silently). Absent: any well-formed name is taken.
     */
    knownSources?: (() => string[]) | undefined;
  },
): Promise<void> {
  const { store } = options;

  app.get('/v1/destinations', async () => ({ items: (await store.listDestinations()).map(shownDestination) }));

  // `sources` and `eventTypes` subscribe it to part of the events (absent: all of them). Posting
  // a URL again replaces what it had, its subscription included.
  app.post<{ Body: { url: string; signed?: boolean; sources?: string[]; eventTypes?: string[] } }>(
    '/v1/destinations',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', minLength: 1, maxLength: 2000 },
            signed: { type: 'boolean' },
            sources: stringList,
            eventTypes: stringList,
          },
        },
      },
    },
    async (request, reply) => {
      const invalid = (message: string) =>
        reply
          .code(400)
          .header('content-type', PROBLEM_CONTENT_TYPE)
          .send(JSON.stringify(problem(400, 'invalid-destination', 'Bad Request', message)));
      let forward;
      try {
        forward = storedForwardUrl(request.body.url);
      } catch (err) {
        return invalid((err as Error).message);
      }
      const subscription: Subscription = {
        sources: request.body.sources ?? null,
        eventTypes: request.body.eventTypes ?? null,
      };
      const bad = subscriptionProblem(subscription, options.knownSources?.());
      if (bad !== null) return invalid(bad);
      const { destination, outcome } = await store.addDestination(
        { ...forward, kind: 'forward', signed: request.body.signed === true, subscription },
        'replace',
      );
      request.log.info({ destination: destination.name, outcome }, `destination ${destination.name} ${outcome}`);
      options.onDestinationsChange?.();
      return reply.code(outcome === 'created' ? 201 : 200).send(shownDestination(destination));
    },
  );

  const setState = (path: string, state: DestinationState) =>
    app.post<{ Params: { name: string } }>(`/v1/destinations/:name/${path}`, async (request, reply) => {
      const destination = await store.setDestinationState(request.params.name, state);
      if (!destination)
        return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(notFound(request.params.name));
      request.log.info({ destination: destination.name, state }, `destination ${destination.name} ${state}`);
      options.onDestinationsChange?.();
      return shownDestination(destination);
    });
  setState('disable', 'disabled');
  setState('enable', 'active');
}
