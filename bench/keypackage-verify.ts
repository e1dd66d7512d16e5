/**
 * Cost of the relay's KeyPackage check (decode + both signatures, src/gateway/mls-keypackage.ts)
 * on the main thread: sequential (latency) and 64 in flight (what a burst of 443s costs).
 * Run: node dist/bench/keypackage-verify.js [count]
 */
import { performance } from 'node:perf_hooks';
import { inspectKeyPackage, keyPackageFacts } from '../src/gateway/mls-keypackage.js';
import { genuineKeyPackage, toB64 } from '../test/helpers/mls-keypackages.js';

const N = Number(process.argv[2] ?? 2000);
const events = await Promise.all(Array.from({ length: 64 }, async () => ({ content: toB64(await genuineKeyPackage()), tags: [['cs', '0x0001']] })));
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < 200; i++) await inspectKeyPackage(events[i % 64]!, now);

const cpu0 = process.cpuUsage();
let t0 = performance.now();
for (let i = 0; i < N; i++) {
  const r = await inspectKeyPackage(events[i % 64]!, now);
  if (typeof r === 'string') throw new Error(r);
}
const seqMs = performance.now() - t0;
const seqCpu = process.cpuUsage(cpu0);

const cpu1 = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
t0 = performance.now();
for (let i = 0; i < N; i += 64) await Promise.all(events.map((e) => inspectKeyPackage(e, now)));
const parMs = performance.now() - t0;
const parCpu = process.cpuUsage(cpu1);
const elu = performance.eventLoopUtilization(elu0);
const per = (ms: number) => ((ms * 1000) / N).toFixed(0);
console.log(
  JSON.stringify({
    count: N,
    sequential_us_per_kp: per(seqMs),
    sequential_cpu_us_per_kp: ((seqCpu.user + seqCpu.system) / N).toFixed(0),
    burst64_us_per_kp: per(parMs),
    burst64_cpu_us_per_kp: ((parCpu.user + parCpu.system) / N).toFixed(0),
    kp_per_second_burst: Math.round(N / (parMs / 1000)),
    // Main-thread busy time per KeyPackage in the burst (the rest runs on libuv's pool via WebCrypto).
    burst64_main_thread_us_per_kp: ((elu.active * 1000) / N).toFixed(0),
  }),
);

// Decoding alone (synchronous, always on the main thread).
const t2 = performance.now();
for (let i = 0; i < N; i++) keyPackageFacts(events[i % 64]!);
console.log(JSON.stringify({ decode_only_us_per_kp: (((performance.now() - t2) * 1000) / N).toFixed(0) }));
