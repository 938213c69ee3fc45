import type { Logger } from 'pino';
import type { ReceiverConfig } from '../compose/config.js';

export interface Reloadable {
  logger: Logger;
  reload(next: ReceiverConfig): Promise<unknown>;
}

/**
 * SIGHUP re-reads the config file and applies it (`serve`, `worker`): `read` builds the
 * configuration as start-up did (the flags' own, with the file's parts). A file that cannot be
 * read or a configuration that cannot work is one error line, and the running one stays. Without
 * a config file there is nothing to read again: said, and nothing else happens (not the default
 * of ending the process). Returns what stops listening.
 */
export function reloadOnSignal(
  service: Reloadable,
  configFile: string | undefined,
  read: () => ReceiverConfig,
): () => void {
  const failed = (err: unknown) =>
    service.logger.error({ signal: 'SIGHUP', configFile }, `configuration not reloaded: ${(err as Error).message}`);
  const onHangUp = () => {
    if (configFile === undefined) {
      service.logger.info(
        { signal: 'SIGHUP' },
        'nothing to reload: this process runs without a config file (--config); its flags change with a restart',
      );
      return;
    }
    let next: ReceiverConfig;
    try {
      next = read();
    } catch (err) {
      failed(err);
      return;
    }
    // The reload logs what it changed.
    service.reload(next).catch(failed);
  };
  process.on('SIGHUP', onHangUp);
  return () => process.off('SIGHUP', onHangUp);
}
