import pino, { type Logger } from 'pino';

/**
 * Fields of a delivery line (and of a dispatch attempt's) that the pretty format puts in the
 * message, in this order; they are left out of the object printed after it.
 */
const PRETTY_FIELDS: ReadonlyArray<readonly [field: string, format: string]> = [
  ['outcome', '{outcome}'],
  ['status', '{status}'],
  ['latencyMs', '{latencyMs}ms'],
  ['eventType', '{eventType}'],
  ['eventId', '{eventId}'],
  ['docvTransactionId', 'tx={docvTransactionId}'],
  ['reason', 'reason: {reason}'],
];

/**
 * One line per entry, as in JSON: pino-pretty's default spreads an entry's fields over a line
 * each (about seven per delivery). Fields a template does not name follow on the same line as
 * one JSON object (singleLine); pid and hostname say nothing to a person at a terminal.
 */
const PRETTY_OPTIONS = {
  colorize: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  translateTime: 'SYS:HH:MM:ss.l',
  singleLine: true,
  messageFormat: `{msg}${PRETTY_FIELDS.map(([field, format]) => `{if ${field}} ${format}{end}`).join('')}`,
  ignore: ['pid', 'hostname', 'service', ...PRETTY_FIELDS.map(([field]) => field)].join(','),
};

/**
 * JSON lines by default; pretty for a person at a terminal. Never the payload at info level and
 * never a credential: the redaction list is a second fence in case a header object is logged.
 *
 * The JSON lines go out asynchronously and in blocks: a synchronous write per line (pino's
 * default) costs the event loop a system call for every delivery at info level, and even an
 * asynchronous write costs it about 20-30 µs to hand to the thread pool on this kind of machine.
 * So lines gather until 4 KiB (about 15 delivery lines) or 200 ms have passed, then go out in one
 * write off the loop; pino flushes what is left when the process exits. Only a kill -9 or a power
 * cut can lose the last 200 ms of lines.
 */
export function createLogger(options: { level: string; pretty: boolean }): Logger {
  const settings = {
    level: options.level,
    base: { service: 'docv-webhooks' },
    redact: {
      paths: [
        'headers.authorization',
        'headers.cookie',
        'req.headers.authorization',
        'req.headers.cookie',
        '*.secret',
        '*.token',
        '*.password',
      ],
      censor: '[redacted]',
    },
  };
  if (options.pretty) return pino({ ...settings, transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } });
  return pino(settings, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 200 }));
}
