import type { HeaderMap } from '../auth/redact.js';
import type { Dialect } from '../contract/index.js';

/** A delivery as any HTTP framework hands it over: the raw bytes, nothing parsed yet. */
export interface IngestRequest {
  method: string;
  headers: HeaderMap;
  /**
   * The headers as sent, `[name, value, name, value, …]` (Node's `IncomingMessage.rawHeaders`),
   * when the adapter has them: `headers` keeps only the first of two `Authorization` headers and
   * joins other copies, so only here can a repeated credential header be counted (and refused).
   */
  rawHeaders?: readonly string[];
  remoteAddress: string | undefined;
  /** The body as read, at most the limit. */
  body: Uint8Array;
  /** The adapter stopped reading because the body went over the limit. */
  bodyTooLarge?: boolean;
  /**
   * The adapter could not read the body (the stream failed, the framing was broken): why, in a
   * few words. `body` is then empty; the request is refused with a 400, but only once the source
   * and credential checks have had their say, as for any other body the pipeline cannot use.
   */
  bodyUnreadable?: string;
  receivedAt?: Date;
}

/**
 * What is known of a delivery before its body is read: enough to decide whether to read it at
 * all (see IngestPipeline.admit).
 */
export type IngestRequestHead = Pick<IngestRequest, 'method' | 'headers' | 'remoteAddress'>;

/** How the delivery ended, for the log line and the metrics. */
export type IngestOutcome =
  | 'accepted'
  | 'duplicate'
  | 'conflict'
  | 'method_not_allowed'
  | 'forbidden'
  | 'rate_limited'
  | 'too_large'
  | 'unauthorized'
  | 'unsupported_media_type'
  | 'bad_request'
  | 'invalid'
  | 'unavailable';

export interface IngestResponse {
  status: number;
  headers: Record<string, string>;
  /** Serialized JSON: ready to write. */
  body: string;
  outcome: IngestOutcome;
  eventId?: string;
  docvTransactionId?: string;
  eventType?: string;
  /** The dialect the delivery was read in, once accepted. */
  dialect?: Dialect;
  /** For the log only: which check failed and why; never contains a secret. */
  logReason?: string;
  /**
   * The refusal is about this receiver's state, not the delivery (the store is down, the source a
   * quarantined body came through is no longer configured): the same body may pass later, so a
   * reprocessed quarantine row is left as it was.
   */
  retryLater?: boolean;
}

/** The ingest pipeline's view of inbound authentication (see src/auth). */
export interface IngestAuthenticator {
  readonly configured: boolean;
  checkSource(meta: {
    headers: HeaderMap;
    remoteAddress: string | undefined;
  }):
    | { ok: true; clientAddress: string | undefined }
    | { ok: false; status: 403; reason: string; clientAddress: string | undefined };
  checkCredentials(
    meta: { headers: HeaderMap; remoteAddress: string | undefined },
    rawBody: Uint8Array,
  ): { ok: true; webhookId?: string } | { ok: false; status: 401; reason: string; wwwAuthenticate?: string };
}

/** Slows down an address that keeps failing authentication. */
export interface AuthFailureLimiter {
  check(address: string | undefined): { limited: false } | { limited: true; retryAfterSeconds: number };
  /** `reason` (never a secret) is for the log line that says why an address got blocked. */
  recordFailure(address: string | undefined, reason?: string): unknown;
  /** A sender that fixed its secret is not punished for its earlier failures. */
  recordSuccess(address: string | undefined): void;
}
