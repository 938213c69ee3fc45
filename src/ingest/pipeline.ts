import {
  DEFAULT_SOURCE,
  parseDelivery,
  quarantinableBody,
  type CanonicalEvent,
  type ContractViolation,
  type Dialect,
} from '../contract/index.js';
import { dedupeKeyOf } from './dedupe-key.js';
import { headersWithoutCredentials, type HeaderMap } from '../auth/redact.js';
import { repeatedCredentialHeader } from '../auth/repeated-headers.js';
import { StoreUnavailableError, type EventLog } from '../store/types.js';
import { contentEncodingProblem, jsonContentTypeProblem } from './content-type.js';
import { PROBLEM_CONTENT_TYPE, problem, type Problem } from './problem.js';
import type {
  AuthFailureLimiter,
  IngestAuthenticator,
  IngestOutcome,
  IngestRequest,
  IngestRequestHead,
  IngestResponse,
} from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** The longest `webhook-id` kept as a delivery id (it becomes a dedupe key); verifyDocvWebhook applies it too. */
export const MAX_DELIVERY_ID_LENGTH = 256;
const EMPTY = new Uint8Array(0);
/** How long a sender should wait before retrying when the store is down. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export interface IngestPipelineOptions {
  store: EventLog;
  auth?: IngestAuthenticator | undefined;
  failureLimiter?: AuthFailureLimiter | undefined;
  maxBodyBytes?: number;
  /** Called when quarantining fails: the rejection still goes out, but someone should know. */
  onQuarantineError?: (err: unknown) => void;
  /** Accept only this dialect; by default each delivery's shape picks one (see contract/dialects). */
  dialect?: Dialect | undefined;
  /** Keep document data (PII) in stored payloads and quarantine; off by default. */
  keepDocumentData?: boolean | undefined;
  /** The source this pipeline is the endpoint of (contract/source.ts); DEFAULT_SOURCE by default. */
  source?: string | undefined;
}

/** A quarantined body to run through ingest again (after an upgrade or a `--dialect` change). */
export interface ReprocessRequest {
  body: Uint8Array;
  /** The headers as stored with it (credentials were never stored). */
  headers: Record<string, string>;
  /** The original receipt time: it stays the event's. */
  receivedAt: Date;
  /**
   * The source whose endpoint quarantined it (QuarantineEntry.source): it is run through that
   * source's pipeline again, and a pipeline of another source refuses it (409) rather than store
   * it under the wrong name. Absent: DEFAULT_SOURCE (a caller that predates sources).
   */
  source?: string | undefined;
}

/**
 * The refusal of a reprocess that cannot run under `source` (no pipeline of that source here):
 * 409, as a conflict between the row and the configuration, not a fault of the body.
 */
export function sourceRefusal(source: string, detail: string): IngestResponse {
  return {
    ...problemResponse('conflict', problem(409, 'source-not-configured', 'Conflict', detail, { source })),
    retryLater: true,
  };
}

export interface IngestPipeline {
  handle(request: IngestRequest): Promise<IngestResponse>;
  /**
   * The checks that need no body (method, source address, failure limiter), for an adapter to run
   * before it reads the body: the refusal to send, or null when the body should be read. A blocked
   * address is answered at once instead of holding a connection open while it trickles (or never
   * sends) the bytes it announced. `handle` runs the same checks again, in the same code, so an
   * adapter that already has the body loses nothing by not calling this.
   */
  admit(head: IngestRequestHead): IngestResponse | null;
  /**
   * Runs a quarantined body through the checks after authentication (it was authenticated when it
   * was quarantined) and stores it if it now passes. Nothing is quarantined again.
   */
  reprocess(request: ReprocessRequest): Promise<IngestResponse>;
  readonly maxBodyBytes: number;
  /** The source whose endpoint this is. */
  readonly source: string;
}

function header(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function problemResponse(
  outcome: IngestOutcome,
  p: Problem,
  extraHeaders: Record<string, string> = {},
): IngestResponse {
  return {
    status: p.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...extraHeaders },
    body: JSON.stringify(p),
    outcome,
  };
}

function ok(outcome: 'accepted' | 'duplicate', eventId: string, event: CanonicalEvent): IngestResponse {
  const response: IngestResponse = {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ status: outcome, eventId }),
    outcome,
    eventId,
    eventType: event.eventType,
    dialect: event.dialect,
  };
  if (event.docvTransactionId !== null) response.docvTransactionId = event.docvTransactionId;
  return response;
}

/**
 * The one place a delivery is accepted, independent of any HTTP framework. Order matters: cheap
 * checks that need no body first, credentials on the raw bytes before anything is parsed, and a
 * 2xx only once the store has committed.
 */
export function createIngestPipeline(options: IngestPipelineOptions): IngestPipeline {
  const { store, auth, failureLimiter } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const keepDocumentData = options.keepDocumentData === true;
  const source = options.source ?? DEFAULT_SOURCE;
  // Without authentication anyone can write here: keep nothing of what we reject.
  const quarantineEnabled = auth?.configured === true;

  /**
   * Quarantines an authenticated delivery that is refused, so nothing is lost: it can be read and
   * run through ingest again. `parsed` is the body as JSON when it was (document data is removed
   * from what is kept, as from accepted events).
   */
  async function reject(
    request: IngestRequest,
    receivedAt: Date,
    response: IngestResponse,
    parsed?: { value: unknown; dialect: Dialect },
  ): Promise<IngestResponse> {
    if (!quarantineEnabled) return response;
    try {
      const raw = request.body.subarray(0, maxBodyBytes);
      const body = parsed ? quarantinableBody(parsed.value, raw, keepDocumentData) : raw;
      await store.quarantine({
        reason: response.outcome,
        dialect: parsed?.dialect ?? null,
        status: response.status,
        detail: JSON.parse(response.body) as unknown,
        headers: headersWithoutCredentials(request.headers),
        body,
        bodySize: body === raw ? request.body.byteLength : body.byteLength,
        receivedAt,
        source,
      });
    } catch (err) {
      options.onQuarantineError?.(err);
    }
    return response;
  }

  /**
   * The checks that need no body, cheapest first: the method, the source address, then the failure
   * limiter (which needs the client address the source check resolved). Shared by `admit` (before
   * the body is read) and `handle` (after), so the order is written once.
   */
  function admission(head: IngestRequestHead): { refusal: IngestResponse } | { clientAddress: string | undefined } {
    if (head.method !== 'POST') {
      return {
        refusal: problemResponse(
          'method_not_allowed',
          problem(
            405,
            'method-not-allowed',
            'Method Not Allowed',
            `${head.method} is not allowed here; deliveries are POSTed`,
          ),
          { allow: 'POST' },
        ),
      };
    }

    let clientAddress = head.remoteAddress;
    if (auth) {
      const source = auth.checkSource(head);
      clientAddress = source.clientAddress;
      if (!source.ok) {
        return {
          refusal: {
            ...problemResponse(
              'forbidden',
              problem(403, 'forbidden', 'Forbidden', 'the source address is not allowed to deliver here'),
            ),
            logReason: source.reason,
          },
        };
      }
    }
    if (failureLimiter) {
      const limit = failureLimiter.check(clientAddress);
      if (limit.limited) {
        return {
          refusal: {
            ...problemResponse(
              'rate_limited',
              problem(
                429,
                'too-many-failures',
                'Too Many Requests',
                'too many failed authentication attempts from this address; retry later',
              ),
              { 'retry-after': String(limit.retryAfterSeconds) },
            ),
            // Credentials are not even looked at: the operator should know why a sender with the right ones gets 429.
            logReason: `address blocked after too many failed authentications, for another ${limit.retryAfterSeconds} s (--auth-failure-limit)`,
          },
        };
      }
    }
    return { clientAddress };
  }

  function admit(head: IngestRequestHead): IngestResponse | null {
    const decision = admission(head);
    return 'refusal' in decision ? decision.refusal : null;
  }

  /**
   * The credential checks. A credential header sent twice fails them whatever its copies say: which
   * copy a proxy or framework keeps differs, and whoever can add a header must not choose the one
   * we check. Its 401 carries the challenge a request without credentials gets: the pipeline does
   * not know which mechanisms are configured, the authenticator does.
   */
  function checkCredentials(
    request: IngestRequest,
    authenticator: IngestAuthenticator,
  ): ReturnType<IngestAuthenticator['checkCredentials']> {
    const repeated = authenticator.configured
      ? repeatedCredentialHeader(request.headers, request.rawHeaders)
      : undefined;
    if (repeated === undefined) return authenticator.checkCredentials(request, request.body);
    const bare = authenticator.checkCredentials({ headers: {}, remoteAddress: request.remoteAddress }, EMPTY);
    const wwwAuthenticate = bare.ok ? undefined : bare.wwwAuthenticate;
    return wwwAuthenticate === undefined
      ? { ok: false, status: 401, reason: repeated }
      : { ok: false, status: 401, reason: repeated, wwwAuthenticate };
  }

  async function handle(request: IngestRequest): Promise<IngestResponse> {
    const receivedAt = request.receivedAt ?? new Date();
    const admitted = admission(request);
    if ('refusal' in admitted) return admitted.refusal;
    const { clientAddress } = admitted;

    if (request.bodyTooLarge || request.body.byteLength > maxBodyBytes) {
      return problemResponse(
        'too_large',
        problem(413, 'payload-too-large', 'Payload Too Large', `the body is over the limit of ${maxBodyBytes} bytes`, {
          limit: maxBodyBytes,
        }),
      );
    }

    let verifiedWebhookId: string | undefined;
    if (auth) {
      const credentials = checkCredentials(request, auth);
      if (!credentials.ok) {
        failureLimiter?.recordFailure(clientAddress, credentials.reason);
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
      verifiedWebhookId = credentials.webhookId;
      failureLimiter?.recordSuccess(clientAddress);
    }

    return accept(request, receivedAt, verifiedWebhookId, (r) => reject(request, receivedAt, r.response, r.parsed));
  }

  type Rejection = { response: IngestResponse; parsed?: { value: unknown; dialect: Dialect } };

  /**
   * Everything after authentication: media type, readability, delivery id, dialect, the commit.
   * `refuse` decides what a refusal does: quarantine it (a live delivery) or only answer
   * (reprocessing a body that is already in quarantine).
   */
  async function accept(
    request: Pick<IngestRequest, 'headers' | 'body' | 'bodyUnreadable'>,
    receivedAt: Date,
    verifiedWebhookId: string | undefined,
    refuse: (rejection: Rejection) => Promise<IngestResponse>,
  ): Promise<IngestResponse> {
    const contentTypeError =
      jsonContentTypeProblem(header(request.headers, 'content-type')) ??
      contentEncodingProblem(header(request.headers, 'content-encoding'));
    if (contentTypeError) {
      return refuse({
        response: {
          ...problemResponse(
            'unsupported_media_type',
            problem(415, 'unsupported-media-type', 'Unsupported Media Type', contentTypeError),
          ),
          logReason: contentTypeError,
        },
      });
    }

    if (request.bodyUnreadable !== undefined) {
      // Only now: answered before the credential check, a broken request would tell an
      // unauthenticated sender which checks come first, and skip the allow-list and the limiter.
      return refuse({
        response: {
          ...problemResponse(
            'bad_request',
            problem(400, 'bad-request', 'Bad Request', `the request could not be read: ${request.bodyUnreadable}`),
          ),
          logReason: request.bodyUnreadable,
        },
      });
    }

    const webhookId = verifiedWebhookId ?? header(request.headers, 'webhook-id') ?? header(request.headers, 'svix-id');
    if (webhookId !== undefined && (webhookId.length === 0 || webhookId.length > MAX_DELIVERY_ID_LENGTH)) {
      return refuse({
        response: {
          ...problemResponse(
            'bad_request',
            problem(
              400,
              'invalid-delivery-id',
              'Bad Request',
              `webhook-id must be 1 to ${MAX_DELIVERY_ID_LENGTH} characters`,
            ),
          ),
          logReason: `webhook-id has ${webhookId.length} characters, not 1 to ${MAX_DELIVERY_ID_LENGTH}`,
        },
      });
    }

    const parsed = parseDelivery(request.body, { dialect: options.dialect, receivedAt, keepDocumentData });
    if (!parsed.ok) {
      if (parsed.kind === 'contract') {
        return refuse({
          response: invalid(parsed.dialect, parsed.detected, options.dialect !== undefined, parsed.errors),
          parsed,
        });
      }
      // Not the parser's message: it quotes the body around the error.
      const logReason = parsed.kind === 'encoding' ? 'body is not valid UTF-8' : 'body is not valid JSON';
      return refuse({
        response: {
          ...problemResponse('bad_request', problem(400, 'invalid-json', 'Bad Request', parsed.message)),
          logReason,
        },
      });
    }
    const { event, contentHash } = parsed;

    try {
      const result = await store.ingest({
        dedupeKey: dedupeKeyOf(event, contentHash, webhookId ?? null, source),
        webhookId: webhookId ?? null,
        contentHash,
        event,
        // Document data removed: what is kept is the cleaned payload, never the bytes that had it.
        rawBody: event.documentDataRemoved ? Buffer.from(JSON.stringify(event.payload), 'utf8') : request.body,
        headers: headersWithoutCredentials(request.headers),
        receivedAt,
        source,
      });
      if (result.kind === 'conflict') {
        const response: IngestResponse = {
          ...problemResponse(
            'conflict',
            problem(
              409,
              'delivery-id-reused',
              'Conflict',
              `${webhookId !== undefined ? 'webhook-id' : 'envelope id'} ${JSON.stringify(webhookId ?? event.envelopeId)} was already used for a different payload`,
              {
                eventId: result.eventId,
              },
            ),
          ),
          eventId: result.eventId,
          logReason: 'delivery id reused for a different payload',
        };
        return refuse({ response, parsed: { value: event.payload, dialect: event.dialect } });
      }
      return ok(result.kind, result.eventId, event);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      return {
        ...problemResponse(
          'unavailable',
          problem(
            503,
            'store-unavailable',
            'Service Unavailable',
            'the event could not be stored durably; retry later',
            {
              retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS,
            },
          ),
          { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
        ),
        logReason: err.message,
      };
    }
  }

  async function reprocess(request: ReprocessRequest): Promise<IngestResponse> {
    const from = request.source ?? DEFAULT_SOURCE;
    if (from !== source)
      return sourceRefusal(
        from,
        `the body came through source ${JSON.stringify(from)}; this is source ${JSON.stringify(source)}'s endpoint`,
      );
    return accept(
      { headers: request.headers, body: request.body },
      request.receivedAt,
      undefined,
      async (r) => r.response,
    );
  }

  return { handle, admit, reprocess, maxBodyBytes, source };
}

const DIALECT_NAMES: Readonly<Record<Dialect, string>> = {
  asyncapi: 'the DocV event contract (spec/asyncapi.yaml)',
  'socure-v5': "Socure's v5 DocvNotification (spec/dialects/socure-v5.yaml)",
  riskos: 'a RiskOS event (spec/dialects/riskos.yaml)',
};

/**
 * 422 with every violation, and the dialect they are violations of: the one pinned, the one the
 * body's shape announced, or (when it announced none) the one it came closest to.
 */
function invalid(dialect: Dialect, detected: boolean, pinned: boolean, errors: ContractViolation[]): IngestResponse {
  const summary = errors.map((e) => `${e.path || '(root)'} ${e.message}`).join('; ');
  const how = pinned
    ? `breaks ${DIALECT_NAMES[dialect]}, the dialect this receiver is pinned to`
    : detected
      ? `breaks ${DIALECT_NAMES[dialect]}`
      : `fits no dialect; it is closest to ${DIALECT_NAMES[dialect]}, which it breaks`;
  return {
    ...problemResponse(
      'invalid',
      problem(422, 'contract-violation', 'Unprocessable Content', `the payload ${how}: ${summary}`, {
        dialect,
        errors,
      }),
    ),
    logReason: violationsLogReason(dialect, detected || pinned, errors),
  };
}

/** Violations named in a log line; the answer and the quarantine row list them all. */
const LOGGED_VIOLATIONS = 5;
const LOGGED_PATH_LENGTH = 80;

/**
 * A short summary of a 422 for the log: the dialect and where the body breaks it. Only the paths:
 * some messages quote the body (`must be absent on <eventType>`), and logs never carry it.
 */
function violationsLogReason(dialect: Dialect, announced: boolean, errors: ContractViolation[]): string {
  const paths = errors.slice(0, LOGGED_VIOLATIONS).map((e) => (e.path || '(root)').slice(0, LOGGED_PATH_LENGTH));
  const more = errors.length > LOGGED_VIOLATIONS ? ` and ${errors.length - LOGGED_VIOLATIONS} more` : '';
  const count = errors.length === 1 ? '1 violation' : `${errors.length} violations`;
  return `${announced ? 'breaks' : 'fits no dialect, closest'} ${dialect}: ${count} at ${paths.join(', ')}${more}`;
}
