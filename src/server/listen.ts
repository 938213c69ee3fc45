import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../compose/index.js';

/**
 * What a failed listen means for the person who started it, naming the flag to change; other
 * errors pass through as they are.
 */
export function listenError(err: unknown, host: string, port: number, portFlag: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new ConfigError(`port ${port} on ${host} is already in use; pick another with ${portFlag}`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new ConfigError(`cannot listen on host ${host}: no such local address`);
  if (code === 'EACCES') return new ConfigError(`not allowed to listen on port ${port}; use a port above 1023`);
  return err;
}

/**
 * The port a listening app got (the requested one, or the free one picked for 0) and its
 * http://host:port as a person can open it: localhost for a wildcard bind.
 */
export function listeningAddress(
  app: FastifyInstance,
  host: string,
  requestedPort: number,
): { port: number; url: string } {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : requestedPort;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return { port, url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}` };
}
