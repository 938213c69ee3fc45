/** A configuration that cannot work or would be unsafe; the message says which setting to change. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
