import type { ClaimedDelivery } from '../store/index.js';

/** What one attempt at one destination came to. */
export type AttemptOutcome =
  /** `note`: why a delivery was done without the usual work (a decision already known…); logged. */
  | { outcome: 'delivered'; status?: number; note?: string }
  | { outcome: 'failed'; status?: number; error: string; retryAfterMs?: number }
  /** Do not try again: the destination said so (410 Gone) or the delivery can never succeed. */
  | { outcome: 'dead'; status?: number; error: string };

/** Somewhere events go: in-process handlers, an HTTP forward, the decision fetch. */
export interface Destination {
  readonly name: string;
  deliver(delivery: ClaimedDelivery, signal: AbortSignal): Promise<AttemptOutcome>;
  /** Releases what the destination holds (a thread, connections); the dispatcher calls it on stop. */
  close?(): Promise<void>;
}
