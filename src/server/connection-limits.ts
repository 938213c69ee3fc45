import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ReceiverConfig } from '../compose/index.js';
import {
  createConnectionAdmission,
  createRefusalLogThrottle,
  type Admission,
  type ConnectionAdmission,
  type RefusalReason,
} from './connection-admission.js';

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
    // The sweep also closes a connection that has sent nothing at all: Node starts its headers
    // clock when the connection is accepted, not at the first byte (test/security/connection-admission.test.ts).
    http: { connectionsCheckingInterval: timeoutSweepMs(timeouts) },
    forceCloseConnections: 'idle' as const,
  };
}

export interface ConnectionLimitOptions {
  /**
   * The share of `maxConnections` kept for addresses that delivered successfully (see
   * connection-admission.ts). A listener where nobody delivers (a worker's metrics port) passes 0:
   * nobody could ever use the reserve.
   */
  reservedShare?: number;
  /** Every refused connection, for the metric (the log line is throttled; this is not). */
  onRefused?: (reason: RefusalReason) => void;
}

/**
 * What fastify has no option for: the headers deadline, and our own admission of each new
 * connection in place of Node's `maxConnections` (which treats all clients alike, so one address
 * could hold every slot). A refused connection is destroyed before any of it is read. Returns the
 * admission, for the app to mark the addresses that delivered successfully.
 */
export function limitConnections(
  app: FastifyInstance,
  timeouts: Timeouts,
  options: ConnectionLimitOptions = {},
): ConnectionAdmission {
  app.server.headersTimeout = timeouts.headersMs;
  const admission = createConnectionAdmission({
    maxConnections: timeouts.maxConnections,
    maxPerClient: timeouts.maxConnectionsPerClient,
    ...(options.reservedShare !== undefined ? { reservedShare: options.reservedShare } : {}),
  });
  const shouldLog = createRefusalLogThrottle();
  app.server.on('connection', (socket: Socket) => {
    const decision = admission.admit(socket.remoteAddress);
    if (decision.admitted) {
      socket.once('close', () => admission.release(decision.key));
      return;
    }
    socket.destroy();
    options.onRefused?.(decision.reason);
    if (shouldLog(decision.key)) {
      app.log.warn(
        { client: decision.key, reason: decision.reason, limit: decision.limit, open: admission.open },
        refusalMessage(decision),
      );
    }
  });
  return admission;
}

function refusalMessage(refusal: Extract<Admission, { admitted: false }>): string {
  const why =
    refusal.reason === 'per_client'
      ? `this client already holds ${refusal.limit} connections and has not delivered successfully yet (--max-connections-per-client)`
      : refusal.reason === 'reserved'
        ? `${refusal.limit} connections are open and the rest are kept for addresses that have delivered successfully`
        : `the server holds ${refusal.limit} connections, its maximum`;
  return `connection refused: ${why}; logged once a minute per client, docv_connections_refused_total counts them all`;
}
