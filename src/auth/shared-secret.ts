import { AUTH_REALM, failed, passed, type CheckResult } from './check.js';
import { requireSecretList } from './config-validation.js';
import { createSecretMatcher } from './constant-time.js';
import { readSingleHeader, type HeaderMap } from './headers.js';

export const SHARED_SECRET_CHALLENGE = `Bearer realm="${AUTH_REALM}"`;

/**
 * Socure sends the webhook secret registered in its dashboard back in `Authorization`. Whether a
 * scheme word precedes it is not documented (a bare key and `"<word> <key>"` both occur), so the
 * last space-separated token is what is compared: `<s>`, `Bearer <s>` and `Token <s>` all pass.
 * Several secrets may be valid at once so a rotation needs no downtime.
 */
export function createSharedSecretCheck(secrets: readonly string[]): (headers: HeaderMap) => CheckResult {
  const matches = createSecretMatcher(requireSecretList('webhookSecrets', secrets, 'webhook secret'));
  return (headers) => {
    const header = readSingleHeader(headers, 'authorization');
    if (header.kind === 'absent') return failed('no Authorization header');
    if (header.kind === 'repeated') return failed('more than one Authorization header');
    const token = lastToken(header.value);
    if (token === '') return failed('Authorization header is empty');
    return matches(token)
      ? passed
      : failed('the token in the Authorization header matches no configured webhook secret');
  };
}

/** Tabs count as separators too: some clients and proxies fold whitespace differently. */
function lastToken(value: string): string {
  const tokens = value.trim().split(/[ \t]+/);
  return tokens[tokens.length - 1] ?? '';
}
