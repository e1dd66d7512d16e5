/**
 * Live fan-out matching: the SubscriptionIndex against a naive scan of every subscription, measured
 * in the same run, and the MatchPool round trip (worker thread). Not a test; prints figures.
 *   node dist/bench/match.js [subscriptions=10000] [events=20000]
 */
import { performance } from 'node:perf_hooks';
import type { Filter, NostrEvent } from '../src/protocol/types.js';
import { matchFilters } from '../src/protocol/filter-match.js';
import { SubscriptionIndex } from '../src/match/sub-index.js';
import { MatchPool } from '../src/match/match-pool.js';

const SUBS = Number(process.argv[2] ?? 10_000);
const EVENTS = Number(process.argv[3] ?? 20_000);

let seed = 0x5eed;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n: number) => Math.floor(rnd() * n);
const hex = (n: number, p: string) => (p + n.toString(16)).padStart(64, '0');
const PUBKEYS = Array.from({ length: 5000 }, (_, i) => hex(i, 'a'));
const GROUPS = Array.from({ length: 1000 }, (_, i) => hex(i, 'b'));
const KINDS = [1, 7, 1059, 445, 443, 10051, 30023, 3, 0, 5];
const now = 1_700_000_000;

/** Shapes a relay sees: follow feeds, DMs/gift wraps to me (#p), MLS groups (#h), kind watchers, firehoses. */
function subscription(): Filter[] {
  const r = rnd();
  if (r < 0.4) return [{ authors: Array.from({ length: 1 + int(50) }, () => PUBKEYS[int(PUBKEYS.length)]!), kinds: [1, 7] }];
  // Kind watchers are few but each matches a tenth of all events: they dominate the output.
  if (r < 0.45) return [{ kinds: [KINDS[int(KINDS.length)]!], since: now - int(1000) }];
  if (r < 0.7) return [{ kinds: [1059], tags: { p: [PUBKEYS[int(PUBKEYS.length)]!] } }];
  if (r < 0.9995) return [{ kinds: [445], tags: { h: [GROUPS[int(GROUPS.length)]!] } }, { kinds: [10051], authors: [PUBKEYS[int(PUBKEYS.length)]!] }];
  return [{ since: now }]; // a firehose: a handful only
}

function event(i: number): NostrEvent {
  const kind = KINDS[int(KINDS.length)]!;
  const tags: string[][] = [];
  if (kind === 445) tags.push(['h', GROUPS[int(GROUPS.length)]!]);
  else if (kind === 1059) tags.push(['p', PUBKEYS[int(PUBKEYS.length)]!]);
  else for (let t = int(4); t > 0; t--) tags.push(['p', PUBKEYS[int(PUBKEYS.length)]!, 'wss://r.example']);
  return {
    id: hex(i, 'e'),
    pubkey: PUBKEYS[int(PUBKEYS.length)]!,
    created_at: now + int(100),
    kind,
    tags,
    content: 'c'.repeat(200 + int(2000)),
    sig: '0'.repeat(128),
  };
}

const subs: Array<[number, string, Filter[]]> = [];
for (let i = 0; i < SUBS; i++) subs.push([1 + (i % 2000), `s${i}`, subscription()]);
const events = Array.from({ length: EVENTS }, (_, i) => event(i));

const index = new SubscriptionIndex();
let t0 = performance.now();
for (const [c, s, f] of subs) index.add(c, s, f);
const addMs = performance.now() - t0;

function timeIndex(evs: NostrEvent[]): { rate: number; matches: number } {
  let matches = 0;
  const t = performance.now();
  for (const e of evs) matches += index.match(e).length;
  return { rate: evs.length / ((performance.now() - t) / 1000), matches };
}
function timeNaive(evs: NostrEvent[]): { rate: number; matches: number } {
  let matches = 0;
  const t = performance.now();
  for (const e of evs) for (const [, , f] of subs) if (matchFilters(f, e)) matches++;
  return { rate: evs.length / ((performance.now() - t) / 1000), matches };
}

timeIndex(events.slice(0, 2000)); // warm-up, so both sides run optimised code
timeNaive(events.slice(0, 200));
const idx = timeIndex(events);
// The naive scan costs SUBS checks per event; a tenth of the events gives a stable rate.
const naiveEvents = events.slice(0, Math.max(1, Math.floor(EVENTS / 10)));
const naive = timeNaive(naiveEvents);
const idxSame = timeIndex(naiveEvents);
if (idxSame.matches !== naive.matches) throw new Error(`index ${idxSame.matches} ≠ naive ${naive.matches} matches`);

console.log(`subscriptions ${SUBS} (indexed in ${addMs.toFixed(1)} ms), events ${EVENTS}, matches ${idx.matches} (${(idx.matches / EVENTS).toFixed(2)}/event)`);
console.log(`index stats ${JSON.stringify(index.stats())}`);
console.log(`in-process index : ${Math.round(idx.rate).toLocaleString('en')} events/s`);
console.log(`naive scan       : ${Math.round(naive.rate).toLocaleString('en')} events/s (${naiveEvents.length} events, same matches as the index)`);
console.log(`ratio            : ${(idx.rate / naive.rate).toFixed(1)}x`);

const pool = await MatchPool.create();
for (const [c, s, f] of subs) pool.add(c, s, f);
await pool.match(events.slice(0, 2000)); // the adds are applied and the thread is warm
const tasksBefore = pool.stats().tasks;

// Many callers at once (the writer committing batches while fan-out is pending): they coalesce.
// Event-loop utilisation says how much of the main thread the pool still costs (stripping,
// cloning events out, decoding answers), which is what the worker is there to save.
let elu = performance.eventLoopUtilization();
t0 = performance.now();
const perCall = 10;
const calls: Array<Promise<unknown>> = [];
for (let i = 0; i < EVENTS; i += perCall) calls.push(pool.match(events.slice(i, i + perCall)));
await Promise.all(calls);
const burstMs = performance.now() - t0;
const burstTasks = pool.stats().tasks - tasksBefore;
const burstElu = performance.eventLoopUtilization(elu).utilization;

// One caller awaiting each batch of 100 (the round trip with no coalescing help).
const lat: number[] = [];
elu = performance.eventLoopUtilization();
t0 = performance.now();
for (let i = 0; i < EVENTS; i += 100) {
  const t = performance.now();
  await pool.match(events.slice(i, i + 100));
  lat.push(performance.now() - t);
}
const seqMs = performance.now() - t0;
const seqElu = performance.eventLoopUtilization(elu).utilization;
lat.sort((a, b) => a - b);
const st = pool.stats();
await pool.close();

console.log(
  `MatchPool burst  : ${Math.round(EVENTS / (burstMs / 1000)).toLocaleString('en')} events/s ` +
    `(${EVENTS / perCall} calls of ${perCall} events, coalesced into ${burstTasks} tasks, max ${st.maxTaskEvents} events/task; main thread busy ${(burstElu * 100).toFixed(0)}%)`,
);
console.log(
  `MatchPool serial : ${Math.round(EVENTS / (seqMs / 1000)).toLocaleString('en')} events/s ` +
    `(awaited calls of 100 events, round trip p50 ${lat[lat.length >> 1]!.toFixed(2)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(2)} ms; main thread busy ${(seqElu * 100).toFixed(0)}%)`,
);
