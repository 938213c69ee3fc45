import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../../retry/schedule.js';

export interface AttemptOutcome {
  statusCode?: number;
  latencyMs: number;
  /** Why there is no status: timeout, refused connection… */
  error?: string;
  retryAfterMs?: number;
  /** The start of the response body (bounded), for logs and `trigger`. */
  response: string;
  responseHeaders: Record<string, string>;
}

/** Enough of a receiver's answer to see `{"status":"accepted"}` or a problem's title, no more. */
export const RESPONSE_EXCERPT_BYTES = 2048;

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * One POST. Never throws: network failures become an outcome without a status. The whole
 * attempt (connect, headers, body) is bounded by `timeoutMs`, and redirects are not followed:
 * a webhook URL that redirects is misconfigured, and a 3xx counts as a failure.
 */
export async function attemptDelivery(opts: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  dispatcher?: Dispatcher;
  now?: () => number;
}): Promise<AttemptOutcome> {
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    const res = await request(opts.url, {
      method: 'POST',
      headers: opts.headers,
      body: opts.body,
      signal,
      dispatcher: opts.dispatcher,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        if (size < RESPONSE_EXCERPT_BYTES) chunks.push(buf.subarray(0, RESPONSE_EXCERPT_BYTES - size));
        size += buf.length;
        // A receiver streaming a huge body must not keep the attempt open: stop reading.
        if (size >= RESPONSE_EXCERPT_BYTES) break;
      }
    } catch {
      // The status already arrived; a body cut short does not change the outcome.
    } finally {
      res.body.destroy();
    }
    const responseHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      const value = headerValue(v);
      if (value !== undefined) responseHeaders[k] = value;
    }
    return {
      statusCode: res.statusCode,
      latencyMs: performance.now() - started,
      retryAfterMs: parseRetryAfter(responseHeaders['retry-after'], (opts.now ?? Date.now)()),
      response: Buffer.concat(chunks).toString('utf8'),
      responseHeaders,
    };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const error = signal.aborted
      ? `timed out after ${opts.timeoutMs} ms`
      : e.cause?.code
        ? `${e.cause.code}: ${e.cause.message ?? e.message}`
        : e.code
          ? `${e.code}: ${e.message}`
          : e.message;
    return { latencyMs: performance.now() - started, error, response: '', responseHeaders: {} };
  }
}
