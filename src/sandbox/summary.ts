/** Nearest-rank percentile of `sorted` (ascending); 0 for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? 0),
  };
}

/** What a receiver said it did with a 2xx delivery, from this project's `{"status": …}` answer. */
export function receiverVerdict(responseBody: string): 'accepted' | 'duplicate' | 'other' {
  // Most answers are acceptances: without the word (or a JSON escape that could spell it) there
  // is nothing to parse for, and a load run skips a JSON.parse per request.
  if (!responseBody.includes('duplicate') && !responseBody.includes('\\u')) return 'accepted';
  try {
    const status = (JSON.parse(responseBody) as { status?: unknown }).status;
    return status === 'duplicate' ? 'duplicate' : 'accepted';
  } catch {
    // Another receiver may answer anything with its 2xx: that is an acceptance too.
    return 'accepted';
  }
}
