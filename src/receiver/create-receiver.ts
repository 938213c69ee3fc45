import type { Logger } from 'pino';
import pino from 'pino';
import { createFetchHandler } from '../adapters/web.js';
import { createNodeHandler } from '../adapters/node.js';
import { createInboundAuth, type InboundAuthConfig } from '../auth/index.js';
import type { Dialect } from '../contract/index.js';
import { HandlerRegistry, type AnyEventHandler, type Dispatcher, type ErrorHandler, type EventHandler, type EventTypeName } from '../dispatch/index.js';
import { createIngestPipeline, type IngestPipeline, type IngestRequest, type IngestResponse, type ReprocessRequest } from '../ingest/index.js';
import { defaultReceiverConfig, type DispatchConfig, type SocureApiConfig } from '../server/config.js';
import { receiverFailureLimiter } from '../server/auth-failure-limiter.js';
import { wireDispatch } from '../server/dispatch-wiring.js';
import { DEFAULT_DATABASE_URL, openStore, type Store } from '../store/index.js';

export interface DocvReceiverOptions {
  /** A store, or a database URL (`sqlite:<file>` or `postgres://…`); default sqlite:./data/docv-webhooks.db. */
  store?: Store | string;
  auth?: Omit<InboundAuthConfig, 'now'>;
  /** Failed authentications an address may make within a minute before it is blocked (429) for five; 0 turns that off. Default 10. */
  authFailureLimit?: number;
  maxBodyBytes?: number;
  /** Accept only this dialect; by default each delivery's shape picks one. */
  dialect?: Dialect;
  dispatch?: Partial<DispatchConfig>;
  socure?: Partial<SocureApiConfig>;
  /** pino logger; silent by default in library use. */
  logger?: Logger;
}

export interface DocvReceiver {
  /** Runs `handler` for each event of this type (any dialect: the canonical event), at least once, after it is durably stored. */
  on<T extends EventTypeName>(eventType: T, handler: EventHandler<T>): DocvReceiver;
  onAny(handler: AnyEventHandler): DocvReceiver;
  /** Told when a handler throws (the delivery is then retried). */
  onError(handler: ErrorHandler): DocvReceiver;
  /** The framework-free pipeline: raw request in, response out. */
  handle(request: IngestRequest): Promise<IngestResponse>;
  /** Runs a quarantined body through ingest again (see IngestPipeline.reprocess). */
  reprocess(request: ReprocessRequest): Promise<IngestResponse>;
  /** `(req, res)` for Node's http, Express, Connect. */
  nodeHandler(): ReturnType<typeof createNodeHandler>;
  /** `(Request) => Response` for Hono, Next.js route handlers, Bun, Deno. */
  fetchHandler(): ReturnType<typeof createFetchHandler>;
  /** Resolves once the store is open and dispatch runs. */
  ready(): Promise<void>;
  /** Finishes in-flight handler runs and closes the store (if the receiver opened it). */
  close(): Promise<void>;
  readonly store: Promise<Store>;
}

/**
 * The receiver as a library: the same ingest pipeline and outbox as `docv-webhooks serve`,
 * mounted in the integrator's own HTTP server, with their handlers as a destination.
 */
export function createDocvReceiver(options: DocvReceiverOptions = {}): DocvReceiver {
  const handlers = new HandlerRegistry();
  const logger = options.logger ?? pino({ level: 'silent' });
  const config = defaultReceiverConfig({
    ...(options.dispatch ? { dispatch: options.dispatch as DispatchConfig } : {}),
    ...(options.socure ? { socure: options.socure as SocureApiConfig } : {}),
  });
  const auth = createInboundAuth(options.auth ?? {});
  const failureLimiter = receiverFailureLimiter(options.authFailureLimit ?? config.authFailureLimit, auth.configured, logger);
  const ownsStore = typeof options.store !== 'object';
  let dispatcher: Dispatcher | null = null;

  const storePromise: Promise<Store> =
    typeof options.store === 'object' ? Promise.resolve(options.store) : openStore(options.store ?? DEFAULT_DATABASE_URL);

  const pipelinePromise: Promise<IngestPipeline> = storePromise.then(async (store) => {
    ({ dispatcher } = await wireDispatch(config, store, logger, { handlers, ingests: true }));
    dispatcher?.start();
    const pipeline = createIngestPipeline({
      store,
      auth,
      failureLimiter,
      maxBodyBytes: options.maxBodyBytes,
      dialect: options.dialect,
      keepDocumentData: config.socure.storeDocumentData,
      onQuarantineError: (err) => logger.error({ err }, 'could not quarantine a rejected delivery'),
    });
    return {
      maxBodyBytes: pipeline.maxBodyBytes,
      admit: (head) => pipeline.admit(head),
      async handle(request: IngestRequest) {
        const response = await pipeline.handle(request);
        if (response.outcome === 'accepted') dispatcher?.wake();
        return response;
      },
      async reprocess(request) {
        const response = await pipeline.reprocess(request);
        if (response.outcome === 'accepted') dispatcher?.wake();
        return response;
      },
    };
  });
  // Surface a bad store at the first request rather than as an unhandled rejection now.
  pipelinePromise.catch(() => undefined);

  const onAdapterError = (err: unknown) => logger.error({ err }, 'DocV delivery failed');
  const receiver: DocvReceiver = {
    on(eventType, handler) {
      handlers.on(eventType, handler);
      return receiver;
    },
    onAny(handler) {
      handlers.onAny(handler);
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
    async ready() {
      await pipelinePromise;
    },
    async close() {
      await pipelinePromise.catch(() => undefined);
      await (dispatcher as Dispatcher | null)?.stop();
      if (ownsStore) await (await storePromise.catch(() => null))?.close();
    },
    store: storePromise,
  };
  return receiver;
}
