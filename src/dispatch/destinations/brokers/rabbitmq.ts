import { redactUrl } from '../../../auth/redact-url.js';
import type { AttemptOutcome, Destination } from '../../types.js';
import { withDeadline } from '../deadline.js';
import { brokerMessage, MESSAGE_CONTENT_TYPE, renderTemplate, tokenSafe } from './message.js';
import { RabbitmqLink, RabbitmqPublishError } from './rabbitmq-link.js';
import { MAX_NAME_BYTES, rabbitmqDestinationName, readRabbitmqUrl } from './rabbitmq-url.js';
import type { BrokerDestinationOptions, BrokerTransport } from './types.js';

/**
 * RabbitMQ (issue 21): each delivery is published to an exchange with a routing key, both
 * templates, as a persistent message on a confirm channel with `mandatory` set. It counts as
 * delivered only on RabbitMQ's confirm; a nack, a message no queue takes, a missing exchange, a
 * connection lost or an attempt out of time fails it, and the retry schedule tries again.
 */
export const rabbitmqTransport: BrokerTransport = {
  transport: 'rabbitmq',
  schemes: ['amqp:', 'amqps:'],
  nameOf(url) {
    return rabbitmqDestinationName(readRabbitmqUrl(url));
  },
  create: createRabbitmqDestination,
};

/**
 * A value in an exchange name: the characters AMQP names its exchanges with (letters, digits,
 * `-`, `_`, `.`, `:`); anything else becomes `_`, so a source name cannot make an odd exchange.
 */
function exchangeSafe(value: string): string {
  return value.replace(/[^\w.:-]/g, '_') || 'none';
}

export function createRabbitmqDestination(options: BrokerDestinationOptions): Destination {
  const target = readRabbitmqUrl(new URL(options.url));
  const link = new RabbitmqLink({ target, name: options.name, timeoutMs: options.timeoutMs });
  return {
    name: options.name,
    async deliver(delivery, signal): Promise<AttemptOutcome> {
      const exchange = renderTemplate(target.exchange, delivery, exchangeSafe);
      // Routing key words are separated by `.`, and `*`/`#` are a binding's wildcards: a value is one word.
      const routingKey = renderTemplate(target.routingKey, delivery, tokenSafe);
      const tooLong = nameTooLong(exchange, routingKey);
      // The same delivery renders the same names on every attempt: retrying cannot help.
      if (tooLong) return { outcome: 'dead', error: tooLong };
      const message = brokerMessage(delivery, options.signingSecrets);
      const deadline = withDeadline(signal, options.timeoutMs);
      try {
        await link.publish(
          exchange,
          routingKey,
          Buffer.from(message.body, 'utf8'),
          {
            persistent: true,
            contentType: MESSAGE_CONTENT_TYPE,
            headers: message.headers,
            // The delivery id, as the webhook-id header: a consumer's deduplication key.
            messageId: delivery.deliveryId,
            type: delivery.eventType,
            timestamp: Math.floor(Date.now() / 1000),
            appId: 'docv-webhooks',
          },
          deadline.signal,
        );
        return { outcome: 'delivered' };
      } catch (err) {
        // Messages come from amqplib and RabbitMQ; none should carry a credential, but a URL in one is redacted all the same.
        const error = err instanceof RabbitmqPublishError ? err.message : `publishing failed: ${String(err)}`;
        return { outcome: 'failed', error: redactUrl(error) };
      } finally {
        deadline.done();
      }
    },
    close: () => link.close(),
  };
}

function nameTooLong(exchange: string, routingKey: string): string | null {
  if (Buffer.byteLength(exchange) > MAX_NAME_BYTES)
    return `the exchange name "${exchange.slice(0, 60)}…" is longer than AMQP's ${MAX_NAME_BYTES} bytes`;
  if (Buffer.byteLength(routingKey) > MAX_NAME_BYTES)
    return `the routing key "${routingKey.slice(0, 60)}…" is longer than AMQP's ${MAX_NAME_BYTES} bytes`;
  return null;
}
