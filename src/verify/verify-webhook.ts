import { createInboundAuth } from '../auth/inbound.js';
import { readHeaderValues, type HeaderMap } from '../auth/headers.js';
import { repeatedCredentialHeader } from '../auth/repeated-headers.js';
import { parseDelivery, type CanonicalEvent, type ContractViolation, type Dialect } from '../contract/index.js';
import { contentEncodingProblem, jsonContentTypeProblem } from '../ingest/content-type.js';
import { DEFAULT_MAX_BODY_BYTES, MAX_DELIVERY_ID_LENGTH } from '../ingest/pipeline.js';
import { DocvWebhookError } from './errors.js';

/** Violation paths named in the message; `error.violations` has them all. */
const MESSAGE_VIOLATIONS = 5;

export interface VerifyDocvWebhookOptions {
  /** Shared secrets expected in `Authorization` (`Bearer <s>`, `<s>`…), as `serve --webhook-secret`. Several for rotation. */
  secrets?: string | readonly string[];
  /** Standard Webhooks signing secrets (`whsec_<base64>`), as `serve --signing-secret`. */
  signingSecrets?: string | readonly string[];
  /** `user:pass` entries for HTTP Basic. Cannot be combined with `secrets` (both use Authorization). */
  basicAuth?: string | readonly string[];
  /** How far `webhook-timestamp` may be from now, in either direction. Default 300. */
  toleranceSeconds?: number;
  /** Milliseconds since the epoch; injected for tests. Default Date.now. */
  now?: () => number;
  /**
   * Node's `req.rawHeaders`, when you have them: `req.headers` keeps only the first of two
   * `Authorization` headers, so only the raw list shows a repeated one (which is refused).
   */
  rawHeaders?: readonly string[];
  /** Accept only this dialect; by default the body's shape picks one. */
  dialect?: Dialect;
  /** Keep document data (PII) in `event.payload`; removed by default, as the receiver stores it. */
  keepDocumentData?: boolean;
  /** Largest body accepted. Default 262144, as the receiver. */
  maxBodyBytes?: number;
}

/** What a framework hands over as the request's headers: Node's object or a Web `Headers`. */
export type WebhookHeaders = HeaderMap | Headers;

/**
 * The receiver's checks in one stateless call, for code that has its own storage: authenticates
 * the raw bytes (constant-time, every configured mechanism), refuses a repeated credential
 * header, then checks the media type, the delivery id and the body against its dialect's contract,
 * and returns the canonical event. Throws DocvWebhookError saying what was wrong, or TypeError
 * when the options could never verify anything. The same code and the same order as the ingest
 * pipeline (ingest/pipeline.ts), without its store, allow-list and failure limiter: what this
 * accepts, `serve` accepts. Pure: no I/O, the clock injectable.
 *
 * Unlike the receiver, it remembers nothing: deduplicating retries (`event.envelopeId`, the
 * `webhook-id` header) and answering quickly are the caller's job.
 */
export function verifyDocvWebhook(
  rawBody: Uint8Array | string,
  headers: WebhookHeaders,
  options: VerifyDocvWebhookOptions,
): CanonicalEvent {
  if (options === null || typeof options !== 'object')
    throw new TypeError('verifyDocvWebhook needs options with secrets, signingSecrets or basicAuth');
  const body = rawBytes(rawBody);
  const headerMap = headers instanceof Headers ? fromWebHeaders(headers) : headers;
  if (headerMap === null || typeof headerMap !== 'object')
    throw new TypeError('verifyDocvWebhook needs the request headers (an object or a Headers)');

  const webhookSecrets = list(options.secrets);
  const signingSecrets = list(options.signingSecrets);
  const basicAuth = list(options.basicAuth);
  if (webhookSecrets.length + signingSecrets.length + basicAuth.length === 0) {
    // The receiver may run open on loopback; a verification that checks nothing is always a mistake.
    throw new TypeError(
      'verifyDocvWebhook needs secrets, signingSecrets or basicAuth: with none it would accept anyone',
    );
  }
  const now = options.now ?? Date.now;
  // Throws AuthConfigError (a TypeError) on secrets that could never work, as `serve` does at start.
  const auth = createInboundAuth({
    webhookSecrets,
    signingSecrets,
    basicAuth,
    ...(options.toleranceSeconds !== undefined ? { signatureToleranceSeconds: options.toleranceSeconds } : {}),
    now,
  });

  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (body.byteLength > maxBodyBytes) {
    throw new DocvWebhookError('too-large', `the body is ${body.byteLength} bytes, over the limit of ${maxBodyBytes}`, {
      status: 413,
    });
  }

  const repeated = repeatedCredentialHeader(headerMap, options.rawHeaders);
  if (repeated !== undefined)
    throw new DocvWebhookError('unauthenticated', `the delivery is not authenticated: ${repeated}`, { status: 401 });
  const credentials = auth.checkCredentials({ headers: headerMap, remoteAddress: undefined }, body);
  if (!credentials.ok) {
    throw new DocvWebhookError('unauthenticated', `the delivery is not authenticated: ${credentials.reason}`, {
      status: 401,
      failedCheck: credentials.failedCheck,
    });
  }

  const mediaTypeProblem =
    jsonContentTypeProblem(single(headerMap, 'content-type')) ??
    contentEncodingProblem(single(headerMap, 'content-encoding'));
  if (mediaTypeProblem !== null)
    throw new DocvWebhookError('unsupported-media-type', mediaTypeProblem, { status: 415 });

  const webhookId = credentials.webhookId ?? single(headerMap, 'webhook-id') ?? single(headerMap, 'svix-id');
  if (webhookId !== undefined && (webhookId.length === 0 || webhookId.length > MAX_DELIVERY_ID_LENGTH)) {
    throw new DocvWebhookError(
      'invalid-delivery-id',
      `webhook-id has ${webhookId.length} characters, not 1 to ${MAX_DELIVERY_ID_LENGTH}`,
      { status: 400 },
    );
  }

  const parsed = parseDelivery(body, {
    dialect: options.dialect,
    receivedAt: new Date(now()),
    keepDocumentData: options.keepDocumentData === true,
  });
  if (parsed.ok) return parsed.event;
  if (parsed.kind !== 'contract') {
    // Not the parser's message: it quotes the body around the error, and this one is for logs.
    throw new DocvWebhookError(
      'invalid-json',
      parsed.kind === 'encoding' ? 'the body is not valid UTF-8' : 'the body is not valid JSON',
      { status: 400 },
    );
  }
  throw new DocvWebhookError(
    'invalid-event',
    violationSummary(parsed.dialect, parsed.detected || options.dialect !== undefined, parsed.errors),
    {
      status: 422,
      dialect: parsed.dialect,
      violations: parsed.errors,
    },
  );
}

/**
 * The bytes as received. A string is taken as the UTF-8 text of the body (what `request.text()`
 * gives); a parsed body cannot be verified, and the caller is told so rather than given a
 * signature mismatch.
 */
function rawBytes(rawBody: unknown): Uint8Array {
  if (rawBody instanceof Uint8Array) return rawBody;
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  throw new TypeError(
    `verifyDocvWebhook needs the raw request body (Uint8Array, Buffer or string), got ${rawBody === null ? 'null' : typeof rawBody}; ` +
      'verify before parsing JSON, on the exact bytes received',
  );
}

/** Web `Headers` as Node's object: lower-case names, repeated values already joined (and so detected). */
function fromWebHeaders(headers: Headers): HeaderMap {
  const map: HeaderMap = {};
  headers.forEach((value, name) => {
    map[name] = value;
  });
  return map;
}

function single(headers: HeaderMap, name: string): string | undefined {
  return readHeaderValues(headers, name)[0];
}

function list(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/** The dialect and where the body breaks it, paths only: a violation's message may quote the body. */
function violationSummary(dialect: Dialect, announced: boolean, errors: readonly ContractViolation[]): string {
  const paths = errors.slice(0, MESSAGE_VIOLATIONS).map((e) => e.path || '(root)');
  const more = errors.length > MESSAGE_VIOLATIONS ? ` and ${errors.length - MESSAGE_VIOLATIONS} more` : '';
  const count = errors.length === 1 ? '1 violation' : `${errors.length} violations`;
  return `the event ${announced ? 'breaks' : 'fits no dialect; closest is'} ${dialect}: ${count} at ${paths.join(', ')}${more}`;
}
