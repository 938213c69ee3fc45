/** A plain-text table for people: left-aligned columns, long cells cut with an ellipsis. */
export function formatTable(rows: Array<Record<string, unknown>>, columns: string[], maxWidth = 40): string {
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') || '-' : String(v);
    return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
  };
  const body = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
