import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DATABASE_URL } from '../store/index.js';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError(`"${value}" is not a port number (0-65535)`);
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function dbOption(): Option {
  return new Option('--db <url>', 'database: sqlite:<file> or postgres://…').env('DATABASE_URL').default(DEFAULT_DATABASE_URL);
}

export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts instead of a table');
}

export const LOG_FORMATS = ['pretty', 'json'] as const;

export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'pretty: a line per entry for people; json: JSON lines (default: pretty when stdout is a terminal)')
    .env('LOG_FORMAT')
    .choices(LOG_FORMATS);
}

/** Pretty when asked, or when nobody asked and a person is watching stdout. */
export function prettyLogs(format: string | undefined): boolean {
  return format === undefined ? process.stdout.isTTY === true : format === 'pretty';
}
