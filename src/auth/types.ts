import type { HeaderMap } from './headers.js';

export interface InboundAuthConfig {
  /**
   * Shared secrets expected in `Authorization`; the last space-separated token is compared, so
   * `<s>`, `Bearer <s>` and `<AnyWord> <s>` pass. Several at once for rotation.
   */
  webhookSecrets?: string[];
  /** `user:pass` entries for HTTP Basic. */
  basicAuth?: string[];
  /** Standard Webhooks signing secrets, `whsec_<base64>` (or raw). */
  signingSecrets?: string[];
  /** How far `webhook-timestamp` may be from now, in either direction. Default 300. */
  signatureToleranceSeconds?: number;
  /** CIDRs or single addresses, IPv4 and IPv6. */
  allowIps?: string[];
  /**
   * Believe X-Forwarded-For from exactly one proxy in front of the receiver: the client is the
   * right-most entry (the one that proxy appended). Default false: the socket address.
   */
  trustProxy?: boolean;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

export type AuthCheck = 'allow-list' | 'shared-secret' | 'basic-auth' | 'signature';

export interface InboundRequestMeta {
  headers: HeaderMap;
  remoteAddress: string | undefined;
}

export type SourceOutcome =
  | { ok: true; clientAddress: string | undefined }
  | { ok: false; status: 403; failedCheck: 'allow-list'; reason: string; clientAddress: string | undefined };

export type CredentialOutcome =
  /** `webhookId` is the verified `webhook-id`/`svix-id` when a signature was checked. */
  | { ok: true; webhookId?: string }
  /** `reason` is for the log line: which check failed and why, never a secret. */
  | { ok: false; status: 401; failedCheck: AuthCheck; reason: string; wwwAuthenticate?: string };

export interface InboundAuth {
  /** Whether any credential mechanism is configured (the allow-list alone is not a credential). */
  readonly configured: boolean;
  /** The configured checks, for logs and the start-up banner; never a secret. */
  readonly mechanisms: AuthCheck[];
  /** The source address check; runs before the body is read. */
  checkSource(meta: InboundRequestMeta): SourceOutcome;
  /** Every configured credential check, on the raw body bytes, before JSON parsing. */
  checkCredentials(meta: InboundRequestMeta, rawBody: Uint8Array): CredentialOutcome;
}
