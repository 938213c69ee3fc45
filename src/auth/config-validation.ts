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
    const problem = secretProblem(value, what);
    if (problem !== undefined) throw new AuthConfigError(option, `entry ${index + 1} ${problem}`);
    return value as string;
  });
}

/**
 * Checks one secret, such as the admin token: the same rules as an entry of a list. A token of
 * only whitespace would otherwise count as configured, and one with a space in it could never be
 * sent as a bearer token (but could as a Basic password, a blank one included).
 */
export function requireSecret(option: string, value: unknown, what: string): string {
  const problem = secretProblem(value, what);
  if (problem !== undefined) throw new AuthConfigError(option, problem);
  return value as string;
}

/** What is wrong with a secret, as the end of a sentence that never quotes it; undefined when nothing is. */
function secretProblem(value: unknown, what: string): string | undefined {
  if (typeof value !== 'string') return 'is not a string';
  if (value.length === 0) return `is an empty ${what}`;
  if (value.trim() === '') return `is only whitespace, not a ${what}`;
  if (/\s/.test(value))
    return `contains whitespace; was the ${what} read from a file with a trailing newline, or pasted with a space?`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'contains a control character';
  return undefined;
}
