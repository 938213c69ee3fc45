import { request } from 'undici';
import type { AttemptOutcome } from '../types.js';
import { withDeadline } from './deadline.js';
import { outcomeOfError, outcomeOfResponse } from './http-outcome.js';

/** One POST of a forward: everything the HTTP side needs, and nothing that cannot cross a thread. */
export interface HttpPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** Sends posts somewhere: on this thread, or on the forward thread (see http-thread.ts). */
export interface HttpPoster {
  post(post: HttpPost, signal: AbortSignal): Promise<AttemptOutcome>;
  close(): Promise<void>;
}

/**
 * The POST itself, with undici's request rather than fetch: the same connection pool and no
 * redirects followed, without the WHATWG Request/Response/stream objects fetch builds per call
 * (most of the CPU an attempt cost).
 */
export async function postNow(post: HttpPost, signal: AbortSignal): Promise<AttemptOutcome> {
  const deadline = withDeadline(signal, post.timeoutMs);
  try {
    const res = await request(post.url, {
      method: 'POST',
      headers: post.headers,
      body: post.body,
      signal: deadline.signal,
    });
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const retryAfter = res.headers['retry-after'];
    const outcome = outcomeOfResponse(
      res.statusCode,
      (Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) ?? null,
      ok ? '' : await bodySnippet(res.body),
    );
    if (ok) await res.body.dump();
    return outcome;
  } catch (err) {
    return outcomeOfError(err, post.timeoutMs);
  } finally {
    deadline.done();
  }
}

/** Posts on the calling thread. */
export const inlinePoster: HttpPoster = { post: postNow, close: async () => undefined };

/** The first bytes of an error body, for the attempt log: enough to debug, bounded. */
async function bodySnippet(body: { text(): Promise<string> }): Promise<string> {
  try {
    const text = await body.text();
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return '';
  }
}
