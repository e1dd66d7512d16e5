/** Latency samples and their percentiles. */
export class Latencies {
  private readonly samples: number[] = [];

  add(ms: number): void {
    this.samples.push(ms);
  }

  /** Adds every sample of `other`. */
  merge(other: Latencies): void {
    for (const x of other.samples) this.samples.push(x);
  }

  get count(): number {
    return this.samples.length;
  }

  /** p in [0, 100]; nearest-rank on the sorted samples; NaN when empty. */
  percentile(p: number): number {
    if (this.samples.length === 0) return NaN;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank]!;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
