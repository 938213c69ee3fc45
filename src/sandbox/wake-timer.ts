/**
 * Runs `work` when something may be due and sleeps until the next due time it reports. One
 * timer instead of one per item, so a thousand pending retries cost nothing while they wait;
 * `maxSleepMs` bounds every sleep, so a missed wake-up costs at most that long.
 */
export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  /** A run already queued for this turn of the event loop: further wake-ups join it. */
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly work: () => number | undefined,
    private readonly onError: (err: unknown) => void,
    private readonly maxSleepMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Something changed: run soon. After the I/O callbacks of this turn rather than on a timer, so
   * every response that arrived together is handled by one run, without waiting a millisecond.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.arm(0);
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private arm(delayMs: number): void {
    if (this.immediate) return; // already running this turn, which is as soon as it gets
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (delayMs <= 0) {
      this.immediate = setImmediate(() => this.run());
      this.immediate.unref?.();
      return;
    }
    this.timer = setTimeout(() => this.run(), Math.min(delayMs, this.maxSleepMs));
    this.timer.unref?.();
  }

  private run(): void {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.stopped) return;
    this.running = true;
    let next: number | undefined;
    try {
      next = this.work();
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      this.arm(0);
      return;
    }
    this.arm(next === undefined ? this.maxSleepMs : next - this.now());
  }
}
