import { headers as natsHeaders, NatsError, type JetStreamPublishOptions } from 'nats';
import { redactUrl } from '../../../auth/redact-url.js';
import type { ClaimedDelivery } from '../../../store/index.js';
import type { AttemptOutcome, Destination } from '../../types.js';
import { untilAborted, withDeadline } from '../deadline.js';
import { brokerMessage, renderTemplate, tokenSafe } from './message.js';
import { NatsLink } from './nats-link.js';
import { natsAddress, natsDestinationName, natsTarget } from './nats-url.js';
import type { BrokerDestinationOptions, BrokerTransport } from './types.js';

/**
 * NATS JetStream (issue 21): each delivery is one JetStream publish, delivered once the stream
 * acknowledged it (the PubAck). The delivery id is the message id (Nats-Msg-Id), so a retry of
 * a publish whose PubAck was lost is stored once: JetStream answers it as a duplicate, which
 * is as delivered as the first.
 */
export const natsTransport: BrokerTransport = {
  transport: 'nats',
  schemes: ['nats:'],
  nameOf: natsDestinationName,
  create: createNatsDestination,
};

export function createNatsDestination(options: BrokerDestinationOptions): Destination {
  const target = natsTarget(new URL(options.url));
  const where = `nats ${natsAddress(target)}`;
  const encoder = new TextEncoder();
  let link: NatsLink | undefined;

  /** The open link, or a new one when there is none or it has ended (the server restarted, the network cut it). */
  function current(): NatsLink {
    if (!link || link.ended) {
      link?.abandon('the connection had ended');
      link = new NatsLink(target, options.timeoutMs);
    }
    return link;
  }

  /** Forgets a link that failed, so the next attempt connects again (unless another already did). */
  function drop(failed: NatsLink): void {
    if (link === failed) link = undefined;
    failed.abandon('the connection was closed after an attempt failed on it');
  }

  return {
    name: options.name,
    async deliver(delivery, parent): Promise<AttemptOutcome> {
      const subject = renderTemplate(target.subjectTemplate, delivery, tokenSafe);
      const message = brokerMessage(delivery, options.signingSecrets);
      const deadline = withDeadline(parent, options.timeoutMs);
      const endsAt = Date.now() + options.timeoutMs;
      const used = current();
      let step = 'connecting';
      try {
        const js = await untilAborted(used.ready, deadline.signal);
        step = `publishing to subject ${JSON.stringify(subject)}`;
        const published = js.publish(subject, encoder.encode(message.body), {
          ...publishOptions(delivery, message.headers, target.stream),
          // The client's own wait for the PubAck ends with the attempt, so it forgets the request.
          timeout: Math.max(1, endsAt - Date.now()),
        });
        const ack = await untilAborted(published, deadline.signal);
        // A duplicate is this delivery id seen within the stream's duplicate window: stored before.
        return { outcome: 'delivered', ...(ack.duplicate ? { note: `already in stream ${ack.stream}` } : {}) };
      } catch (err) {
        // Read before this attempt drops the link: a connection lost under the publish, or closed
        // by another attempt, makes the client fail what is in flight with a TIMEOUT at once.
        const gone = step === 'connecting' || deadline.signal.aborted ? undefined : used.goneReason();
        const why = gone ?? explain(err, subject, options.timeoutMs);
        const denied = used.deniedPublishTo(subject) ? ' (the server refused it: permissions violation)' : '';
        const error = redactUrl(`${where}: ${step} failed: ${why}${denied}`);
        // The server answered (no stream for the subject, the stream refused the message) or the
        // message itself is at fault: the connection is fine, so it is kept. Anything else
        // (refused, lost, timed out) may have left it unusable.
        if (step === 'connecting' || !answered(err)) drop(used);
        // A header value NATS cannot carry (a CR or LF) is the same on every retry.
        if (err instanceof NatsError && err.code === 'BAD_HEADER') return { outcome: 'dead', error };
        return { outcome: 'failed', error };
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
 * The message id is the delivery id (JetStream's deduplication); the forward's headers go as
 * they are named, unchanged in case; `stream=` makes JetStream refuse what another stream captures.
 */
export function publishOptions(
  delivery: Pick<ClaimedDelivery, 'deliveryId'>,
  headers: Record<string, string>,
  stream: string | undefined,
): Partial<JetStreamPublishOptions> {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(headers)) h.set(name, value);
  return {
    msgID: delivery.deliveryId,
    headers: h,
    ...(stream !== undefined ? { expect: { streamName: stream } } : {}),
  };
}

/** The server's answer to the publish, or the client's refusal of the message, rather than a connection's failure. */
function answered(err: unknown): boolean {
  if (!(err instanceof NatsError)) return false;
  return (
    err.code === '503' ||
    err.api_error !== undefined ||
    err.code === 'MAX_PAYLOAD_EXCEEDED' ||
    err.code === 'BAD_HEADER'
  );
}

/** What went wrong, in words an operator can act on. */
function explain(err: unknown, subject: string, timeoutMs: number): string {
  if (err instanceof NatsError) {
    // The client's own wait, which ends with the attempt's.
    if (err.code === 'TIMEOUT') return `timed out after ${timeoutMs} ms`;
    if (err.code === '503')
      return `no JetStream stream captures subject ${JSON.stringify(subject)} (no responders: add the subject to a stream, or enable JetStream on the server)`;
    if (err.api_error?.err_code === 10060)
      return `the stream capturing subject ${JSON.stringify(subject)} is not the one stream= names (expected stream does not match)`;
    if (err.api_error)
      return `JetStream refused the message: ${err.api_error.description} (error ${err.api_error.err_code})`;
    if (err.code === 'MAX_PAYLOAD_EXCEEDED') return 'the message is larger than the server takes (max_payload)';
    if (err.code === 'BAD_HEADER') return `a message header NATS cannot carry: ${err.message}`;
    return err.message === err.code ? err.code : `${err.message} (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}
