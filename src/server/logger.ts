import pino, { type Logger } from 'pino';

/**
 * JSON lines by default; pretty for a person at a terminal. Never the payload at info level and
 * never a credential: the redaction list is a second fence in case a header object is logged.
 */
export function createLogger(options: { level: string; pretty: boolean }): Logger {
  return pino({
    level: options.level,
    base: { service: 'docv-webhooks' },
    redact: {
      paths: ['headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie', '*.secret', '*.token', '*.password'],
      censor: '[redacted]',
    },
    ...(options.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}),
  });
}
