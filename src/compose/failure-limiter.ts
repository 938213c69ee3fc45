import type { Logger } from 'pino';
import { createFailureLimiter, type FailureBlock, type FailureLimiter } from '../auth/index.js';
import { ConfigError } from './errors.js';

/**
 * The receiver's failure limiter, or none: without credentials nothing can fail, and a limit of
 * 0 turns it off. Each block is logged once, when it starts: a sender that then gets 429 for
 * minutes, even with the right secret, is otherwise a mystery to whoever runs the receiver.
 */
export function receiverFailureLimiter(
  limit: number,
  authConfigured: boolean,
  logger: Logger,
): FailureLimiter | undefined {
  if (!Number.isSafeInteger(limit) || limit < 0)
    throw new ConfigError(`the auth failure limit must be a whole number, 0 to turn it off; got ${String(limit)}`);
  if (!authConfigured || limit === 0) return undefined;
  return createFailureLimiter({
    maxFailures: limit,
    onBlock: (block) => logger.warn(blockFields(block), blockMessage(block, limit)),
  });
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}

function blockFields(block: FailureBlock): Record<string, unknown> {
  return {
    address: block.address,
    failures: block.failures,
    blockSeconds: seconds(block.blockMs),
    blockedUntil: new Date(block.until).toISOString(),
    reason: block.reason,
  };
}

/** What happened, for how long, and the flag that changes it; the reason names the check, never a credential. */
export function blockMessage(block: FailureBlock, limit: number): string {
  const why = block.reason === undefined ? '' : ` (last: ${block.reason})`;
  return (
    `address ${block.address} blocked for ${seconds(block.blockMs)} s after ${block.failures} failed authentications within ${seconds(block.windowMs)} s${why}; ` +
    `until ${new Date(block.until).toISOString()} every delivery from it gets 429, even with the right credentials; ` +
    `--auth-failure-limit (DOCV_AUTH_FAILURE_LIMIT, now ${limit}) sets how many failures are allowed, 0 turns the limiter off`
  );
}
