import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import type { RabbitmqTarget } from './rabbitmq-url.js';
import { untilAborted } from '../deadline.js';

/**
 * Why a publish did not end in RabbitMQ's confirm, in words for the attempt log. `stage` says
 * what was under way when the attempt's time ran out or it was aborted.
 */
export class RabbitmqPublishError extends Error {
  override readonly name = 'RabbitmqPublishError';
}

type Stage = 'connecting' | 'opening a channel' | 'waiting for the confirm';

/** One connection to RabbitMQ; `ended` once it errored or closed (it is then forgotten). */
interface Connection {
  model: ChannelModel;
  ended: Error | undefined;
  /** RabbitMQ's connection.blocked reason (a resource alarm): publishing would only wait. */
  blocked: string | undefined;
  channel: Promise<Channel> | null;
  /** Stops handing it to new attempts (the next one connects anew). */
  forget: () => void;
}

/** The confirm channel every attempt of the destination publishes on. */
interface Channel {
  channel: ConfirmChannel;
  /** The server's reason when it closed the channel (404: no such exchange). */
  closedBy: Error | undefined;
  /** Publishes awaiting their confirm, by message id, oldest first: a basic.return is matched to one. */
  inFlight: Map<string, Publish[]>;
}

interface Publish {
  /** The basic.return's fields (amqplib's types know only a delivery's). */
  returned: { replyCode?: number; replyText?: string } | undefined;
}

export interface RabbitmqLinkOptions {
  target: RabbitmqTarget;
  /** The destination's name: shown as the connection's name in RabbitMQ's management UI. */
  name: string;
  /** Bounds the TCP connect and AMQP handshake (each attempt is bounded by its own signal too). */
  timeoutMs: number;
}

/**
 * The connection a RabbitMQ destination publishes over: opened at the first publish and kept;
 * forgotten after an error, a close or a timed-out attempt, so the next publish connects anew. No
 * reconnect of amqplib's own (its `recovery` option stays off): while RabbitMQ is away each
 * attempt fails at once saying why, and the dispatcher's retry schedule decides when to try again,
 * with the message still in the store rather than in a client-side buffer. What is written to the
 * socket is bounded by the dispatcher's concurrency: one message per attempt in flight.
 */
export class RabbitmqLink {
  private connection: Promise<Connection> | null = null;
  private closed = false;

  constructor(private readonly options: RabbitmqLinkOptions) {}

  /**
   * Publishes one message (mandatory, on a confirm channel) and resolves once RabbitMQ confirmed
   * it. Rejects with a RabbitmqPublishError on anything else: no connection, a closed channel, a
   * nack, a returned (unroutable) message, the signal's abort.
   */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish & { messageId: string },
    signal: AbortSignal,
  ): Promise<void> {
    if (this.closed) throw new RabbitmqPublishError('the destination is closed');
    const connecting = this.connected();
    const connection = await this.until(connecting, signal, 'connecting');
    if (connection.blocked !== undefined)
      throw new RabbitmqPublishError(`RabbitMQ blocks publishing on this connection: ${connection.blocked}`);
    const channel = await this.until(this.channelOf(connection), signal, 'opening a channel', connection);
    await this.send(connection, channel, exchange, routingKey, content, properties, signal);
  }

  /** Closes the connection (in-flight publishes fail); later publishes fail too. */
  async close(): Promise<void> {
    this.closed = true;
    const connecting = this.connection;
    this.connection = null;
    const connection = await connecting?.catch(() => null);
    if (connection) await this.shut(connection);
  }

  private connected(): Promise<Connection> {
    if (this.connection) return this.connection;
    const forget = () => {
      if (this.connection === connecting) this.connection = null;
    };
    const connecting = this.open(forget);
    this.connection = connecting;
    // A failed connect is forgotten at once, so the next attempt tries again.
    connecting.catch(forget);
    return connecting;
  }

  private async open(forget: () => void): Promise<Connection> {
    const { target, name, timeoutMs } = this.options;
    // Loaded at the first publish: a receiver that publishes to no RabbitMQ never loads amqplib.
    const amqp = await import('amqplib');
    let model: ChannelModel;
    try {
      model = await amqp.connect(target.connect, {
        // Bounds the TCP connect and the handshake; amqplib lifts it once the connection is open.
        timeout: timeoutMs,
        // One small message per attempt, waited on: Nagle's delay would only slow each confirm.
        noDelay: true,
        clientProperties: { connection_name: name },
      });
    } catch (err) {
      throw new RabbitmqPublishError(`cannot connect to RabbitMQ at ${target.where}: ${messageOf(err)}`);
    }
    const connection: Connection = { model, ended: undefined, blocked: undefined, channel: null, forget };
    // Without an 'error' listener an emitted error would throw; the reason is kept for the
    // attempts that fail because of it.
    model.on('error', (err: Error) => {
      connection.ended ??= err;
      forget();
    });
    model.on('close', (err?: Error) => {
      connection.ended ??= err ?? new Error('the connection was closed');
      forget();
    });
    model.on('blocked', (reason: string) => {
      connection.blocked = reason || 'no reason given';
    });
    model.on('unblocked', () => {
      connection.blocked = undefined;
    });
    if (this.closed) {
      await this.shut(connection);
      throw new RabbitmqPublishError('the destination is closed');
    }
    return connection;
  }

  private channelOf(connection: Connection): Promise<Channel> {
    if (connection.channel) return connection.channel;
    const forget = () => {
      if (connection.channel === opening) connection.channel = null;
    };
    const opening = this.openChannel(connection, forget);
    connection.channel = opening;
    opening.catch(forget);
    return opening;
  }

  private async openChannel(connection: Connection, forget: () => void): Promise<Channel> {
    let confirmChannel: ConfirmChannel;
    try {
      confirmChannel = await connection.model.createConfirmChannel();
    } catch (err) {
      throw new RabbitmqPublishError(
        `cannot open a channel on RabbitMQ at ${this.options.target.where}: ${messageOf(err)}`,
      );
    }
    const channel: Channel = { channel: confirmChannel, closedBy: undefined, inFlight: new Map() };
    // The server closes a channel over a publish it refuses (404: no such exchange): the reason is
    // kept for the publishes that fail with it, and the next attempt opens a new channel.
    confirmChannel.on('error', (err: Error) => {
      channel.closedBy ??= err;
      forget();
    });
    confirmChannel.on('close', forget);
    // A mandatory message no queue takes comes back before its confirm (RabbitMQ sends basic.return
    // first), so its publish is marked here and fails when the confirm arrives.
    confirmChannel.on('return', (message: Message) => {
      const id = String(message.properties.messageId);
      const publish = channel.inFlight.get(id)?.find((p) => p.returned === undefined);
      if (publish) publish.returned = message.fields as Publish['returned'];
    });
    return channel;
  }

  private send(
    connection: Connection,
    channel: Channel,
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish & { messageId: string },
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const publish: Publish = { returned: undefined };
      const id = properties.messageId;
      const waiting = channel.inFlight.get(id) ?? [];
      waiting.push(publish);
      channel.inFlight.set(id, waiting);
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        const rest = (channel.inFlight.get(id) ?? []).filter((p) => p !== publish);
        if (rest.length > 0) channel.inFlight.set(id, rest);
        else channel.inFlight.delete(id);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => finish(this.stopped(signal, 'waiting for the confirm', connection));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        channel.channel.publish(exchange, routingKey, content, { ...properties, mandatory: true }, (err: unknown) => {
          if (err) return finish(new RabbitmqPublishError(this.channelFailure(connection, channel, exchange, err)));
          if (publish.returned)
            return finish(
              new RabbitmqPublishError(
                `no queue bound to exchange "${exchange}" for routing key "${routingKey}" (RabbitMQ returned the message: ${publish.returned.replyCode} ${publish.returned.replyText})`,
              ),
            );
          finish();
        });
      } catch (err) {
        // A channel already closed throws at once (amqplib's IllegalOperationError).
        finish(new RabbitmqPublishError(this.channelFailure(connection, channel, exchange, err)));
      }
    });
  }

  /** Why a publish's confirm never came, from what the channel and the connection reported. */
  private channelFailure(connection: Connection, channel: Channel, exchange: string, err: unknown): string {
    const closedBy = channel.closedBy as (Error & { code?: number }) | undefined;
    if (closedBy) {
      const why = closedBy.message.replace(/^Channel closed by server: /, '');
      if (closedBy.code === 404 && why.includes(`no exchange '${exchange}'`))
        return `exchange "${exchange}" does not exist on RabbitMQ at ${this.options.target.where} (it closed the channel: ${why})`;
      return `RabbitMQ closed the channel: ${why}`;
    }
    if (connection.ended)
      return `the connection to RabbitMQ at ${this.options.target.where} ended: ${messageOf(connection.ended)}`;
    if (messageOf(err) === 'message nacked') return 'RabbitMQ refused the message (basic.nack)';
    return messageOf(err);
  }

  /**
   * Waits for `promise` unless the attempt's signal fires first. The connect or channel open goes
   * on (bounded by the socket timeout); a connection that arrives late serves the next attempt.
   */
  private until<T>(promise: Promise<T>, signal: AbortSignal, stage: Stage, connection?: Connection): Promise<T> {
    return untilAborted(promise, signal, () => this.stopped(signal, stage, connection));
  }

  /**
   * The error of an attempt whose signal fired. A timeout on an open connection drops it: a
   * connection that neither opens a channel nor confirms within the attempt's budget is stuck (a
   * peer gone without a FIN, which heartbeats would notice only after minutes).
   */
  private stopped(signal: AbortSignal, stage: Stage, connection: Connection | undefined): RabbitmqPublishError {
    const reason = signal.reason as Error | undefined;
    if (reason?.name === 'TimeoutError') {
      // A resource alarm holds every publisher until it clears: not this connection's fault, kept.
      if (connection?.blocked !== undefined)
        return new RabbitmqPublishError(
          `${reason.message} ${stage}: RabbitMQ blocks publishing on this connection (${connection.blocked})`,
        );
      if (connection) this.drop(connection);
      return new RabbitmqPublishError(`${reason.message} ${stage} (RabbitMQ at ${this.options.target.where})`);
    }
    return new RabbitmqPublishError(`aborted ${stage}: ${reason?.message ?? 'the attempt was stopped'}`);
  }

  private drop(connection: Connection): void {
    connection.ended ??= new Error('dropped after an attempt timed out');
    connection.forget();
    void this.shut(connection);
  }

  /** Closes a connection, bounded: a peer that never answers the close does not hold anyone up. */
  private async shut(connection: Connection): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      connection.model.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
