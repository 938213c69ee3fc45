import type { FastifyInstance } from 'fastify';
import type { ReceiverConfig } from './config.js';

type Timeouts = ReceiverConfig['timeouts'];

/** How often Node checks connections for the headers and request timeouts: 100 ms to 1 s. */
function timeoutSweepMs(timeouts: Pick<Timeouts, 'headersMs' | 'requestMs'>): number {
  return Math.min(1000, Math.max(100, Math.floor(Math.min(timeouts.headersMs, timeouts.requestMs) / 4)));
}

/**
 * The fastify options that bound how long a connection may take, shared by every listener we
 * open (the receiver, a worker's metrics port).
 */
export function connectionTimeoutOptions(timeouts: Timeouts) {
  return {
    connectionTimeout: timeouts.connectionMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    requestTimeout: timeouts.requestMs,
    // Node enforces headersTimeout and requestTimeout only when it sweeps its connections, every
    // 30 s by default: a client trickling a byte at a time would hold its connection for up to
    // 30 s whatever the timeouts say. Sweep often enough that they hold to within about a quarter.
    http: { connectionsCheckingInterval: timeoutSweepMs(timeouts) },
    forceCloseConnections: 'idle' as const,
  };
}

/** What fastify has no option for: the headers deadline and the connection cap of its server. */
export function limitConnections(app: FastifyInstance, timeouts: Timeouts): void {
  app.server.headersTimeout = timeouts.headersMs;
  app.server.maxConnections = timeouts.maxConnections;
}
