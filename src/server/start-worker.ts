import type { Logger } from 'pino';
import type { Dispatcher } from '../dispatch/index.js';
import { openStore, type Store } from '../store/index.js';
import { createLogger } from './logger.js';
import { wireDispatch } from './dispatch-wiring.js';
import { ConfigError, resolveReceiverConfig, type StartReceiverOptions } from './start.js';

export interface RunningWorker {
  dispatcher: Dispatcher;
  store: Store;
  logger: Logger;
  /** Names of the destinations this worker delivers to. */
  destinations: string[];
  /** Finishes in-flight attempts (the rest stays due) and closes the store. */
  close(): Promise<void>;
}

/** Dispatch without ingest: `docv-webhooks worker`, beside `serve --no-dispatch` on the same store. */
export async function startWorker(options: StartReceiverOptions = {}): Promise<RunningWorker> {
  const config = resolveReceiverConfig(options);
  const logger = options.logger ?? createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  const store = options.store ?? (await openStore(config.databaseUrl));
  const { destinations, dispatcher } = wireDispatch(config, store, logger, { handlers: options.handlers, ingests: false });
  if (!dispatcher) {
    await store.close();
    throw new ConfigError('the worker has nowhere to deliver: set --forward-url and/or SOCURE_BASE_URL with SOCURE_API_KEY');
  }
  dispatcher.start();
  let closing: Promise<void> | null = null;
  return {
    dispatcher,
    store,
    logger,
    destinations: destinations.map((d) => d.name),
    close() {
      closing ??= (async () => {
        await dispatcher.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
