/**
 * The verify ceiling: how many events per second one core checks (id hash + signature)
 * with the backend the relay will use, measured in this process and this run. Ingest is
 * reported against pool size × this rate.
 */
import type { NostrEvent } from '../../src/protocol/types.js';
import { loadBackend } from '../../src/verify/backend.js';
import { checkEvent } from '../../src/verify/check-event.js';

export async function singleCoreVerifyRate(events: NostrEvent[], minMs = 1500): Promise<{ rate: number; backend: string }> {
  const backend = await loadBackend();
  const sample = events.slice(0, 2000);
  for (const e of sample.slice(0, 200)) checkEvent(backend, e);
  let n = 0;
  const t0 = performance.now();
  do {
    for (const e of sample) if (checkEvent(backend, e) !== 0) throw new Error('a pre-signed event failed verification');
    n += sample.length;
  } while (performance.now() - t0 < minMs);
  return { rate: n / ((performance.now() - t0) / 1000), backend: backend.name };
}
