/**
 * Signature verification throughput, every backend on the same signed events, then the
 * worker pool. Ratios are to @noble/curves measured in this same run, so they compare
 * across machines better than the absolute numbers. Not a test.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/verify.js [events=2000]
 */
import { createHash } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { sha256 } from '@noble/hashes/sha2.js';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { serializeForId } from '../src/protocol/event-validate.js';
import type { NostrEvent } from '../src/protocol/types.js';
import { BACKEND_NAMES, loadNamedBackend, type SchnorrBackend } from '../src/verify/backend.js';
import { checkEvent } from '../src/verify/check-event.js';
import { VerifyPool } from '../src/verify/pool.js';

const N = Number(process.argv[2] ?? 2000);
const MIN_MS = 1500;

function makeEvents(n: number): NostrEvent[] {
  const keys = Array.from({ length: 50 }, () => generateSecretKey());
  const out: NostrEvent[] = [];
  for (let i = 0; i < n; i++) {
    const ev = finalizeEvent(
      {
        kind: i % 10 === 0 ? 445 : 1,
        created_at: 1_700_000_000 + i,
        tags: [['e', 'a'.repeat(64)], ['p', 'b'.repeat(64)], ['t', 'bench']],
        content: `event ${i} `.padEnd(200, 'x') + ' ✓ "quoted"\n',
      },
      keys[i % keys.length]!,
    );
    out.push(JSON.parse(JSON.stringify(ev)) as NostrEvent);
  }
  return out;
}

/** Runs `fn` over all items, repeating whole passes until MIN_MS has elapsed; returns items/s. */
function rate<T>(items: T[], fn: (x: T) => unknown): number {
  for (let i = 0; i < Math.min(100, items.length); i++) fn(items[i]!); // warm-up
  let n = 0;
  const t0 = performance.now();
  do {
    for (const x of items) fn(x);
    n += items.length;
  } while (performance.now() - t0 < MIN_MS);
  return n / ((performance.now() - t0) / 1000);
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(9);

async function poolRate(events: NostrEvent[], threads: number): Promise<{ rate: number; backend: string; avgBatch: number }> {
  const pool = await VerifyPool.create({ threads });
  await Promise.all(events.slice(0, 200).map((e) => pool.verify(e))); // warm-up: JIT in every worker
  const passes = 5;
  const b0 = pool.stats.batches;
  const t0 = performance.now();
  const all: Promise<number>[] = [];
  for (let p = 0; p < passes; p++) for (const e of events) all.push(pool.verify(e));
  const results = await Promise.all(all);
  const secs = (performance.now() - t0) / 1000;
  const batches = pool.stats.batches - b0;
  await pool.close();
  if (results.some((r) => r !== 0)) throw new Error('pool rejected a valid event');
  return { rate: results.length / secs, backend: pool.backendName, avgBatch: results.length / batches };
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? '?'}, availableParallelism ${availableParallelism()}`);
  console.log(`signing ${N} events with nostr-tools...`);
  const events = makeEvents(N);
  const raw = events.map((e) => ({ sig: Buffer.from(e.sig, 'hex'), msg: Buffer.from(e.id, 'hex'), pub: Buffer.from(e.pubkey, 'hex') }));

  const enc = new TextEncoder();
  console.log('\nid hash (serialize + sha256), one core:');
  const hNode = rate(events, (e) => createHash('sha256').update(serializeForId(e), 'utf8').digest());
  const hNoble = rate(events, (e) => sha256(enc.encode(serializeForId(e))));
  console.log(`  node:crypto      ${fmt(hNode)} /s  (${(hNode / hNoble).toFixed(2)}x @noble/hashes)`);
  console.log(`  @noble/hashes    ${fmt(hNoble)} /s`);

  const backends: SchnorrBackend[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      backends.push(await loadNamedBackend(name));
    } catch (err) {
      console.log(`  (${name} unavailable: ${(err as Error).message})`);
    }
  }
  const sigRates = new Map<string, number>();
  const fullRates = new Map<string, number>();
  for (const b of backends) {
    if (!raw.every((r) => b.verify(r.sig, r.msg, r.pub))) throw new Error(`${b.name} rejected a valid signature`);
    sigRates.set(b.name, rate(raw, (r) => b.verify(r.sig, r.msg, r.pub)));
    fullRates.set(b.name, rate(events, (e) => checkEvent(b, e)));
  }
  const noble = sigRates.get('noble');
  const nobleFull = fullRates.get('noble');
  console.log('\nsingle thread, in process:      signature only          full check (hex decode + id hash + signature)');
  for (const b of backends) {
    const s = sigRates.get(b.name)!;
    const f = fullRates.get(b.name)!;
    const rs = noble ? `${(s / noble).toFixed(1)}x noble` : '';
    const rf = nobleFull ? `${(f / nobleFull).toFixed(1)}x noble` : '';
    console.log(`  ${b.name.padEnd(8)} ${fmt(s)} verifies/s ${rs.padStart(11)}    ${fmt(f)} events/s ${rf.padStart(11)}`);
  }

  console.log('\nVerifyPool (Piscina workers, batched), full check:');
  const best = backends[0] ? fullRates.get(backends[0].name)! : 0;
  const threadCounts = [...new Set([Math.max(1, availableParallelism() - 1), availableParallelism()])];
  for (const threads of threadCounts) {
    const r = await poolRate(events, threads);
    console.log(
      `  ${threads} thread(s), ${r.backend.padEnd(8)} ${fmt(r.rate)} events/s  (${(r.rate / best).toFixed(2)}x in-process single thread, avg batch ${r.avgBatch.toFixed(0)})`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
