/** Latencies in milliseconds, recorded as they come; percentiles over the exact values. */
export class LatencyRecorder {
  private values = new Float64Array(1024);
  private n = 0;

  record(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  /** Adds another recorder's values (slices of one measurement). */
  absorb(other: LatencyRecorder): void {
    for (let i = 0; i < other.n; i++) this.record(other.values[i]!);
  }

  summary(): LatencySummary {
    if (this.n === 0) return { p50: 0, p99: 0, max: 0 };
    const sorted = this.values.slice(0, this.n).sort();
    const at = (q: number) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1))]!;
    return { p50: at(0.5), p99: at(0.99), max: sorted[this.n - 1]! };
  }
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}
