import { redactUrl } from '../../../auth/redact-url.js';
import type { ClaimedDelivery } from '../../../store/index.js';
import type { AttemptOutcome, Destination } from '../../types.js';
import { untilAborted, withDeadline } from '../deadline.js';
import { brokerMessage, renderTemplate, tokenSafe } from './message.js';
import { isReplyError, messageOf, RedisLink } from './redis-link.js';
import { redisAddress, redisDestinationName, redisTarget, type RedisTarget } from './redis-url.js';
import type { BrokerDestinationOptions, BrokerTransport } from './types.js';

/** Redis Streams (issue 21): each delivery is one `XADD`, delivered once Redis replies with the entry id. */
export const redisTransport: BrokerTransport = {
  transport: 'redis',
  schemes: ['redis:', 'rediss:'],
  nameOf: redisDestinationName,
  create: createRedisDestination,
};

export function createRedisDestination(options: BrokerDestinationOptions): Destination {
  const target = redisTarget(new URL(options.url));
  const where = `redis ${redisAddress(target)}/${target.db}`;
  let link: RedisLink | undefined;

  /** The open link, or a new one when there is none or it has ended (Redis restarted, the network cut it). */
  function current(): RedisLink {
    if (!link || link.ended) {
      link?.abandon();
      link = new RedisLink(target, options.timeoutMs);
    }
    return link;
  }

  /** Forgets a link that failed, so the next attempt connects again (unless another already did). */
  function drop(failed: RedisLink): void {
    if (link === failed) link = undefined;
    failed.abandon();
  }

  return {
    name: options.name,
    async deliver(delivery, parent): Promise<AttemptOutcome> {
      const stream = renderTemplate(target.streamTemplate, delivery, tokenSafe);
      const args = xaddArguments(stream, target.maxlen, delivery, options.signingSecrets);
      const deadline = withDeadline(parent, options.timeoutMs);
      const used = current();
      let step = 'connecting';
      try {
        await untilAborted(used.ready, deadline.signal);
        step = `XADD to stream ${JSON.stringify(stream)}`;
        await untilAborted(used.xadd(args), deadline.signal);
        return { outcome: 'delivered' };
      } catch (err) {
        // Redis answered with an error (WRONGTYPE: the key holds something else; OOM; NOPERM): the
        // connection is fine and an operator can fix the cause, so it is kept and the delivery retried.
        // Anything else (refused, reset, timed out) may have left the connection unusable.
        if (!(step !== 'connecting' && isReplyError(err))) drop(used);
        return { outcome: 'failed', error: redactUrl(`${where}: ${step} failed: ${messageOf(err)}`) };
      } finally {
        deadline.done();
      }
    },
    async close() {
      const open = link;
      link = undefined;
      await open?.close();
    },
  };
}

/**
 * `XADD <stream> [MAXLEN ~ <n>] * body <json> <header> <value> …`: the body first, then the HTTP
 * forward's headers as fields, so a consumer reads the same names it would as an HTTP receiver.
 * `~` lets Redis trim whole nodes only, which costs nothing on each add.
 */
export function xaddArguments(
  stream: string,
  maxlen: RedisTarget['maxlen'],
  delivery: ClaimedDelivery,
  signingSecrets: readonly string[] | undefined,
): string[] {
  const message = brokerMessage(delivery, signingSecrets);
  const args = [stream];
  if (maxlen > 0) args.push('MAXLEN', '~', String(maxlen));
  args.push('*', 'body', message.body);
  for (const [name, value] of Object.entries(message.headers)) args.push(name, value);
  return args;
}
