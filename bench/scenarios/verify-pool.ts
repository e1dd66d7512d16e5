/**
 * Verify pool scaling, no network and no client: the same pre-signed events through a
 * VerifyPool of 1 thread and of every core, events/s each. The gain from the second
 * worker says whether the pool, not the machine, would cap ingest on a bigger instance.
 */
import { availableParallelism } from 'node:os';
import { VerifyPool } from '../../src/verify/pool.js';
import type { NostrEvent } from '../../src/protocol/types.js';
import { presigned } from '../lib/events.js';
import type { Row, Scenario } from '../lib/report.js';
import { ingestEvents } from './ingest.js';

const MIN_MS = 3_000;

async function poolRate(events: NostrEvent[], threads: number): Promise<number> {
  const pool = await VerifyPool.create({ threads });
  try {
    await Promise.all(events.slice(0, 500).map((e) => pool.verify(e))); // JIT in every worker
    let n = 0;
    const t0 = performance.now();
    do {
      const verdicts = await Promise.all(events.map((e) => pool.verify(e)));
      if (verdicts.some((v) => v !== 0)) throw new Error('the pool rejected a valid event');
      n += events.length;
    } while (performance.now() - t0 < MIN_MS);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await pool.close();
  }
}

export const verifyPool: Scenario = {
  name: 'verify-pool',
  describe: `VerifyPool alone, 1 thread vs ${availableParallelism()}, full check (id hash + signature)`,
  async run() {
    const { events } = await presigned(ingestEvents('ingest-warm-v1', 2_000));
    const one = await poolRate(events, 1);
    const rows: Row[] = [{ scenario: 'verify-pool', metric: 'pool of 1 thread', value: one, unit: 'ev/s' }];
    const cores = availableParallelism();
    if (cores > 1) {
      const two = await poolRate(events, 2);
      rows.push({ scenario: 'verify-pool', metric: 'pool of 2 threads', value: two, unit: 'ev/s', baseline: { name: '1 thread', value: one }, target: '≥ 1.70x', met: two / one >= 1.7 });
    }
    return rows;
  },
};
