/**
 * A configuration mistake found when the inbound authentication is built. It is a TypeError (as
 * the ingest contract promises) with the option name attached, so the CLI can point at the flag
 * or environment variable the operator got wrong. Messages name the option and the position in
 * the list, never the secret itself: they end up in terminals and logs.
 */
export class AuthConfigError extends TypeError {
  override readonly name = 'AuthConfigError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}
