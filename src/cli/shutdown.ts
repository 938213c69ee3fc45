import type { Logger } from 'pino';

export interface Stoppable {
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Runs until SIGTERM or SIGINT, then closes `service`, logging that it is shutting down (with the
 * signal and what it is finishing) and that it has stopped: an operator who stops a process sees
 * in its log that it heard and when it was done. A failed close sets exit code 1.
 */
export function closeOnSignal(service: Stoppable, finishing: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      service.logger.info({ signal }, `shutting down: ${finishing}`);
      service.close().then(
        () => {
          service.logger.info('stopped');
          resolve();
        },
        (err: unknown) => {
          service.logger.error({ err }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
