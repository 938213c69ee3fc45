import type { DocvEventType } from '../contract/index.js';

/** A transaction before its first event: the sandbox's own word, not an event type. */
export type TransactionStatus = 'CREATED' | DocvEventType;

/**
 * The lifecycle order of the design: whatever order events arrive in, a transaction's status is
 * the highest-ranked one seen. The sandbox uses the same ranking to decide whether a scenario
 * step still makes sense (a user who has uploaded does not "open the app" again).
 */
const RANK: Record<TransactionStatus, number> = {
  CREATED: 0,
  APP_OPENED: 1,
  DOCUMENTS_UPLOADED: 2,
  SESSION_EXPIRED: 3,
  VERIFICATION_COMPLETED: 4,
};

export function statusRank(status: TransactionStatus): number {
  return RANK[status];
}

/** The status after `event` happened to a transaction at `current`. */
export function advanceStatus(current: TransactionStatus, event: DocvEventType): TransactionStatus {
  return RANK[event] > RANK[current] ? event : current;
}

/** No more steps of the end user make sense once the session is over. */
export function isTerminal(status: TransactionStatus): boolean {
  return status === 'VERIFICATION_COMPLETED' || status === 'SESSION_EXPIRED';
}
