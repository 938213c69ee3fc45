import type { Logger } from 'pino';
import pino from 'pino';
import { createFastifyPlugin, type DocvFastifyPlugin, type FastifyAdapterOptions } from '../adapters/fastify.js';
import { createFetchHandler } from '../adapters/web.js';
import { createNodeHandler } from '../adapters/node.js';
import { createInboundAuth } from '../auth/index.js';
import { sourcesOf } from '../compose/config.js';
import {
  createReceiverPipeline,
  refuseUnknownOptions,
  resolveReceiverConfig,
  wireDispatch,
  type ReceiverConfigInput,
} from '../compose/index.js';
import { startRetentionJob, type RetentionJob } from '../compose/retention-job.js';
import {
  HandlerRegistry,
  type AnyEventHandler,
  type Dispatcher,
  type ErrorHandler,
  type EventHandler,
  type EventTypeName,
  type HandlerOptions,
} from '../dispatch/index.js';
import type { IngestPipeline, IngestRequest, IngestResponse, ReprocessRequest } from '../ingest/index.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

/** What the library receiver takes: the part of the configuration that concerns ingest and dispatch. */
export interface DocvReceiverOptions extends Pick<
  ReceiverConfigInput,
  | 'databaseUrl'
  | 'auth'
  | 'authFailureLimit'
  | 'maxBodyBytes'
  | 'dialect'
  | 'dispatch'
  | 'socure'
  | 'encryption'
  | 'retention'
  | 'retentionIntervalMs'
> {
  /**
   * A store your program opened (openStore); it stays open when the receiver closes. Without one,
   * the receiver opens `databaseUrl` (default sqlite:./data/docv-webhooks.db) and closes it.
   * A string here is taken as the database URL (deprecated: use `databaseUrl`).
   */
  store?: Store | string | undefined;
  /** pino logger; silent by default in library use. */
  logger?: Logger | undefined;
}

const LIBRARY_OPTIONS: ReadonlyArray<keyof DocvReceiverOptions> = [
  'databaseUrl',
  'auth',
  'authFailureLimit',
  'maxBodyBytes',
  'dialect',
  'dispatch',
  'socure',
  'encryption',
  'retention',
  'retentionIntervalMs',
  'store',
  'logger',
];

export interface DocvReceiver {
  /** Runs `handler` for each event of this type (any dialect: the canonical event), at least once, after it is durably stored. */
  on<T extends EventTypeName>(eventType: T, handler: EventHandler<T>, options?: HandlerOptions): DocvReceiver;
  /**
   * Runs `handler` for every event. Each handler, `on` or `onAny`, is a destination of its own in
   * the outbox: one that throws is retried alone; the others are not run again.
   */
  onAny(handler: AnyEventHandler, options?: HandlerOptions): DocvReceiver;
  /** Told each time a handler throws (that handler's delivery is then retried). */
  onError(handler: ErrorHandler): DocvReceiver;
  /** The framework-free pipeline: raw request in, response out. */
  handle(request: IngestRequest): Promise<IngestResponse>;
  /** Runs a quarantined body through ingest again (see IngestPipeline.reprocess). */
  reprocess(request: ReprocessRequest): Promise<IngestResponse>;
  /** `(req, res)` for Node's http, Express, Connect. */
  nodeHandler(): ReturnType<typeof createNodeHandler>;
  /** `(Request) => Response` for Hono, Next.js route handlers, Bun, Deno. */
  fetchHandler(): ReturnType<typeof createFetchHandler>;
  /**
   * A fastify plugin with the ingest route: `app.register(receiver.fastifyPlugin())`. Encapsulated,
   * so the app's other routes keep their JSON parser; its registration waits for the store.
   */
  fastifyPlugin(options?: Pick<FastifyAdapterOptions, 'path'>): DocvFastifyPlugin;
  /** Resolves once the store is open and dispatch runs. */
  ready(): Promise<void>;
  /** Stops the retention job, finishes in-flight handler runs and closes the store (if the receiver opened it). */
  close(): Promise<void>;
  readonly store: Promise<Store>;
}

/**
 * The receiver as a library: the same ingest pipeline and outbox as `docv-webhooks serve`,
 * mounted in the integrator's own HTTP server, with their handlers as a destination.
 */
export function createDocvReceiver(options: DocvReceiverOptions = {}): DocvReceiver {
  refuseUnknownOptions('createDocvReceiver', options, LIBRARY_OPTIONS);
  const { store: given, logger: givenLogger, ...input } = options;
  const config = resolveReceiverConfig({
    ...input,
    ...(typeof given === 'string' && input.databaseUrl === undefined ? { databaseUrl: given } : {}),
  });
  const handlers = new HandlerRegistry();
  const logger = givenLogger ?? pino({ level: 'silent' });
  const auth = createInboundAuth(config.auth);
  const ownsStore = typeof given !== 'object';
  let dispatcher: Dispatcher | null = null;
  let retention: RetentionJob | null = null;

  const storePromise: Promise<Store> =
    typeof given === 'object'
      ? Promise.resolve(given)
      : openStore(config.databaseUrl, config.encryption ? { encryption: config.encryption } : {});

  const pipelinePromise: Promise<IngestPipeline> = storePromise.then(async (store) => {
    ({ dispatcher } = await wireDispatch(config, store, logger, { handlers, ingests: true }));
    dispatcher?.start();
    retention = startRetentionJob(store, config, logger);
    // The configuration's one source (DEFAULT_SOURCE, made of auth and dialect): its name goes with
    // every event and quarantined body, and a reprocess of another source's body is refused.
    const [source] = sourcesOf(config);
    return createReceiverPipeline({
      config,
      store,
      logger,
      auth,
      onAccepted: () => dispatcher?.wake(),
      ...(source ? { source: { name: source.name, dialect: source.dialect } } : {}),
    });
  });
  // Surface a bad store at the first request rather than as an unhandled rejection now.
  pipelinePromise.catch(() => undefined);

  const onAdapterError = (err: unknown) => logger.error({ err }, 'DocV delivery failed');
  const receiver: DocvReceiver = {
    on(eventType, handler, handlerOptions) {
      handlers.on(eventType, handler, handlerOptions);
      return receiver;
    },
    onAny(handler, handlerOptions) {
      handlers.onAny(handler, handlerOptions);
      return receiver;
    },
    onError(handler) {
      handlers.onError(handler);
      return receiver;
    },
    async handle(request) {
      return (await pipelinePromise).handle(request);
    },
    async reprocess(request) {
      return (await pipelinePromise).reprocess(request);
    },
    nodeHandler: () => createNodeHandler(pipelinePromise, onAdapterError),
    fetchHandler: () => createFetchHandler(pipelinePromise, onAdapterError),
    fastifyPlugin: (pluginOptions = {}) => createFastifyPlugin(pipelinePromise, { path: pluginOptions.path, logger }),
    async ready() {
      await pipelinePromise;
    },
    async close() {
      await pipelinePromise.catch(() => undefined);
      // Before the store closes (it stops after its current step), even a store the program keeps open.
      await (retention as RetentionJob | null)?.stop();
      await (dispatcher as Dispatcher | null)?.stop();
      if (ownsStore) await (await storePromise.catch(() => null))?.close();
    },
    store: storePromise,
  };
  return receiver;
}
