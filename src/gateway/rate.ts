/**
 * Fixed-window counters keyed by string (per owner, per group, per (caller, owner)). In
 * memory on purpose: a restart forgives, and nothing on the write path waits for disk.
 */
export class RateWindows {
  private readonly windows = new Map<string, { start: number; count: number }>();

  /** Count one hit; false when `limit` hits were already counted in the current window. */
  hit(key: string, limit: number | undefined, windowMs: number, now = Date.now()): boolean {
    if (limit === undefined) return true;
    const w = this.windows.get(key);
    if (w === undefined || now - w.start >= windowMs) {
      this.windows.set(key, { start: now, count: 1 });
      return true;
    }
    if (w.count >= limit) return false;
    w.count++;
    return true;
  }

  /**
   * One hit for each key, all or nothing: false (and nothing counted) when any key's window
   * is full, so a subject refused under one key does not use up its others.
   */
  hitAll(keys: readonly string[], limit: number | undefined, windowMs: number, now = Date.now()): boolean {
    if (limit === undefined) return true;
    for (const k of keys) {
      const w = this.windows.get(k);
      if (w !== undefined && now - w.start < windowMs && w.count >= limit) return false;
    }
    for (const k of keys) this.hit(k, limit, windowMs, now);
    return true;
  }

  /** Drop windows older than `maxWindowMs` (called from the gateway's sweep timer). */
  prune(maxWindowMs: number, now = Date.now()): void {
    for (const [k, w] of this.windows) if (now - w.start >= maxWindowMs) this.windows.delete(k);
  }

  get size(): number {
    return this.windows.size;
  }
}
