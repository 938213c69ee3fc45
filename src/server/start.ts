import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openStore, type Store } from '../store/index.js';
import { buildApp } from './app.js';
import { defaultReceiverConfig, type ReceiverConfig } from './config.js';
import { createLogger } from './logger.js';

export interface RunningReceiver {
  /** http://host:port of the server. */
  url: string;
  webhookUrl: string;
  adminUrl: string;
  config: ReceiverConfig;
  store: Store;
  app: FastifyInstance;
  logger: Logger;
  /** Stops accepting, lets in-flight requests finish, then closes the store. */
  close(): Promise<void>;
}

export interface StartReceiverOptions extends Partial<Omit<ReceiverConfig, 'auth' | 'timeouts'>> {
  /** Shorthand for `databaseUrl`. */
  db?: string;
  webhookSecrets?: string[];
  signingSecrets?: string[];
  basicAuth?: string[];
  auth?: ReceiverConfig['auth'];
  timeouts?: Partial<ReceiverConfig['timeouts']>;
  logger?: Logger;
  /** Use this store instead of opening `databaseUrl`; it is closed with the receiver. */
  store?: Store;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function resolveReceiverConfig(options: StartReceiverOptions): ReceiverConfig {
  const { db, webhookSecrets, signingSecrets, basicAuth, auth, timeouts, logger: _logger, store: _store, ...rest } = options;
  const base = defaultReceiverConfig({ ...rest, ...(timeouts ? { timeouts: timeouts as ReceiverConfig['timeouts'] } : {}) });
  if (db !== undefined) base.databaseUrl = db;
  base.auth = {
    ...auth,
    ...(webhookSecrets ? { webhookSecrets } : {}),
    ...(signingSecrets ? { signingSecrets } : {}),
    ...(basicAuth ? { basicAuth } : {}),
  };
  if (options.port === undefined) base.port = 3000;
  return base;
}

/** Opens the store, applies migrations and listens. The programmatic form of `docv-webhooks serve`. */
export async function startReceiver(options: StartReceiverOptions = {}): Promise<RunningReceiver> {
  const config = resolveReceiverConfig(options);
  const logger = options.logger ?? createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  const store = options.store ?? (await openStore(config.databaseUrl, { quarantineCapacity: config.quarantineCapacity }));
  let app: FastifyInstance;
  try {
    app = await buildApp({ config, store, logger });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`port ${config.port} on ${config.host} is already in use; pick another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`cannot listen on host ${config.host}: no such local address`);
    if (code === 'EACCES') throw new ConfigError(`not allowed to listen on port ${config.port}; use a port above 1023`);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${formatHost(config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host)}:${port}`;
  let closing: Promise<void> | null = null;
  return {
    url,
    webhookUrl: `${url}${config.webhookPath}`,
    adminUrl: `${url}/v1`,
    config: { ...config, port },
    store,
    app,
    logger,
    close() {
      closing ??= (async () => {
        await app.close();
        await store.close();
      })();
      return closing;
    },
  };
}
