import type { Destination } from '../../types.js';
import { natsTransport } from './nats.js';
import { rabbitmqTransport } from './rabbitmq.js';
import { redisTransport } from './redis.js';
import type { BrokerDestinationOptions, BrokerTransport, BrokerTransportName } from './types.js';

export type { BrokerDestinationOptions, BrokerTransport, BrokerTransportName } from './types.js';

const TRANSPORTS: readonly BrokerTransport[] = [rabbitmqTransport, natsTransport, redisTransport];

/** The broker a URL's scheme names, or undefined for any other scheme (http(s): an HTTP forward). */
export function brokerTransportOf(url: URL): BrokerTransport | undefined {
  return TRANSPORTS.find((t) => t.schemes.includes(url.protocol));
}

/** Every scheme a destination URL may have besides http(s), for messages. */
export const BROKER_SCHEMES: readonly string[] = TRANSPORTS.flatMap((t) => t.schemes.map((s) => s.slice(0, -1)));

export function createBrokerDestination(
  transport: BrokerTransportName,
  options: BrokerDestinationOptions,
): Destination {
  const t = TRANSPORTS.find((x) => x.transport === transport);
  if (!t) throw new TypeError(`no broker transport ${transport}`);
  return t.create(options);
}
