import { createAllowList } from './allow-list.js';
import { BASIC_CHALLENGE, createBasicAuthCheck } from './basic.js';
import { failed, type CheckResult } from './check.js';
import { resolveClientAddress } from './client-address.js';
import { requireSecretList } from './config-validation.js';
import { AuthConfigError } from './errors.js';
import type { HeaderMap } from './headers.js';
import { createSharedSecretCheck, SHARED_SECRET_CHALLENGE } from './shared-secret.js';
import {
  createStandardWebhookVerifier,
  decodeSigningSecret,
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  WebhookVerificationError,
} from './standard-webhooks.js';
import type { AuthCheck, CredentialOutcome, InboundAuth, InboundAuthConfig } from './types.js';

interface CredentialCheck {
  readonly name: Exclude<AuthCheck, 'allow-list'>;
  run(headers: HeaderMap, rawBody: Uint8Array): CheckResult;
}

/**
 * Builds the inbound authentication from its configuration. Every configured mechanism must pass
 * (AND); with none configured every request passes, and it is the server's job to refuse to
 * listen beyond loopback in that state. An empty list counts as not configured, so a CLI can pass
 * `[]` for an option that was not given.
 *
 * Throws AuthConfigError (a TypeError) on configuration that could never work or is probably a
 * mistake, so it surfaces at start-up rather than as a stream of 401s.
 */
export function createInboundAuth(config: InboundAuthConfig): InboundAuth {
  if (config === null || typeof config !== 'object')
    throw new TypeError('createInboundAuth needs a configuration object');
  const now = config.now ?? Date.now;
  if (typeof now !== 'function')
    throw new AuthConfigError('now', 'must be a function returning milliseconds since the epoch');
  const trustProxy = config.trustProxy ?? false;
  if (typeof trustProxy !== 'boolean') throw new AuthConfigError('trustProxy', 'must be true or false');

  const webhookSecrets = nonEmpty(config.webhookSecrets);
  const basicAuth = nonEmpty(config.basicAuth);
  const signingSecrets = nonEmpty(config.signingSecrets);
  const allowIps = nonEmpty(config.allowIps);

  if (webhookSecrets !== undefined && basicAuth !== undefined) {
    // Both live in the one Authorization header, and a request carries one: requiring both could
    // never pass. Refusing the combination beats a receiver that rejects every delivery.
    throw new AuthConfigError(
      'basicAuth',
      'cannot be combined with webhookSecrets: both are sent in the Authorization header, so no request could pass both; configure one of them',
    );
  }

  const checks: CredentialCheck[] = [];
  if (webhookSecrets !== undefined) {
    const check = createSharedSecretCheck(webhookSecrets);
    checks.push({ name: 'shared-secret', run: (headers) => check(headers) });
  }
  if (basicAuth !== undefined) {
    const check = createBasicAuthCheck(basicAuth);
    checks.push({ name: 'basic-auth', run: (headers) => check(headers) });
  }
  if (signingSecrets !== undefined) {
    const secrets = requireSecretList('signingSecrets', signingSecrets, 'signing secret');
    secrets.forEach((secret, index) => {
      try {
        decodeSigningSecret(secret);
      } catch (error) {
        throw new AuthConfigError('signingSecrets', `entry ${index + 1}: ${(error as Error).message}`);
      }
    });
    const toleranceSeconds = config.signatureToleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
    if (typeof toleranceSeconds !== 'number' || !Number.isFinite(toleranceSeconds) || toleranceSeconds <= 0) {
      throw new AuthConfigError(
        'signatureToleranceSeconds',
        `must be a positive number of seconds, got ${String(toleranceSeconds)}`,
      );
    }
    const verifier = createStandardWebhookVerifier({ secrets, toleranceSeconds, now });
    checks.push({
      name: 'signature',
      // The checks run in this order, so the signature (an HMAC over the whole body per secret)
      // is only computed once the cheap header checks have passed.
      run: (headers, rawBody) => {
        try {
          return { ok: true, webhookId: verifier.verify(headers, rawBody).webhookId };
        } catch (error) {
          if (error instanceof WebhookVerificationError) return failed(error.message);
          throw error;
        }
      },
    });
  }

  const allowList = allowIps === undefined ? undefined : createAllowList(allowIps);

  // RFC 9110 requires a challenge on every 401, including one caused by a bad signature, so the
  // challenge follows what is configured, not which check failed. Standard Webhooks has none.
  const wwwAuthenticate =
    basicAuth !== undefined ? BASIC_CHALLENGE : webhookSecrets !== undefined ? SHARED_SECRET_CHALLENGE : undefined;

  const mechanisms: AuthCheck[] = [
    ...(allowList === undefined ? [] : (['allow-list'] as const)),
    ...checks.map((c) => c.name),
  ];

  return {
    configured: checks.length > 0,
    mechanisms,

    checkSource(meta) {
      const clientAddress = resolveClientAddress(meta.headers, meta.remoteAddress, trustProxy);
      if (allowList === undefined || allowList.allows(clientAddress)) return { ok: true, clientAddress };
      return {
        ok: false,
        status: 403,
        failedCheck: 'allow-list',
        reason:
          clientAddress === undefined
            ? 'client address unknown'
            : `client address ${clientAddress} is not on the allow-list`,
        clientAddress,
      };
    },

    checkCredentials(meta, rawBody) {
      if (!(rawBody instanceof Uint8Array)) {
        throw new TypeError(
          'checkCredentials needs the raw request body as bytes (Uint8Array/Buffer), not a string or parsed JSON',
        );
      }
      let webhookId: string | undefined;
      for (const check of checks) {
        const result = check.run(meta.headers, rawBody);
        if (!result.ok) return rejected(check.name, result.reason, wwwAuthenticate);
        webhookId ??= result.webhookId;
      }
      return webhookId === undefined ? { ok: true } : { ok: true, webhookId };
    },
  };
}

function rejected(
  failedCheck: Exclude<AuthCheck, 'allow-list'>,
  reason: string,
  wwwAuthenticate: string | undefined,
): CredentialOutcome {
  const outcome: CredentialOutcome = { ok: false, status: 401, failedCheck, reason: `${failedCheck}: ${reason}` };
  return wwwAuthenticate === undefined ? outcome : { ...outcome, wwwAuthenticate };
}

function nonEmpty(list: string[] | undefined): string[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}
