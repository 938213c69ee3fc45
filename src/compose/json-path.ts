/**
 * `$.sources[0].auth.allowIps[2]`: where a setting is in a configuration, as messages name it.
 * Numbers are list indexes; keys that are not plain words are quoted.
 */
export function formatJsonPath(segments: ReadonlyArray<string | number>, root = '$'): string {
  const text = segments
    .map((s) =>
      typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`,
    )
    .join('');
  return root === '' ? text.replace(/^\./, '') : `${root}${text}`;
}
