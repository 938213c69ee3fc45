import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { natsAddress, type NatsTarget } from './nats-url.js';

/**
 * One connection to a NATS server, opened when made and used until it fails. The client's own
 * reconnection is off: while it reconnects it buffers what is published and answers nothing, so a
 * broker that is down would look like a slow one until each attempt timed out. Without it a lost
 * connection ends the link at once, the attempt fails saying so, and the dispatcher's schedule
 * retries on a new link.
 */
export class NatsLink {
  /** The JetStream client once connected; rejects with why the connection could not be made. */
  readonly ready: Promise<JetStreamClient>;
  /** Set once the connection failed or was closed: the next attempt makes a new link. */
  ended = false;
  /**
   * Subjects the server refused a publish to (`Permissions Violation for Publish to …`): it says
   * so apart from the publish, which then gets no answer, so a timed-out attempt names the cause.
   */
  private readonly denied = new Set<string>();
  private connection: NatsConnection | undefined;
  /** Why this side closed it, when it did. */
  private closedBecause: string | undefined;

  constructor(target: NatsTarget, timeoutMs: number) {
    const opening = connect({
      servers: natsAddress(target),
      name: 'docv-webhooks',
      ...(target.auth ?? {}),
      reconnect: false,
      maxReconnectAttempts: 0,
      // The handshake is part of the first attempt, so it has the attempt's bound.
      timeout: timeoutMs,
      // Between deliveries nothing else would notice a connection the network silently dropped.
      pingInterval: 30_000,
      maxPingOut: 2,
      ignoreClusterUpdates: true,
    });
    this.ready = opening.then((nc) => {
      this.connection = nc;
      if (this.closedBecause !== undefined) void nc.close().catch(() => undefined);
      void nc.closed().then(() => {
        this.ended = true;
      });
      void this.watch(nc);
      return nc.jetstream();
    });
    this.ready.catch(() => {
      this.ended = true;
    });
  }

  /**
   * Why the connection is gone, once it is. The client fails what is in flight on a closed
   * connection with a TIMEOUT error at once, which would read as a slow server.
   */
  goneReason(): string | undefined {
    return this.closedBecause ?? (this.connection?.isClosed() ? 'connection lost' : undefined);
  }

  /** Whether the server refused a publish to `subject` on this connection. */
  deniedPublishTo(subject: string): boolean {
    return this.denied.has(subject);
  }

  /** Closes the connection (now, or as soon as it is made); what is in flight fails, saying `because`. */
  abandon(because: string): void {
    this.closedBecause ??= because;
    this.ended = true;
    void this.connection?.close().catch(() => undefined);
  }

  /** Closes the connection and waits until it is. */
  async close(): Promise<void> {
    this.closedBecause ??= 'the destination was closed';
    this.ended = true;
    await this.ready.catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      const context = status.permissionContext;
      if (context?.operation === 'publish' && this.denied.size < 1000) this.denied.add(context.subject);
    }
  }
}
