/**
 * A token bucket for `simulate --rate`: at most `perSecond` attempts start per second, with a
 * burst of one second's worth. Pure apart from the injected clock.
 */
export class RateLimit {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(perSecond > 0)) throw new RangeError('rate must be a positive number of attempts per second');
    this.tokens = Math.max(1, perSecond);
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(Math.max(1, this.perSecond), this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
  }

  /** How many attempts may start now, up to `want`; those are taken. */
  take(want: number): number {
    this.refill();
    const n = Math.min(want, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** When the next token will be there. */
  nextAt(): number {
    this.refill();
    return this.tokens >= 1 ? this.now() : this.now() + Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}
