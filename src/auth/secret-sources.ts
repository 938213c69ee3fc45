import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';

export interface ReadSecretListOptions {
  /** Splits the value into entries; each entry is trimmed and empty ones dropped. Omit for a single value. */
  readonly separator?: string | RegExp;
  /**
   * Told when a `_FILE` can be read by other users than its owner (group or others have any
   * permission on it). A warning, not a refusal: a Kubernetes secret volume is 0644 unless its
   * defaultMode says otherwise, and the file is still private to the container.
   */
  readonly warn?: (message: string) => void;
}

/**
 * Reads a secret (or a list of them) from `NAME`, or from the file named by `NAME_FILE`, the
 * convention for Docker and Kubernetes secrets mounted as files. The one function of auth/ that
 * does I/O, kept apart so the checks stay pure.
 *
 * - Neither set, or `NAME` set to the empty string (what `NAME=` in a compose file gives):
 *   undefined, i.e. not configured.
 * - Both set: an error, as it is ambiguous which one the operator meant.
 * - One trailing newline is removed (editors and `echo` add one). Other whitespace is left in a
 *   single value so the configuration check can report it rather than silently changing a secret;
 *   with a separator, whitespace around entries is formatting and is trimmed.
 * - Set but holding nothing usable (a `_FILE` that is empty, a value of only whitespace, a list of
 *   only separators such as `' , '`): an error. A secret that was meant to be configured must not
 *   silently turn into "no authentication" (or no allow-list).
 * - A `_FILE` that cannot be read is an error too.
 *
 * Error messages name the variable and the file, never the content.
 */
export function readSecretList(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  options: ReadSecretListOptions = {},
): string[] | undefined {
  const fileVariable = `${name}_FILE`;
  const direct = env[name];
  const file = env[fileVariable];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile) throw new Error(`${name} and ${fileVariable} are both set; set only one of them`);

  let value: string;
  // Where the value came from, as error messages name it: the variable, and the file if any.
  let source: string;
  if (hasFile) {
    value = withoutTrailingNewline(readSecretFile(fileVariable, file, options.warn));
    source = `${fileVariable}: ${file}`;
    if (value.trim() === '') throw new Error(`${source} is empty`);
  } else if (hasDirect) {
    value = withoutTrailingNewline(direct);
    source = name;
    if (value.trim() === '') throw new Error(`${source} is set but holds only whitespace; set a value, or unset it`);
  } else {
    return undefined;
  }

  if (options.separator === undefined) return [value];
  const entries = value
    .split(options.separator)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0)
    throw new Error(`${source} holds no entries, only separators and whitespace; set a value, or unset it`);
  return entries;
}

function readSecretFile(fileVariable: string, file: string, warn: ReadSecretListOptions['warn']): string {
  let fd: number | undefined;
  let mode: number;
  let value: string;
  try {
    fd = openSync(file, 'r');
    // The mode of what was opened: a symlink (Kubernetes mounts secrets as ones) is followed.
    mode = fstatSync(fd).mode & 0o777;
    value = readFileSync(fd, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`${fileVariable}: cannot read ${file} (${code})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  // Windows has no Unix permission bits: its fstat reports 0666 or 0444 for every file.
  if (warn && process.platform !== 'win32' && (mode & 0o077) !== 0) {
    warn(
      `${fileVariable}: ${file} is open to other users than its owner (mode ${mode.toString(8).padStart(4, '0')}); make it private: chmod 600 ${file}`,
    );
  }
  return value;
}

function withoutTrailingNewline(value: string): string {
  if (value.endsWith('\r\n')) return value.slice(0, -2);
  if (value.endsWith('\n')) return value.slice(0, -1);
  return value;
}
