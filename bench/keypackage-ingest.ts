/**
 * Relay CPU per accepted 443 (decode + both MLS signatures + stock write, on top of the
 * Nostr id/signature check) against kind-1 events with the same content, in one run.
 * Run: node dist/bench/keypackage-ingest.js [count]
 */
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import type { NostrEvent } from '../src/protocol/types.js';
import { publish } from './lib/load.js';
import { startBenchRelay } from './lib/relay.js';
import { pooledKeyPackage } from '../test/helpers/mls-keypackages.js';

const N = Number(process.argv[2] ?? 2000);
const PER_OWNER = 10;
const keys = Array.from({ length: Math.ceil(N / PER_OWNER) }, () => generateSecretKey());
const now = Math.floor(Date.now() / 1000);
const make = (kind: number) =>
  Array.from({ length: N }, (_, i) =>
    finalizeEvent({ kind, created_at: now - 60, content: pooledKeyPackage(), tags: [['cs', '0x0001'], ['kpr', `k${kind}-${i}`], ['encoding', 'base64']] }, keys[i % keys.length]!) as NostrEvent,
  );
const kps = make(443);
const notes = make(1);

const relay = await startBenchRelay({ gateway: true, config: { 'extensions.mls_gateway': { max_keypackages_per_user: PER_OWNER } } });
try {
  const run = async (events: NostrEvent[]) => {
    const c0 = relay.cpuMicros();
    const r = await publish(relay.url, events, { connections: 8, window: 16 });
    const cpu = relay.cpuMicros() - c0;
    if (r.accepted !== events.length) throw new Error(`accepted ${r.accepted}/${events.length}: ${JSON.stringify(r.rejected)}`);
    return { cpu_us_per_event: Math.round(cpu / events.length), events_per_second: Math.round(events.length / (r.wallMs / 1000)), p50_ms: r.latency.percentile(50) };
  };
  await run(make(1).slice(0, 300)); // warm-up
  const kind1 = await run(notes);
  const kind443 = await run(kps);
  console.log(JSON.stringify({ count: N, kind1, kind443, added_cpu_us_per_keypackage: kind443.cpu_us_per_event - kind1.cpu_us_per_event }));
} finally {
  await relay.stop();
}
