import { AuthConfigError } from './errors.js';

/**
 * Checks a list of secrets from the configuration. Secrets are single tokens: the shared secret
 * is matched against the last space-separated token of a header, so a secret with a space could
 * never match, and whitespace at either end is nearly always a newline from a secret file or a
 * paste. Saying so at start-up beats a stream of 401s in production.
 */
export function requireSecretList(option: string, values: unknown, what: string): string[] {
  if (!Array.isArray(values)) throw new AuthConfigError(option, `expected a list of ${what}s`);
  return values.map((value: unknown, index) => {
    if (typeof value !== 'string') throw new AuthConfigError(option, `entry ${index + 1} is not a string`);
    if (value.length === 0) throw new AuthConfigError(option, `entry ${index + 1} is an empty ${what}`);
    if (/\s/.test(value)) {
      throw new AuthConfigError(
        option,
        `entry ${index + 1} contains whitespace; was the ${what} read from a file with a trailing newline, or pasted with a space?`,
      );
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value)) throw new AuthConfigError(option, `entry ${index + 1} contains a control character`);
    return value;
  });
}
