// Inbound authentication for the receiver: pure checks (no I/O, clock injected), plus
// readSecretList, the one helper that reads files, for the CLI.
export type {
  AuthCheck,
  CredentialOutcome,
  InboundAuth,
  InboundAuthConfig,
  InboundRequestMeta,
  SourceOutcome,
} from './types.js';
export { createInboundAuth } from './inbound.js';
export { AuthConfigError } from './errors.js';
export { requireSecret } from './config-validation.js';
export { AUTH_REALM } from './check.js';
export { BASIC_CHALLENGE } from './basic.js';
export { SHARED_SECRET_CHALLENGE } from './shared-secret.js';
export { createSecretMatcher } from './constant-time.js';
export { createAllowList, type AllowList } from './allow-list.js';
export { resolveClientAddress } from './client-address.js';
export { normalizeIpAddress } from './ip-address.js';
export {
  computeSignature,
  createStandardWebhookVerifier,
  decodeSigningSecret,
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  signStandardWebhook,
  WebhookVerificationError,
  type StandardWebhookVerifier,
  type StandardWebhookVerifierOptions,
  type VerifiedStandardWebhook,
  type WebhookVerificationFailure,
} from './standard-webhooks.js';
export {
  createFailureLimiter,
  DEFAULT_FAILURE_LIMITS,
  limiterKey,
  type FailureLimiter,
  type FailureLimiterOptions,
  type FailureLimitState,
  type FailureBlock,
} from './failure-limiter.js';
export { readSecretList, type ReadSecretListOptions } from './secret-sources.js';
export { headersWithoutCredentials, isCredentialHeader, type HeaderMap } from './redact.js';
export { repeatedCredentialHeader, SINGLE_CREDENTIAL_HEADERS } from './repeated-headers.js';
