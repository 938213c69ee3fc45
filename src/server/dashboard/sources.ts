import type { SourceSummary } from '../../compose/source-summary.js';

/** What a page needs to know of the receiver's sources: the filter's choices, and whether rows name theirs. */
export interface SourceChoices {
  /** The names to choose from, or undefined when the dashboard was given no list (a free text filter). */
  names: string[] | undefined;
  /** More than one source: every row shows its source (parts.ts showsSource). */
  many: boolean;
}

export function sourceChoices(options: { listSources?: (() => SourceSummary[]) | undefined }): SourceChoices {
  const names = options.listSources?.().map((s) => s.name);
  return { names, many: (names?.length ?? 0) > 1 };
}
