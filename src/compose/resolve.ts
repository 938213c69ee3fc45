import { AuthConfigError, requireSecret } from '../auth/index.js';
import { redactUrl } from '../auth/redact-url.js';
import {
  defaultReceiverConfig,
  type ReceiverConfig,
  type ReceiverConfigInput,
  type SocureApiConfig,
} from './config.js';
import { validateConfiguredDestinations } from './configured-destinations.js';
import { ConfigError } from './errors.js';
import { validateSources } from './sources.js';

/**
 * Spellings older callers use, each the same setting as one in ReceiverConfigInput. Kept because
 * mapping them costs a line each; new code uses the one spelling.
 */
export interface DeprecatedReceiverSpellings {
  /** @deprecated Use `databaseUrl`. */
  db?: string | undefined;
  /** @deprecated Use `auth.webhookSecrets`. */
  webhookSecrets?: string[] | undefined;
  /** @deprecated Use `auth.signingSecrets`. */
  signingSecrets?: string[] | undefined;
  /** @deprecated Use `auth.basicAuth`. */
  basicAuth?: string[] | undefined;
}

/** The configuration an entry point runs with: the defaults, the input, the old spellings folded in, then checked. */
export function resolveReceiverConfig(input: ReceiverConfigInput & DeprecatedReceiverSpellings): ReceiverConfig {
  const { db, webhookSecrets, signingSecrets, basicAuth, ...rest } = input;
  const config = defaultReceiverConfig({
    ...rest,
    ...(db !== undefined && rest.databaseUrl === undefined ? { databaseUrl: db } : {}),
    auth: {
      ...rest.auth,
      ...(webhookSecrets ? { webhookSecrets } : {}),
      ...(signingSecrets ? { signingSecrets } : {}),
      ...(basicAuth ? { basicAuth } : {}),
    },
  });
  checkAdminToken(config.adminToken);
  validateSocure(config.socure);
  checkNumbers(config);
  // Sources and configured destinations come from the config file (checked there, with lines)
  // or from a library caller's object: checked again here for the latter.
  if (config.sources?.length) validateSources(config.sources);
  validateConfiguredDestinations(config);
  return config;
}

/**
 * The numbers the CLI's parsers check, checked again for callers that pass an object: a
 * concurrency of 0 or a body limit of -1 would start a receiver that never delivers or never accepts.
 */
function checkNumbers(config: ReceiverConfig): void {
  const whole = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got ${String(value)}`);
  };
  whole('port', config.port, 0, 65_535);
  whole('maxBodyBytes', config.maxBodyBytes, 1);
  whole('authFailureLimit', config.authFailureLimit, 0);
  whole('dispatch.concurrency', config.dispatch.concurrency, 1);
  whole('dispatch.pollMs', config.dispatch.pollMs, 1);
  whole('dispatch.leaseMs', config.dispatch.leaseMs, 0);
  whole('dispatch.forwardTimeoutMs', config.dispatch.forwardTimeoutMs, 1);
  whole('socure.timeoutMs', config.socure.timeoutMs, 1);
}

/**
 * A token that is set must be usable: one of only whitespace counted as configured (so the admin
 * API opened beyond loopback) while a bearer token could never match it, and a Basic password of
 * spaces could. Not set (undefined) is different: loopback only, or a refusal (checkExposure).
 */
function checkAdminToken(token: string | undefined): void {
  if (token === undefined) return;
  try {
    requireSecret('adminToken (--admin-token, DOCV_ADMIN_TOKEN)', token, 'token');
  } catch (err) {
    if (err instanceof AuthConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

export function validateSocure(socure: SocureApiConfig): void {
  if (Boolean(socure.baseUrl) !== Boolean(socure.apiKey)) {
    throw new ConfigError('SOCURE_BASE_URL and SOCURE_API_KEY go together: set both to fetch decisions, or neither');
  }
  if (socure.baseUrl && !/^https?:\/\//.test(socure.baseUrl))
    throw new ConfigError(`SOCURE_BASE_URL "${redactUrl(socure.baseUrl).slice(0, 300)}" is not an http(s) URL`);
  // fetch refuses a URL with credentials: every decision fetch would fail, one by one, much later.
  if (socure.baseUrl && URL.canParse(socure.baseUrl) && /^[^/]*\/\/[^/?#]*@/.test(socure.baseUrl)) {
    throw new ConfigError(
      `SOCURE_BASE_URL "${redactUrl(socure.baseUrl).slice(0, 300)}" carries user:password; the API key goes in SOCURE_API_KEY`,
    );
  }
}

/**
 * Refuses keys an entry point does not take (a JavaScript caller, or a typo that TypeScript let
 * through a spread): a setting silently ignored is a setting the operator thinks is on. Keys set
 * to undefined are let through; they set nothing.
 */
export function refuseUnknownOptions(entryPoint: string, options: object, known: readonly string[]): void {
  const allowed = new Set(known);
  const unknown = Object.entries(options)
    .filter(([key, value]) => value !== undefined && !allowed.has(key))
    .map(([key]) => key);
  if (unknown.length > 0)
    throw new ConfigError(
      `${entryPoint} does not take ${unknown.join(', ')}; it takes ${[...known].sort().join(', ')}`,
    );
}
