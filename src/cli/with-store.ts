import { openStore, type Store } from '../store/index.js';
import { CliError } from './errors.js';

/** Opens the store for a one-shot command, runs `fn`, always closes it. */
export async function withStore<T>(
  url: string,
  fn: (store: Store) => Promise<T>,
  options: { readonly?: boolean } = {},
): Promise<T> {
  let store: Store;
  try {
    store = await openStore(url, { readonly: options.readonly ?? true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
