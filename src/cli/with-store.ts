import { openStore, type Store } from '../store/index.js';
import { encryptionKeysFromFlags } from './encryption-options.js';
import { CliError } from './errors.js';

/**
 * Opens the store for a one-shot command, runs `fn`, always closes it. Sealed rows open with the
 * keys of DOCV_ENCRYPTION_KEY / DOCV_ENCRYPTION_PREVIOUS_KEYS (or their _FILE), as `serve` has them.
 */
export async function withStore<T>(
  url: string,
  fn: (store: Store) => Promise<T>,
  options: { readonly?: boolean } = {},
): Promise<T> {
  let store: Store;
  try {
    const encryption = encryptionKeysFromFlags({});
    store = await openStore(url, { readonly: options.readonly ?? true, ...(encryption ? { encryption } : {}) });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
