import type { CanonicalEvent, KnownEventType, SessionEventType } from '../../contract/index.js';
import type { ClaimedDelivery } from '../../store/index.js';
import type { AttemptOutcome, Destination } from '../types.js';

/**
 * The one destination all handlers shared before each became its own. Rows under this name are
 * still delivered (an outbox written by an older version, or events accepted while no handler
 * was registered yet), by running every matching handler in turn.
 */
export const HANDLERS_DESTINATION = 'handlers';

/** Every handler's destination name starts so: `handler:<event type or *>:<n>`, or `handler:<name>`. */
export const HANDLER_DESTINATION_PREFIX = 'handler:';

/** What a handler gets besides the event: enough to deduplicate and to look things up. */
export interface HandlerContext {
  eventId: string;
  deliveryId: string;
  /** 1 on the first try; handlers run at least once, so they must tolerate a repeat. */
  attempt: number;
  receivedAt: string;
  /** The source the event came through (`default` on a single-source receiver). */
  source: string;
  /** The decision from Get A DocV Transaction, when it was fetched in time. */
  fetchedDecision: ClaimedDelivery['fetchedDecision'];
  signal: AbortSignal;
}

/** An event type to listen for: one of the known ones (completed by editors), or any other string Socure may add. */
export type EventTypeName = KnownEventType | (string & {});
/**
 * The canonical event narrowed to one type: what a handler registered for that type gets. The
 * event types of a DocV session always name their transaction (every dialect requires it).
 */
export type CanonicalEventOf<T extends string> = CanonicalEvent & { eventType: T } & (T extends SessionEventType
    ? { docvTransactionId: string }
    : unknown);

export type EventHandler<T extends string = string> = (event: CanonicalEventOf<T>, context: HandlerContext) => unknown;
export type AnyEventHandler = (event: CanonicalEvent, context: HandlerContext) => unknown;
export type ErrorHandler = (error: Error, event: CanonicalEvent, context: HandlerContext) => unknown;

export interface HandlerOptions {
  /**
   * The handler's destination name (`handler:<name>`), kept in the outbox with its deliveries.
   * By default `handler:<event type>:<n>` (`handler:*:<n>` for onAny), n counting that type's
   * handlers in the order they are registered: stable as long as the program registers them in
   * the same order. Name a handler when that order may change between deploys, or its waiting
   * deliveries would go to the one that takes its place.
   */
  name?: string;
}

type AnyHandler = AnyEventHandler;

function contextOf(delivery: ClaimedDelivery, signal: AbortSignal): HandlerContext {
  return {
    eventId: delivery.eventId,
    deliveryId: delivery.deliveryId,
    attempt: delivery.attempts + 1,
    receivedAt: delivery.receivedAt,
    source: delivery.source,
    fetchedDecision: delivery.fetchedDecision,
    signal,
  };
}

/**
 * One handler as a destination: its own outbox row per event, its own attempts, retries and dead
 * letter, so a handler that failed is retried alone and one that succeeded never runs again.
 * Events of other types are done at once (the outbox gives every destination a row per event).
 */
class HandlerDestination implements Destination {
  constructor(
    readonly name: string,
    readonly eventType: string | null,
    readonly handler: AnyHandler,
    private readonly reportError: (error: Error, delivery: ClaimedDelivery, context: HandlerContext) => Promise<void>,
  ) {}

  takes(eventType: string): boolean {
    return this.eventType === null || this.eventType === eventType;
  }

  async deliver(delivery: ClaimedDelivery, signal: AbortSignal): Promise<AttemptOutcome> {
    if (!this.takes(delivery.eventType)) return { outcome: 'delivered' };
    const context = contextOf(delivery, signal);
    try {
      await this.handler(delivery.event, context);
      return { outcome: 'delivered' };
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      await this.reportError(error, delivery, context);
      return { outcome: 'failed', error: `handler threw: ${error.message}` };
    }
  }
}

/**
 * The integrator's in-process code, registered with `.on(type, fn)` / `.onAny(fn)`. Each handler
 * is a destination of its own (`destinations()`), as octokit runs every handler and reports every
 * error rather than stopping at the first.
 */
export class HandlerRegistry {
  private readonly handlers: HandlerDestination[] = [];
  private readonly errorHandlers: ErrorHandler[] = [];
  private readonly listeners: Array<() => void> = [];
  /** Rows of the shared `handlers` destination: every matching handler in turn, as before. */
  private readonly shared: Destination = {
    name: HANDLERS_DESTINATION,
    deliver: (delivery, signal) => this.deliverShared(delivery, signal),
  };

  on<T extends EventTypeName>(eventType: T, handler: EventHandler<T>, options: HandlerOptions = {}): void {
    const n = this.handlers.filter((h) => h.eventType === eventType).length + 1;
    this.add(options.name ?? `${eventType}:${n}`, eventType, handler as unknown as AnyHandler);
  }

  onAny(handler: AnyEventHandler, options: HandlerOptions = {}): void {
    const n = this.handlers.filter((h) => h.eventType === null).length + 1;
    this.add(options.name ?? `*:${n}`, null, handler);
  }

  onError(handler: ErrorHandler): void {
    this.errorHandlers.push(handler);
  }

  /** Told after each handler is registered (the outbox and the dispatcher take the new destination). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  get size(): number {
    return this.handlers.length;
  }

  /** The names new events get an outbox row under: one per handler, or the shared one while there is none yet. */
  outboxNames(): string[] {
    return this.handlers.length === 0 ? [HANDLERS_DESTINATION] : this.handlers.map((h) => h.name);
  }

  /** What the dispatcher delivers: each handler, and the shared destination for the rows made under it. */
  destinations(): Destination[] {
    return [...this.handlers, this.shared];
  }

  private add(suffix: string, eventType: string | null, handler: AnyHandler): void {
    const name = `${HANDLER_DESTINATION_PREFIX}${suffix}`;
    if (suffix.length === 0 || suffix.length > 200)
      throw new TypeError(`a handler name must be 1 to 200 characters; got ${JSON.stringify(suffix)}`);
    if (this.handlers.some((h) => h.name === name))
      throw new TypeError(`a handler named ${name} is already registered; give this one another name`);
    this.handlers.push(
      new HandlerDestination(name, eventType, handler, (error, delivery, context) =>
        this.reportError(error, delivery.event, context),
      ),
    );
    for (const listener of this.listeners) listener();
  }

  private async reportError(error: Error, event: CanonicalEvent, context: HandlerContext): Promise<void> {
    for (const onError of this.errorHandlers) {
      try {
        await onError(error, event, context);
      } catch {
        // An error handler that fails must not hide the original failure.
      }
    }
  }

  /** The shared destination's rows: every matching handler in registration order; the first that throws fails the attempt. */
  private async deliverShared(delivery: ClaimedDelivery, signal: AbortSignal): Promise<AttemptOutcome> {
    // No handler at all yet (the app registers them after creating the receiver): not delivered,
    // try again later; marking it delivered would hand the event to nobody, for good.
    if (this.handlers.length === 0) return { outcome: 'failed', error: 'no handler is registered yet' };
    const context = contextOf(delivery, signal);
    try {
      for (const h of this.handlers) if (h.takes(delivery.eventType)) await h.handler(delivery.event, context);
      return { outcome: 'delivered' };
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      await this.reportError(error, delivery.event, context);
      return { outcome: 'failed', error: `handler threw: ${error.message}` };
    }
  }
}
