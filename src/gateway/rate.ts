import { RateBuckets } from '../access/rate-limit.js';

/**
 * The gateway's limits (per owner, per group, per (caller, owner), per sender) counted by
 * the relay's one rate-limit implementation (access/rate-limit.ts, sliding window), with
 * an optional limit: undefined means no limit. In memory on purpose: a restart forgives,
 * and nothing on the write path waits for disk.
 */
export class RateWindows {
  private readonly buckets = new RateBuckets();

  /** Count one hit; false when `limit` hits already weigh on the sliding window. */
  hit(key: string, limit: number | undefined, windowMs: number, now = Date.now()): boolean {
    return limit === undefined || this.buckets.take([key], limit, windowMs, now);
  }

  /**
   * One hit for each key, all or nothing: false (and nothing counted) when any key is full,
   * so a subject refused under one key does not use up its others.
   */
  hitAll(keys: readonly string[], limit: number | undefined, windowMs: number, now = Date.now()): boolean {
    return limit === undefined || this.buckets.take(keys, limit, windowMs, now);
  }

  /** Drop counters that no longer weigh on any decision (called from the gateway's sweep timer). */
  prune(_maxWindowMs: number, now = Date.now()): void {
    this.buckets.sweep(now);
  }

  get size(): number {
    return this.buckets.size;
  }
}
