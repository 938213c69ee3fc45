import { readFileSync } from 'node:fs';

export interface ReadSecretListOptions {
  /** Splits the value into entries; each entry is trimmed and empty ones dropped. Omit for a single value. */
  readonly separator?: string | RegExp;
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
 * - A `_FILE` that is empty or unreadable is an error: a secret that was meant to be configured
 *   must not silently turn into "no authentication".
 *
 * Error messages name the variable and the file, never the content.
 */
export function readSecretList(env: Readonly<Record<string, string | undefined>>, name: string, options: ReadSecretListOptions = {}): string[] | undefined {
  const fileVariable = `${name}_FILE`;
  const direct = env[name];
  const file = env[fileVariable];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile) throw new Error(`${name} and ${fileVariable} are both set; set only one of them`);

  let value: string;
  if (hasFile) {
    try {
      value = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(`${fileVariable}: cannot read ${file} (${code})`);
    }
    value = withoutTrailingNewline(value);
    if (value.trim() === '') throw new Error(`${fileVariable}: ${file} is empty`);
  } else if (hasDirect) {
    value = withoutTrailingNewline(direct);
  } else {
    return undefined;
  }

  if (options.separator === undefined) return [value];
  return value
    .split(options.separator)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

function withoutTrailingNewline(value: string): string {
  if (value.endsWith('\r\n')) return value.slice(0, -2);
  if (value.endsWith('\n')) return value.slice(0, -1);
  return value;
}
