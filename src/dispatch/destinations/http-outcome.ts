import { redactUrl } from '../../auth/redact-url.js';
import { isGone, parseRetryAfter } from '../../retry/schedule.js';
import type { AttemptOutcome } from '../types.js';

/** How an HTTP answer from a destination maps onto an attempt: 2xx done, 410 stop, else retry. */
export function outcomeOfResponse(status: number, retryAfter: string | null, bodySnippet: string): AttemptOutcome {
  if (status >= 200 && status < 300) return { outcome: 'delivered', status };
  // The answer's body is the destination's text: it may echo the URL it was called at.
  const error = `HTTP ${status}${bodySnippet ? `: ${redactUrl(bodySnippet)}` : ''}`;
  if (isGone(status)) return { outcome: 'dead', status, error };
  const retryAfterMs = parseRetryAfter(retryAfter ?? undefined, Date.now());
  return { outcome: 'failed', status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/**
 * Network errors and timeouts are failures worth retrying; the message says which. It is logged
 * and stored with the attempt, and fetch quotes the whole URL in some ("Request cannot be
 * constructed from a URL that includes credentials: https://user:pass@…"): URLs are redacted.
 */
export function outcomeOfError(err: unknown, timeoutMs: number): AttemptOutcome {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return { outcome: 'failed', error: `timed out after ${timeoutMs} ms` };
  const cause = e.cause?.code ?? e.cause?.message;
  return { outcome: 'failed', error: redactUrl(cause ? `${e.message} (${cause})` : e.message) };
}
