import type { Destination } from '../../types.js';

/**
 * Destinations beyond HTTP (issue 21): a forward whose URL scheme names a message broker. The
 * store keeps them as forwards (kind `forward`: a log destination with a cursor, like any HTTP
 * forward), so ordering per transaction, retries, dead letters, replay, metrics and the
 * dashboard are the same code; only the attempt differs: it counts as delivered once the broker
 * has acknowledged the message (publisher confirm, JetStream PubAck, the XADD reply).
 */
export type BrokerTransportName = 'rabbitmq' | 'nats' | 'redis';

export interface BrokerDestinationOptions {
  /** The whole URL, credentials included (from the flags or the config file, never the store). */
  url: string;
  /** The destination's name (BrokerTransport.nameOf). */
  name: string;
  /** Standard Webhooks secret(s) to sign the message with (the `webhook-signature` header). */
  signingSecrets?: string[] | undefined;
  /** One attempt at most: connect (when not connected) and publish until acknowledged. */
  timeoutMs: number;
}

export interface BrokerTransport {
  readonly transport: BrokerTransportName;
  /** URL schemes it takes, with the colon (`amqp:`). */
  readonly schemes: readonly string[];
  /**
   * The destination's name: `<transport>:<host:port>…` plus what picks the target (exchange and
   * routing key, subject, stream), never a credential. Throws a TypeError saying what is wrong
   * with the URL (a missing exchange, an unknown option, a template naming an unknown field).
   */
  nameOf(url: URL): string;
  create(options: BrokerDestinationOptions): Destination;
}
