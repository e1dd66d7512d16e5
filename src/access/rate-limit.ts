/**
 * Counters for the rate limits, one bucket per (limit, subject). Sliding-window counter: the previous
 * window's count weighted by how much of it still overlaps the sliding period, plus the current one.
 * Within a fresh window a burst gets exactly `limit`; at a window boundary it cannot double up the way
 * a plain fixed window does. Three numbers per bucket, however large the limit.
 */

interface Bucket {
  /** Start of the current window (ms); windows are aligned to the bucket's first hit. */
  start: number;
  period: number;
  prev: number;
  curr: number;
}

export class RateBuckets {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * Counts one hit against every key, or against none: when any of them is full the hit is refused
   * and no bucket moves, so a refused attempt does not eat the allowance of the other keys.
   */
  take(keys: readonly string[], limit: number, period: number, now: number): boolean {
    const touched: Bucket[] = [];
    for (const key of keys) {
      let b = this.buckets.get(key);
      if (!b) {
        b = { start: now, period, prev: 0, curr: 0 };
        this.buckets.set(key, b);
      }
      roll(b, period, now);
      const overlap = 1 - (now - b.start) / period;
      if (b.prev * overlap + b.curr + 1 > limit) return false;
      touched.push(b);
    }
    for (const b of touched) b.curr++;
    return true;
  }

  /** Drops buckets whose counts no longer weigh on any decision (idle for two whole periods). */
  sweep(now: number): number {
    let dropped = 0;
    for (const [key, b] of this.buckets) {
      if (now - b.start >= 2 * b.period) {
        this.buckets.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  get size(): number {
    return this.buckets.size;
  }
}

function roll(b: Bucket, period: number, now: number): void {
  // A changed period (config reload) restarts the bucket's window arithmetic rather than mixing units.
  if (b.period !== period) {
    b.period = period;
    b.start = now;
    b.prev = 0;
    return;
  }
  const elapsed = now - b.start;
  if (elapsed < period) return;
  const windows = Math.floor(elapsed / period);
  b.prev = windows === 1 ? b.curr : 0;
  b.curr = 0;
  b.start += windows * period;
}
