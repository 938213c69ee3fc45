import { Option, type Command } from 'commander';
import { describeDatabaseUrl, keyIdOf, openStore, type RekeyPosition, type Store } from '../../store/index.js';
import { addEncryptionOptions, encryptionKeysFromFlags, type EncryptionFlags } from '../encryption-options.js';
import { CliError } from '../errors.js';
import { addExamples, defaultInHelp } from '../help.js';
import { dbOption, parsePositiveInt } from '../options.js';

interface RekeyOptions extends EncryptionFlags {
  db: string;
  batch: number;
  pause: number;
  from?: string;
}

const DEFAULT_BATCH = 500;
const DEFAULT_PAUSE_MS = 50;

/** `events:1234`: where an interrupted run stopped, as it printed it. */
function parsePosition(text: string): RekeyPosition {
  const match = /^(events|quarantine|decisions):(.*)$/.exec(text);
  if (!match) throw new CliError(`--from: "${text}" is not a position printed by rekey (e.g. events:1500)`);
  return { table: match[1] as RekeyPosition['table'], after: match[2]! };
}

export function register(program: Command): void {
  const command = program
    .command('rekey')
    .description(
      'seal again with the current key every row sealed with an older key or kept in clear, in small batches, while the service runs',
    )
    .addOption(dbOption())
    .addOption(
      defaultInHelp(
        new Option('--batch <rows>', 'rows examined per commit').argParser(parsePositiveInt),
        String(DEFAULT_BATCH),
      ),
    )
    .addOption(
      defaultInHelp(
        new Option('--pause <ms>', 'pause between batches, so the service keeps its share').argParser((v) => {
          const n = Number(v);
          if (!/^\d+$/.test(v)) throw new CliError(`--pause: "${v}" is not a whole number of milliseconds`);
          return n;
        }),
        String(DEFAULT_PAUSE_MS),
      ),
    )
    .addOption(new Option('--from <position>', 'start where an interrupted run stopped (it prints the position)'));
  addEncryptionOptions(command);
  addExamples(command, [
    {
      say: 'after rotating: the new key current, the old one as previous',
      run: 'DOCV_ENCRYPTION_KEY=$NEW DOCV_ENCRYPTION_PREVIOUS_KEYS=$OLD docv-webhooks rekey',
    },
  ]).action(async (opts: RekeyOptions) => {
    const encryption = encryptionKeysFromFlags(opts);
    if (!encryption?.current)
      throw new CliError(
        'rekey needs the key to seal with: --encryption-key, DOCV_ENCRYPTION_KEY or DOCV_ENCRYPTION_KEY_FILE',
      );
    let store: Store;
    try {
      store = await openStore(opts.db, { encryption });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const batch = opts.batch ?? DEFAULT_BATCH;
    const pause = opts.pause ?? DEFAULT_PAUSE_MS;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    let stopping = false;
    const stop = () => {
      stopping = true;
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    try {
      out(
        `re-sealing ${describeDatabaseUrl(opts.db)} with key ${keyIdOf(encryption.current)}, ${batch} rows per batch`,
      );
      let position: RekeyPosition | null = opts.from ? parsePosition(opts.from) : null;
      const totals = new Map<string, { examined: number; resealed: number }>();
      let lastReport = 0;
      do {
        const table = position?.table ?? 'events';
        const done = await store.rekey(position, batch);
        const total = totals.get(table) ?? { examined: 0, resealed: 0 };
        total.examined += done.examined;
        total.resealed += done.resealed;
        totals.set(table, total);
        position = done.next;
        if (Date.now() - lastReport > 1000 || position?.table !== table) {
          lastReport = Date.now();
          out(
            `${table}: ${total.resealed} re-sealed of ${total.examined} examined${position?.table === table ? ` (at ${table}:${position.after})` : ', done'}`,
          );
        }
        if (position && pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      } while (position !== null && !stopping);
      if (position !== null) {
        out(`stopped; run again with --from ${position.table}:${position.after} to go on`);
        process.exitCode = 130;
        return;
      }
      const retired = await store.retireUnusedKeys();
      const resealed = [...totals.values()].reduce((n, t) => n + t.resealed, 0);
      out(`done: ${resealed} rows re-sealed`);
      out(
        retired.length > 0
          ? `no row uses ${retired.map((id) => `key ${id}`).join(', ')} any more: it can be removed from the previous keys`
          : 'no older key was retired (none was in use, or rows sealed with one were written meanwhile: run again)',
      );
    } catch (err) {
      throw new CliError((err as Error).message);
    } finally {
      process.off('SIGINT', stop).off('SIGTERM', stop);
      await store.close();
    }
  });
}
