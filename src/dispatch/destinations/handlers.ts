import type { CanonicalEvent, KnownEventType, SessionEventType } from '../../contract/index.js';
import type { ClaimedDelivery } from '../../store/index.js';
import type { AttemptOutcome, Destination } from '../types.js';

export const HANDLERS_DESTINATION = 'handlers';

/** What a handler gets besides the event: enough to deduplicate and to look things up. */
export interface HandlerContext {
  eventId: string;
  deliveryId: string;
  /** 1 on the first try; handlers run at least once, so they must tolerate a repeat. */
  attempt: number;
  receivedAt: string;
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
export type CanonicalEventOf<T extends string> = CanonicalEvent & { eventType: T } & (T extends SessionEventType ? { docvTransactionId: string } : unknown);

export type EventHandler<T extends string = string> = (event: CanonicalEventOf<T>, context: HandlerContext) => unknown;
export type AnyEventHandler = (event: CanonicalEvent, context: HandlerContext) => unknown;
export type ErrorHandler = (error: Error, event: CanonicalEvent, context: HandlerContext) => unknown;

/** The integrator's in-process code, registered with `.on(type, fn)` / `.onAny(fn)`. */
export class HandlerRegistry implements Destination {
  readonly name = HANDLERS_DESTINATION;
  private readonly byType = new Map<string, EventHandler[]>();
  private readonly any: AnyEventHandler[] = [];
  private readonly errorHandlers: ErrorHandler[] = [];

  on<T extends EventTypeName>(eventType: T, handler: EventHandler<T>): void {
    const list = this.byType.get(eventType) ?? [];
    list.push(handler as unknown as EventHandler);
    this.byType.set(eventType, list);
  }

  onAny(handler: AnyEventHandler): void {
    this.any.push(handler);
  }

  onError(handler: ErrorHandler): void {
    this.errorHandlers.push(handler);
  }

  get size(): number {
    return this.any.length + [...this.byType.values()].reduce((n, l) => n + l.length, 0);
  }

  /** Runs every matching handler in registration order; the first that throws fails the attempt. */
  async deliver(delivery: ClaimedDelivery, signal: AbortSignal): Promise<AttemptOutcome> {
    const context: HandlerContext = {
      eventId: delivery.eventId,
      deliveryId: delivery.deliveryId,
      attempt: delivery.attempts + 1,
      receivedAt: delivery.receivedAt,
      fetchedDecision: delivery.fetchedDecision,
      signal,
    };
    // No handler at all yet (the app registers them after creating the receiver): not delivered,
    // try again later; marking it delivered would hand the event to nobody, for good.
    if (this.size === 0) return { outcome: 'failed', error: 'no handler is registered yet' };
    const handlers: AnyEventHandler[] = [...(this.byType.get(delivery.eventType) ?? []), ...this.any] as AnyEventHandler[];
    try {
      for (const handler of handlers) await handler(delivery.event, context);
      return { outcome: 'delivered' };
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      for (const onError of this.errorHandlers) {
        try {
          await onError(error, delivery.event, context);
        } catch {
          // An error handler that fails must not hide the original failure.
        }
      }
      return { outcome: 'failed', error: `handler threw: ${error.message}` };
    }
  }
}
