import { readFileSync } from 'node:fs';

/** Reads one `Vm…:  123 kB` line of /proc/<pid>/status, in bytes; null when the process is gone. */
function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface RssSampler {
  /** Highest RSS seen since the last reset (sampled, and the kernel's own high-water mark). */
  peak(): number;
  /** Starts a new window: `peak()` then covers only what follows. */
  reset(): void;
  stop(): void;
}

/**
 * Samples a child's resident set every `intervalMs`. The kernel's VmHWM is exact but covers the
 * whole life of the process; the samples give the peak of one section when a process serves
 * several.
 */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  let peak = 0;
  let windowStarted = false;
  const sample = () => {
    const rss = statusField(pid, 'VmRSS');
    if (rss !== null && rss > peak) peak = rss;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    peak() {
      sample();
      // Until the first reset the window is the whole life, so the exact high-water mark applies.
      const hwm = windowStarted ? null : statusField(pid, 'VmHWM');
      return Math.max(peak, hwm ?? 0);
    },
    reset() {
      windowStarted = true;
      peak = 0;
      sample();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
