import pino, { type Logger } from 'pino';

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
      paths: ['headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie', '*.secret', '*.token', '*.password'],
      censor: '[redacted]',
    },
  };
  if (options.pretty) {
    return pino({ ...settings, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } });
  }
  return pino(settings, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 200 }));
}
