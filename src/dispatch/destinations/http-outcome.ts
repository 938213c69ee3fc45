import { parseRetryAfter } from '../../retry/schedule.js';
import type { AttemptOutcome } from '../types.js';

/** How an HTTP answer from a destination maps onto an attempt: 2xx done, 410 stop, else retry. */
export function outcomeOfResponse(status: number, retryAfter: string | null, bodySnippet: string): AttemptOutcome {
  if (status >= 200 && status < 300) return { outcome: 'delivered', status };
  const error = `HTTP ${status}${bodySnippet ? `: ${bodySnippet}` : ''}`;
  if (status === 410) return { outcome: 'dead', status, error };
  const retryAfterMs = parseRetryAfter(retryAfter ?? undefined, Date.now());
  return { outcome: 'failed', status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** Network errors and timeouts are failures worth retrying; the message says which. */
export function outcomeOfError(err: unknown, timeoutMs: number): AttemptOutcome {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return { outcome: 'failed', error: `timed out after ${timeoutMs} ms` };
  const cause = e.cause?.code ?? e.cause?.message;
  return { outcome: 'failed', error: cause ? `${e.message} (${cause})` : e.message };
}
