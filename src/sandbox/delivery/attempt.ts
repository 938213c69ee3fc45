import { performance } from 'node:perf_hooks';
import { Agent, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../../retry/schedule.js';
import { TARGET_REFUSED } from './target-guard.js';

export interface AttemptOutcome {
  statusCode?: number;
  latencyMs: number;
  /** Why there is no status: timeout, refused connection… */
  error?: string;
  /** The same cause in a few words for summaries (`connection refused`), when there is no status. */
  failure?: NetworkFailure;
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

/** Where a webhook URL points, split once: a load run sends tens of thousands of requests to one URL. */
interface Target {
  origin: string;
  path: string;
}
const targets = new Map<string, Target>();
const MAX_CACHED_TARGETS = 256;

function targetOf(url: string): Target {
  let t = targets.get(url);
  if (!t) {
    const u = new URL(url);
    t = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
    targets.set(url, t);
  }
  return t;
}

/**
 * The dispatcher of attempts made without one of their own: this undici's Agent, never the global
 * dispatcher. Once Node's built-in fetch has run, the global one is Node's bundled undici, whose
 * handlers speak an older API: every attempt then failed at once with "invalid onError method".
 */
let sharedAgent: Agent | null = null;
function defaultDispatcher(): Agent {
  sharedAgent ??= new Agent();
  return sharedAgent;
}

/** Why an attempt got no answer, named as a person would say it rather than by its error code. */
export type NetworkFailure =
  | 'connection refused'
  | 'connection reset'
  | 'connection closed'
  | 'timed out'
  | 'host not found'
  | 'host unreachable'
  | 'TLS error'
  /** The sandbox's own --allow-target refused the URL or what its host resolved to: final, never retried. */
  | 'target not allowed'
  | 'network error';

const FAILURE_BY_CODE: Readonly<Record<string, NetworkFailure>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out',
  UND_ERR_BODY_TIMEOUT: 'timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'host unreachable',
  [TARGET_REFUSED]: 'target not allowed',
};

export function networkFailureOf(code: string | undefined): NetworkFailure {
  if (code === undefined) return 'network error';
  const known = FAILURE_BY_CODE[code];
  if (known) return known;
  // Certificate problems come with many codes (CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID…).
  return /TLS|SSL|CERT/.test(code) ? 'TLS error' : 'network error';
}

function describeError(err: unknown): { error: string; failure: NetworkFailure } {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  // Its message says it all, the flag included.
  if (e.code === TARGET_REFUSED) return { error: e.message, failure: 'target not allowed' };
  const code = e.cause?.code ?? e.code;
  const error = e.cause?.code
    ? `${e.cause.code}: ${e.cause.message ?? e.message}`
    : e.code
      ? `${e.code}: ${e.message}`
      : e.message;
  return { error, failure: networkFailureOf(code) };
}

/** The outcome of an attempt the sandbox would not make: no request was sent. */
export function refusedTargetOutcome(reason: string): AttemptOutcome {
  return {
    latencyMs: 0,
    error: `refused by --allow-target: ${reason}`,
    failure: 'target not allowed',
    response: '',
    responseHeaders: {},
  };
}

/**
 * One POST. Never throws: network failures become an outcome without a status. The whole
 * attempt (connect, headers, body) is bounded by `timeoutMs`, and redirects are not followed:
 * a webhook URL that redirects is misconfigured, and a 3xx counts as a failure.
 *
 * Written against undici's dispatch handler rather than `request()`: no response stream, no
 * AbortSignal and no promise per chunk, which is most of an attempt's cost when a load run keeps
 * fifty of them in flight against a fast receiver.
 */
export function attemptDelivery(opts: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  dispatcher?: Dispatcher;
  now?: () => number;
}): Promise<AttemptOutcome> {
  const started = performance.now();
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    let timedOut = false;
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode: number | undefined;
    let responseHeaders: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let size = 0;

    const finish = (why?: { error: string; failure: NetworkFailure }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const latencyMs = performance.now() - started;
      if (statusCode === undefined) {
        resolve({
          latencyMs,
          error: why?.error ?? 'no response',
          failure: why?.failure ?? 'network error',
          response: '',
          responseHeaders: {},
        });
        return;
      }
      // A status already arrived: a body cut short (or too long to read) does not change the outcome.
      resolve({
        statusCode,
        latencyMs,
        retryAfterMs: parseRetryAfter(responseHeaders['retry-after'], (opts.now ?? Date.now)()),
        response: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
        responseHeaders,
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish({ error: `timed out after ${opts.timeoutMs} ms`, failure: 'timed out' });
      controller?.abort(new Error('attempt timed out'));
    }, opts.timeoutMs);

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        // Timed out while waiting for a connection: do not send it at all.
        if (settled) c.abort(new Error(timedOut ? 'attempt timed out' : 'attempt abandoned'));
      },
      onResponseStart(c, code, headers) {
        if (code < 200) return; // informational: the real answer follows
        statusCode = code;
        responseHeaders = {};
        for (const [k, v] of Object.entries(headers)) {
          const value = headerValue(v);
          if (value !== undefined) responseHeaders[k] = value;
        }
      },
      onResponseData(c, chunk) {
        if (size < RESPONSE_EXCERPT_BYTES) chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - size));
        size += chunk.length;
        // A receiver streaming a huge body must not keep the attempt open: stop reading.
        if (size >= RESPONSE_EXCERPT_BYTES) {
          finish();
          c.abort(new Error('response body longer than needed'));
        }
      },
      onResponseEnd() {
        finish();
      },
      onResponseError(_c, err) {
        finish(describeError(err));
      },
    };

    try {
      const { origin, path } = targetOf(opts.url);
      (opts.dispatcher ?? defaultDispatcher()).dispatch(
        {
          origin,
          path,
          method: 'POST',
          headers: opts.headers,
          body: opts.body,
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
        },
        handler,
      );
    } catch (err) {
      finish(describeError(err));
    }
  });
}
