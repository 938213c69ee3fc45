import { Option, type Command } from 'commander';
import { readSecretList } from '../auth/index.js';
import { EncryptionKeyError, parseEncryptionKey, type EncryptionKeys } from '../store/encryption/keys.js';
import { CliError } from './errors.js';
import { envInHelp, orFile } from './help.js';
import { collect } from './options.js';

/** The key flags of the commands that open a store to write (serve, worker, rekey). */
export interface EncryptionFlags {
  encryptionKey?: string;
  encryptionPreviousKeys?: string[];
}

export const ENCRYPTION_KEY_ENV = 'DOCV_ENCRYPTION_KEY';
export const PREVIOUS_KEYS_ENV = 'DOCV_ENCRYPTION_PREVIOUS_KEYS';

export function addEncryptionOptions(command: Command): Command {
  return command
    .addOption(
      envInHelp(
        new Option(
          '--encryption-key <base64>',
          'seal raw bodies, headers, quarantine and document data with AES-256-GCM (32 random bytes, base64)',
        ),
        orFile(ENCRYPTION_KEY_ENV),
      ),
    )
    .addOption(
      envInHelp(
        new Option(
          '--encryption-previous-keys <base64>',
          'older keys, to read rows sealed before a rotation (until `rekey` has moved them); repeatable, separated by commas or spaces in the env',
        ).argParser(collect),
        orFile(PREVIOUS_KEYS_ENV),
      ),
    );
}

/**
 * The keys from the flags, else from DOCV_ENCRYPTION_KEY / DOCV_ENCRYPTION_PREVIOUS_KEYS (or their
 * `_FILE`); undefined when none is set. A bad key is an error naming the flag or variable, never
 * showing the value.
 */
export function encryptionKeysFromFlags(
  flags: EncryptionFlags,
  env: NodeJS.ProcessEnv = process.env,
): EncryptionKeys | undefined {
  try {
    const current =
      flags.encryptionKey !== undefined
        ? parseEncryptionKey(flags.encryptionKey, '--encryption-key')
        : keysFromEnv(env, ENCRYPTION_KEY_ENV, undefined)[0];
    const previous =
      flags.encryptionPreviousKeys && flags.encryptionPreviousKeys.length > 0
        ? flags.encryptionPreviousKeys
            .flatMap((entry) => entry.split(/[\s,]+/).filter(Boolean))
            .map((text, i) => parseEncryptionKey(text, `--encryption-previous-keys (number ${i + 1})`))
        : keysFromEnv(env, PREVIOUS_KEYS_ENV, /[\s,]+/);
    if (current === undefined && previous.length === 0) return undefined;
    return { current: current ?? null, previous };
  } catch (err) {
    if (err instanceof EncryptionKeyError) throw new CliError(err.message);
    throw new CliError((err as Error).message);
  }
}

function keysFromEnv(env: NodeJS.ProcessEnv, name: string, separator: RegExp | undefined): Uint8Array[] {
  const values = readSecretList(env, name, separator ? { separator } : {}) ?? [];
  const from = env[`${name}_FILE`] ? `${name}_FILE` : name;
  return values.map((text, i) => parseEncryptionKey(text, values.length > 1 ? `${from} (number ${i + 1})` : from));
}
