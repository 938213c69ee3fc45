import { contentKey, parseDocvEvent, type ContractViolation, type DocvEvent } from '../contract/index.js';
import { dedupeKeyOf } from './dedupe-key.js';
import { headersWithoutCredentials, type HeaderMap } from '../auth/redact.js';
import { StoreUnavailableError, type Store } from '../store/index.js';
import { contentEncodingProblem, jsonContentTypeProblem } from './content-type.js';
import { PROBLEM_CONTENT_TYPE, problem, type Problem } from './problem.js';
import type { AuthFailureLimiter, IngestAuthenticator, IngestOutcome, IngestRequest, IngestResponse } from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
const MAX_DELIVERY_ID_LENGTH = 256;
/** How long a sender should wait before retrying when the store is down. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export interface IngestPipelineOptions {
  store: Store;
  auth?: IngestAuthenticator | undefined;
  failureLimiter?: AuthFailureLimiter | undefined;
  maxBodyBytes?: number;
  /** Called when quarantining fails: the rejection still goes out, but someone should know. */
  onQuarantineError?: (err: unknown) => void;
}

export interface IngestPipeline {
  handle(request: IngestRequest): Promise<IngestResponse>;
  readonly maxBodyBytes: number;
}

function header(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function problemResponse(outcome: IngestOutcome, p: Problem, extraHeaders: Record<string, string> = {}): IngestResponse {
  return {
    status: p.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...extraHeaders },
    body: JSON.stringify(p),
    outcome,
  };
}

function ok(outcome: 'accepted' | 'duplicate', eventId: string, event: DocvEvent): IngestResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ status: outcome, eventId }),
    outcome,
    eventId,
    docvTransactionId: event.docvTransactionId,
    eventType: event.eventType,
  };
}

/**
 * The one place a delivery is accepted, independent of any HTTP framework. Order matters: cheap
 * checks that need no body first, credentials on the raw bytes before anything is parsed, and a
 * 2xx only once the store has committed.
 */
export function createIngestPipeline(options: IngestPipelineOptions): IngestPipeline {
  const { store, auth, failureLimiter } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Without authentication anyone can write here: keep nothing of what we reject.
  const quarantineEnabled = auth?.configured === true;

  async function reject(request: IngestRequest, receivedAt: Date, response: IngestResponse): Promise<IngestResponse> {
    if (!quarantineEnabled) return response;
    try {
      const body = request.body.subarray(0, maxBodyBytes);
      await store.quarantine({
        reason: response.outcome,
        status: response.status,
        detail: JSON.parse(response.body) as unknown,
        headers: headersWithoutCredentials(request.headers),
        body,
        bodySize: request.body.byteLength,
        receivedAt,
      });
    } catch (err) {
      options.onQuarantineError?.(err);
    }
    return response;
  }

  async function handle(request: IngestRequest): Promise<IngestResponse> {
    const receivedAt = request.receivedAt ?? new Date();
    if (request.method !== 'POST') {
      return problemResponse(
        'method_not_allowed',
        problem(405, 'method-not-allowed', 'Method Not Allowed', `${request.method} is not allowed here; deliveries are POSTed`),
        { allow: 'POST' },
      );
    }

    let clientAddress = request.remoteAddress;
    if (auth) {
      const source = auth.checkSource(request);
      clientAddress = source.clientAddress;
      if (!source.ok) {
        return { ...problemResponse('forbidden', problem(403, 'forbidden', 'Forbidden', 'the source address is not allowed to deliver here')), logReason: source.reason };
      }
    }
    if (failureLimiter) {
      const limit = failureLimiter.check(clientAddress);
      if (limit.limited) {
        return problemResponse(
          'rate_limited',
          problem(429, 'too-many-failures', 'Too Many Requests', 'too many failed authentication attempts from this address; retry later'),
          { 'retry-after': String(limit.retryAfterSeconds) },
        );
      }
    }

    if (request.bodyTooLarge || request.body.byteLength > maxBodyBytes) {
      return problemResponse(
        'too_large',
        problem(413, 'payload-too-large', 'Payload Too Large', `the body is over the limit of ${maxBodyBytes} bytes`, { limit: maxBodyBytes }),
      );
    }

    let verifiedDeliveryId: string | undefined;
    if (auth) {
      const credentials = auth.checkCredentials(request, request.body);
      if (!credentials.ok) {
        failureLimiter?.recordFailure(clientAddress);
        // Same body whatever failed: the sender learns nothing about which check it missed.
        return {
          ...problemResponse(
            'unauthorized',
            problem(401, 'unauthorized', 'Unauthorized', 'the delivery is not authenticated'),
            credentials.wwwAuthenticate ? { 'www-authenticate': credentials.wwwAuthenticate } : {},
          ),
          logReason: credentials.reason,
        };
      }
      verifiedDeliveryId = credentials.deliveryId;
      failureLimiter?.recordSuccess(clientAddress);
    }

    const contentTypeError =
      jsonContentTypeProblem(header(request.headers, 'content-type')) ?? contentEncodingProblem(header(request.headers, 'content-encoding'));
    if (contentTypeError) {
      return reject(request, receivedAt, problemResponse('unsupported_media_type', problem(415, 'unsupported-media-type', 'Unsupported Media Type', contentTypeError)));
    }

    if (request.bodyUnreadable !== undefined) {
      // Only now: answered before the credential check, a broken request would tell an
      // unauthenticated sender which checks come first, and skip the allow-list and the limiter.
      return reject(request, receivedAt, {
        ...problemResponse('bad_request', problem(400, 'bad-request', 'Bad Request', `the request could not be read: ${request.bodyUnreadable}`)),
        logReason: request.bodyUnreadable,
      });
    }

    const deliveryId = verifiedDeliveryId ?? header(request.headers, 'webhook-id') ?? header(request.headers, 'svix-id');
    if (deliveryId !== undefined && (deliveryId.length === 0 || deliveryId.length > MAX_DELIVERY_ID_LENGTH)) {
      return reject(
        request,
        receivedAt,
        problemResponse('bad_request', problem(400, 'invalid-delivery-id', 'Bad Request', `webhook-id must be 1 to ${MAX_DELIVERY_ID_LENGTH} characters`)),
      );
    }

    const parsed = parseDocvEvent(request.body);
    if (!parsed.ok) {
      if (parsed.kind === 'contract') return reject(request, receivedAt, invalid(parsed.errors));
      return reject(request, receivedAt, problemResponse('bad_request', problem(400, 'invalid-json', 'Bad Request', parsed.message)));
    }
    const event = parsed.event;
    const contentHash = contentKey(event);

    try {
      const result = await store.ingest({
        dedupeKey: dedupeKeyOf(event, contentHash, deliveryId ?? null),
        deliveryId: deliveryId ?? null,
        contentHash,
        event,
        rawBody: request.body,
        headers: headersWithoutCredentials(request.headers),
        receivedAt,
      });
      if (result.kind === 'conflict') {
        return reject(request, receivedAt, {
          ...problemResponse(
            'conflict',
            problem(409, 'delivery-id-reused', 'Conflict', `delivery id ${JSON.stringify(deliveryId)} was already used for a different payload`, {
              eventId: result.eventId,
            }),
          ),
          eventId: result.eventId,
        });
      }
      return ok(result.kind, result.eventId, event);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      return {
        ...problemResponse(
          'unavailable',
          problem(503, 'store-unavailable', 'Service Unavailable', 'the event could not be stored durably; retry later', {
            retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS,
          }),
          { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
        ),
        logReason: err.message,
      };
    }
  }

  return { handle, maxBodyBytes };
}

function invalid(errors: ContractViolation[]): IngestResponse {
  const summary = errors.map((e) => `${e.path || '(root)'} ${e.message}`).join('; ');
  return problemResponse(
    'invalid',
    problem(422, 'contract-violation', 'Unprocessable Content', `the payload breaks the DocV event contract: ${summary}`, { errors }),
  );
}
