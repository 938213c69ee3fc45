/** How claims are paced while ingest is waiting on the database. */
export interface ClaimPacingOptions {
  /** Is ingest backed up right now (commits queued behind the ones running)? */
  ingestBackedUp: () => boolean;
  /** Least time between two claims while it is. */
  spacingMs?: number;
  /** Most deliveries one claim takes while it is. */
  limit?: number;
}

/**
 * Dispatch and ingest share the database, and on PostgreSQL a burst shows there rather than on the
 * event loop: the receiver waits for its commits with an idle loop, so the dispatcher's own burst
 * throttle (event-loop utilization) does not see it, and every claim, attempt record and forward
 * competes with the commits senders are waiting for. While ingest commits are queued behind the
 * running ones, a claim takes one delivery and waits until the previous claim is `spacingMs` old
 * (50 a second by default, as the dispatcher's throttle allows during a burst). The outbox keeps
 * every accepted event, dispatch never stops, and it runs at full speed again as soon as ingest
 * keeps up (a separate `worker` process ingests nothing and is never paced).
 */
export function claimPacing(options: ClaimPacingOptions): (limit: number) => Promise<number> {
  const spacingMs = options.spacingMs ?? 20;
  const burstLimit = options.limit ?? 1;
  let lastClaimAt = -Infinity;
  return async (limit) => {
    if (options.ingestBackedUp()) {
      const wait = lastClaimAt + spacingMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      limit = Math.min(limit, burstLimit);
    }
    lastClaimAt = performance.now();
    return limit;
  };
}
