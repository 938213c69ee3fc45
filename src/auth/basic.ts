import { AUTH_REALM, failed, passed, type CheckResult } from './check.js';
import { requireSecretList } from './config-validation.js';
import { createSecretMatcher } from './constant-time.js';
import { AuthConfigError } from './errors.js';
import { readSingleHeader, type HeaderMap } from './headers.js';

export const BASIC_CHALLENGE = `Basic realm="${AUTH_REALM}"`;

/**
 * HTTP Basic (RFC 7617), the way Socure RiskOS and many senders can be configured. Configured as
 * `user:pass` entries; several entries let credentials rotate. The user name and password are
 * compared together as one `user:pass` string so a wrong user and a wrong password take the same
 * time and produce the same log reason.
 */
export function createBasicAuthCheck(entries: readonly string[]): (headers: HeaderMap) => CheckResult {
  const credentials = requireSecretList('basicAuth', entries, 'user:pass credential');
  credentials.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    // RFC 7617: the user-id cannot contain a colon, so the first colon separates it from the password.
    if (colon === -1) throw new AuthConfigError('basicAuth', `entry ${index + 1} has no colon; write it as user:pass`);
    if (colon === 0)
      throw new AuthConfigError('basicAuth', `entry ${index + 1} has an empty user name; write it as user:pass`);
    if (colon === entry.length - 1)
      throw new AuthConfigError('basicAuth', `entry ${index + 1} has an empty password; write it as user:pass`);
  });
  const matches = createSecretMatcher(credentials.map((entry) => Buffer.from(entry, 'utf8')));

  return (headers) => {
    const header = readSingleHeader(headers, 'authorization');
    if (header.kind === 'absent') return failed('no Authorization header');
    if (header.kind === 'repeated') return failed('more than one Authorization header');
    const parts = header.value.trim().split(/[ \t]+/);
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    if (parts.length !== 2 || parts[0]?.toLowerCase() !== 'basic')
      return failed('Authorization header does not use the Basic scheme');
    const decoded = Buffer.from(parts[1] ?? '', 'base64');
    return matches(decoded) ? passed : failed('Basic credentials match no configured user:pass');
  };
}
