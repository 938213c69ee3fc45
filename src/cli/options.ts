import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DATABASE_URL } from '../store/index.js';
import { defaultInHelp, envInHelp } from './help.js';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError(`"${value}" is not a port number (0-65535)`);
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function dbOption(): Option {
  return new Option('--db <url>', 'database: sqlite:<file> or postgres://…')
    .env('DATABASE_URL')
    .default(DEFAULT_DATABASE_URL);
}

export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts instead of a table');
}

export const LOG_FORMATS = ['pretty', 'json'] as const;

export function logFormatOption(): Option {
  const option = new Option('--log-format <format>', 'pretty: a line per entry for people; json: JSON lines')
    .env('LOG_FORMAT')
    .choices(LOG_FORMATS);
  return defaultInHelp(option, 'pretty on a terminal; json otherwise');
}

/** Pretty when asked, or when nobody asked and a person is watching stdout. */
export function prettyLogs(format: string | undefined): boolean {
  return format === undefined ? process.stdout.isTTY === true : format === 'pretty';
}

/**
 * A switch also set from the environment: on for 1, true, yes or on, off for anything else.
 * commander's `.env()` would turn a boolean flag on whenever the variable exists, even `=false`.
 */
export function switchOption(flags: string, description: string, envName: string): Option {
  return envInHelp(new Option(flags, description), envName);
}

/** The flag when given, else the switch's environment variable. */
export function switchOn(flag: boolean | undefined, envName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag === true) return true;
  const value = env[envName];
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}
