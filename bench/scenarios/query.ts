/**
 * Query: a store of K events (20 authors × 4 kinds × 10 `t` values, created_at spread over
 * 30 days); then C connections issuing limit-50 REQs back-to-back (REQ → EOSE → CLOSE, one
 * REQ in flight per connection), rotating author+kind, #t, ids (20 a REQ) and since/until
 * (one hour, ~140 matches at 100k) filters: REQs/s, REQ→EOSE p50/p99 overall and per filter
 * type, relay CPU per REQ. In that closed loop the relay holds up to C REQs at once, so
 * REQ→EOSE includes waiting behind the other connections' REQs (p50 ≈ C / rate): a
 * throughput figure. Then COUNT latency and relay CPU for the common shapes, one at a time.
 * Then the same with ingest at INGEST_RATE ev/s: the closed loop switched on and off every
 * TOGGLE_MS while ingest runs throughout. The "off" windows give ingest's CPU per event
 * acknowledged, measured in the same seconds (a separate ingest-alone phase varied 245–462
 * µs per event between runs on this shared machine); the "on" windows' CPU minus that per
 * event acknowledged in them is what the REQs cost. Counting acknowledged events, not
 * seconds, matters: ingest falls behind while the loop runs and catches up when it pauses.
 * Then the latency target: one connection sending the same mix paced at
 * QUERY_RATE REQ/s (open loop, well under capacity); its p99 is held against < 10 ms.
 *
 * Baseline: the same connections issuing the cheapest REQ there is, {ids: [one id]}: the
 * fixed cost of a REQ (frame parse, subscription set-up and tear-down, EOSE) plus one index
 * probe and one event. mixed / trivial shows how much the index scans and the 50 events a
 * REQ returns add on top of that fixed cost. COUNTs are held against the same REQ sent the
 * same way (one at a time on one connection).
 *
 * How the store is filled (BENCH_QUERY_PRELOAD): `publish` sends pre-signed events over
 * WebSocket (~6k ev/s here, and the load itself is a figure); `import` writes the same
 * templates with correct ids and placeholder signatures to a temp JSONL file and loads it
 * with `mls-relay import --no-verify` before the relay starts (a million events in about a
 * minute, without minutes of signing). Default: publish up to 100k events, import above.
 *
 * Every REQ's event count and every COUNT is checked against counts computed from the
 * loaded set (50, or 20 for ids). The store is loaded on every run rather than cached as a
 * data directory: the storage layout is still changing (a stale directory could be opened
 * by a newer relay without complaint) and the ingest phase writes into it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { presigned, writeUnsigned, type EventSpec } from '../lib/events.js';
import { closeAll, countOnce, openMany, publish, reqToEose } from '../lib/load.js';
import { startBenchRelay, type BenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';
import { Latencies, sleep } from '../lib/stats.js';
import type { NostrEvent } from '../../src/protocol/types.js';

const EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 100_000);
const PRELOAD = process.env.BENCH_QUERY_PRELOAD ?? (EVENTS > 100_000 ? 'import' : 'publish');
if (PRELOAD !== 'import' && PRELOAD !== 'publish') throw new Error(`BENCH_QUERY_PRELOAD must be import or publish, not ${PRELOAD}`);
const AUTHORS = 20;
const KINDS = [1, 6, 7, 1111];
const TOPICS = 10;
const DAYS = 30;
const LIMIT = 50;
const ID_BATCH = 20;
/** Query connections; each keeps one REQ in flight (closed loop). */
const CONNECTIONS = 4;
const MEASURE_MS = 8_000;
const INGEST_RATE = 2_000;
const QUERY_RATE = Number(process.env.BENCH_QUERY_RATE ?? 100);
/** Ingest phases at INGEST_RATE: under the closed loop switched on and off, under the paced REQs. */
const INGEST_SECONDS = { toggled: 8, paced: 10 };
const INGEST_EVENTS = INGEST_RATE * (INGEST_SECONDS.toggled + INGEST_SECONDS.paced);
const TOGGLE_MS = 500;
/**
 * Each COUNT shape (and the REQ baseline) one at a time, after one warm-up, at least this
 * many times and for at least COUNT_MS: /proc counts CPU in 10 ms ticks, so a cheap shape
 * needs hundreds of repetitions for its CPU per COUNT to mean anything.
 */
const COUNT_REPS = 20;
const COUNT_MS = 500;

// Author, kind and topic vary at different strides, so every (author, kind) pair and every
// topic covers the whole 30 days (each pair has K/80 events, each topic K/10).
const storeEvents = (count: number): EventSpec => ({
  name: 'query-v1',
  count,
  keys: AUTHORS,
  template: (i, now) => ({
    kind: KINDS[Math.floor(i / AUTHORS) % KINDS.length]!,
    created_at: now - DAYS * 86400 + Math.floor((i * DAYS * 86400) / count),
    tags: [['t', `topic${Math.floor(i / (AUTHORS * KINDS.length)) % TOPICS}`]],
    content: `query bench event ${i} ${'x'.repeat(100)}`,
    signer: i % AUTHORS,
  }),
});

// Published during phase 2; other authors, current timestamps, the same topics.
const ingestEvents = (count: number): EventSpec => ({
  name: 'query-ingest-v1',
  count,
  keys: 16,
  template: (i, now) => ({
    kind: 1,
    created_at: now - 3600 + (i % 3600),
    tags: [['t', `topic${i % TOPICS}`]],
    content: `query bench ingest ${i} ${'x'.repeat(100)}`,
  }),
});

type Kind = 'author+kind' | '#t' | 'ids' | 'since/until';
interface Query {
  kind: Kind | 'trivial';
  filter: object;
  expect: number;
}

/** What the checks need of the loaded store, in typed arrays so a million events cost tens of MB, not GBs. */
class StoreFacts {
  readonly ids: Buffer;
  readonly times: Float64Array;
  readonly kinds: Uint16Array;
  readonly topics: Uint8Array;
  readonly authors: Uint8Array;
  readonly pubkeys: string[] = [];
  private readonly authorIndex = new Map<string, number>();
  readonly byPair = new Map<string, number>();
  readonly byTopic = new Map<string, number>();
  readonly byAuthor = new Map<string, number>();
  readonly byKind = new Map<number, number>();
  /** created_at of every event, ascending (filled by seal()). */
  sorted = new Float64Array(0);
  size = 0;

  constructor(readonly capacity: number) {
    this.ids = Buffer.alloc(32 * capacity);
    this.times = new Float64Array(capacity);
    this.kinds = new Uint16Array(capacity);
    this.topics = new Uint8Array(capacity);
    this.authors = new Uint8Array(capacity);
  }

  add(e: NostrEvent): void {
    const i = this.size++;
    this.ids.write(e.id, 32 * i, 'hex');
    this.times[i] = e.created_at;
    this.kinds[i] = e.kind;
    const t = e.tags[0]![1]!;
    this.topics[i] = Number(t.slice('topic'.length));
    let a = this.authorIndex.get(e.pubkey);
    if (a === undefined) {
      a = this.pubkeys.push(e.pubkey) - 1;
      this.authorIndex.set(e.pubkey, a);
    }
    this.authors[i] = a;
    const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
    bump(this.byPair, `${e.pubkey}:${e.kind}`);
    bump(this.byTopic, t);
    bump(this.byAuthor, e.pubkey);
    bump(this.byKind, e.kind);
  }

  seal(): this {
    this.sorted = this.times.slice(0, this.size).sort();
    return this;
  }

  id(i: number): string {
    return this.ids.toString('hex', 32 * i, 32 * i + 32);
  }

  /** Events with created_at in [since, until]. */
  inWindow(since: number, until: number): number {
    return this.lowerBound(until + 1) - this.lowerBound(since);
  }

  /** Events for which `pred(index)` holds (a linear pass: for the handful of COUNT shapes only). */
  where(pred: (i: number) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (pred(i)) n++;
    return n;
  }

  private lowerBound(x: number): number {
    const a = this.sorted;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Filters over the loaded store, each with the number of events it must return. Time
 * windows never overlap [avoid[0], avoid[1]], the created_at span of the events ingested
 * later (their cache may be days older or newer than the store), so ingest cannot change
 * a window's answer.
 */
function queryMaker(f: StoreFacts, avoid: [number, number]) {
  const pick = <T>(a: T[]) => a[Math.floor(Math.random() * a.length)]!;
  const anyId = () => f.id(Math.floor(Math.random() * f.size));
  const first = f.sorted[0]!;
  const last = f.sorted[f.size - 1]!;
  const types: Kind[] = ['author+kind', '#t', 'ids', 'since/until'];
  let n = 0;
  return {
    mixed(): Query {
      const kind = types[n++ % types.length]!;
      switch (kind) {
        case 'author+kind': {
          const [author, k] = [pick(f.pubkeys), pick(KINDS)];
          return { kind, filter: { authors: [author], kinds: [k], limit: LIMIT }, expect: Math.min(LIMIT, f.byPair.get(`${author}:${k}`) ?? 0) };
        }
        case '#t': {
          const t = `topic${Math.floor(Math.random() * TOPICS)}`;
          return { kind, filter: { '#t': [t], limit: LIMIT }, expect: Math.min(LIMIT, f.byTopic.get(t) ?? 0) };
        }
        case 'ids': {
          const ids = new Set<string>();
          while (ids.size < ID_BATCH) ids.add(anyId());
          return { kind, filter: { ids: [...ids], limit: LIMIT }, expect: ID_BATCH };
        }
        case 'since/until': {
          let since: number;
          do since = first + Math.floor(Math.random() * (last - first - 3600));
          while (since <= avoid[1] && since + 3600 >= avoid[0]);
          const until = since + 3600;
          return { kind, filter: { since, until, limit: LIMIT }, expect: Math.min(LIMIT, f.inWindow(since, until)) };
        }
      }
    },
    trivial(): Query {
      return { kind: 'trivial', filter: { ids: [anyId()] }, expect: 1 };
    },
  };
}

interface CountShape {
  name: string;
  filter: object;
  expect: number;
}

/** The COUNT shapes operators see most, with their exact answers; the last one no single index covers. */
function countShapes(f: StoreFacts): CountShape[] {
  const since = f.sorted[Math.floor(f.size / 2)]!;
  const author = f.pubkeys[0]!;
  const a0 = 0;
  return [
    { name: '{"kinds":[1]}', filter: { kinds: [1] }, expect: f.byKind.get(1) ?? 0 },
    { name: '{}', filter: {}, expect: f.size },
    { name: 'kinds+since (newer half)', filter: { kinds: [1], since }, expect: f.where((i) => f.kinds[i] === 1 && f.times[i]! >= since) },
    { name: '#t', filter: { '#t': ['topic3'] }, expect: f.byTopic.get('topic3') ?? 0 },
    { name: 'authors (one)', filter: { authors: [author] }, expect: f.where((i) => f.authors[i] === a0) },
    { name: 'kinds+#t (no one index)', filter: { kinds: [1], '#t': ['topic3'] }, expect: f.where((i) => f.kinds[i] === 1 && f.topics[i] === 3) },
  ];
}

/** Fills the store, by publishing (pre-signed events) or by importing before start (placeholder signatures); see the header. */
async function loadStore(nodeArgs: string[]): Promise<{ relay: BenchRelay; facts: StoreFacts; row: Row }> {
  const facts = new StoreFacts(EVENTS);
  const label = `store load (${EVENTS.toLocaleString('en-US')} events, ${PRELOAD}, not a target)`;
  if (PRELOAD === 'publish') {
    const { events } = await presigned(storeEvents(EVENTS));
    for (const e of events) facts.add(e);
    const relay = await startBenchRelay({ nodeArgs });
    try {
      const load = await publish(relay.url, events, { connections: 8, window: 64 });
      if (load.accepted !== events.length) throw new Error(`store load: ${load.accepted} of ${events.length} accepted (${JSON.stringify(load.rejected)})`);
      return { relay, facts: facts.seal(), row: { scenario: 'query', metric: label, value: load.accepted / (load.wallMs / 1000), unit: 'ev/s' } };
    } catch (err) {
      await relay.stop();
      throw err;
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'mls-relay-bench-import-'));
  try {
    const file = join(dir, 'store.jsonl');
    const t0 = performance.now();
    await writeUnsigned(storeEvents(EVENTS), file, (e) => facts.add(e));
    const genMs = performance.now() - t0;
    const relay = await startBenchRelay({ nodeArgs, importFile: file });
    const { ms, summary } = relay.imported!;
    if (summary !== `imported ${EVENTS}, duplicate 0, invalid 0`) {
      await relay.stop();
      throw new Error(`store import: ${summary}`);
    }
    const unit = `ev/s (import ${(ms / 1000).toFixed(1)} s, JSONL written in ${(genMs / 1000).toFixed(1)} s)`;
    return { relay, facts: facts.seal(), row: { scenario: 'query', metric: label, value: EVENTS / (ms / 1000), unit } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface LoopResult {
  reqs: number;
  wallMs: number;
  all: Latencies;
  byKind: Map<string, Latencies>;
  /** REQs whose event count differed from the expected one, e.g. "ids 20≠19". */
  wrong: string[];
  /** REQs answered with CLOSED instead of EOSE, with the reason. */
  closed: string[];
}

let loops = 0;

/** Every socket issues REQs back-to-back until `stop()` says so. Sub ids are unique (also across calls) so a late live event of an old subscription is never counted. */
async function loop(sockets: WebSocket[], next: () => Query, stop: () => boolean): Promise<LoopResult> {
  const run = loops++;
  const all = new Latencies();
  const byKind = new Map<string, Latencies>();
  const wrong: string[] = [];
  const closed: string[] = [];
  let reqs = 0;
  const t0 = performance.now();
  await Promise.all(
    sockets.map(async (ws, c) => {
      for (let i = 0; !stop(); i++) {
        const q = next();
        let r: { events: number; ms: number };
        try {
          r = await reqToEose(ws, `q${run}-${c}-${i}`, q.filter);
        } catch (err) {
          // CLOSED (e.g. "query timed out" past db_query_timeout): counted, not fatal.
          closed.push(`${q.kind}: ${(err as Error).message}`);
          continue;
        }
        reqs++;
        all.add(r.ms);
        if (!byKind.has(q.kind)) byKind.set(q.kind, new Latencies());
        byKind.get(q.kind)!.add(r.ms);
        if (r.events !== q.expect) wrong.push(`${q.kind} ${r.events}≠${q.expect}`);
      }
    }),
  );
  return { reqs, wallMs: performance.now() - t0, all, byKind, wrong, closed };
}

/** One socket, one REQ at a time, started on a fixed schedule of `rate` per second (a late one starts at once). */
async function paced(ws: WebSocket, next: () => Query, rate: number, stop: () => boolean): Promise<LoopResult> {
  const r: LoopResult = { reqs: 0, wallMs: 0, all: new Latencies(), byKind: new Map(), wrong: [], closed: [] };
  const t0 = performance.now();
  for (let i = 0; !stop(); i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const q = next();
    try {
      const got = await reqToEose(ws, `p${i}`, q.filter);
      r.reqs++;
      r.all.add(got.ms);
      if (got.events !== q.expect) r.wrong.push(`${q.kind} ${got.events}≠${q.expect}`);
    } catch (err) {
      r.closed.push(`${q.kind}: ${(err as Error).message}`);
    }
  }
  r.wallMs = performance.now() - t0;
  return r;
}

interface Toggled {
  on: LoopResult;
  /** Relay CPU (µs), wall time (ms) and events acknowledged in the windows with and without the closed loop. */
  onCpu: number;
  onMs: number;
  onEvents: number;
  offCpu: number;
  offMs: number;
  offEvents: number;
}

/** While `running()`: TOGGLE_MS of nothing (ingest alone), then TOGGLE_MS of the closed loop, and again. */
async function toggled(relay: BenchRelay, sockets: WebSocket[], next: () => Query, running: () => boolean, acked: () => number): Promise<Toggled> {
  const on: LoopResult = { reqs: 0, wallMs: 0, all: new Latencies(), byKind: new Map(), wrong: [], closed: [] };
  const t = { onCpu: 0, onMs: 0, onEvents: 0, offCpu: 0, offMs: 0, offEvents: 0 };
  while (running()) {
    let c0 = relay.cpuMicros();
    let t0 = performance.now();
    let e0 = acked();
    while (running() && performance.now() < t0 + TOGGLE_MS) await sleep(10);
    t.offCpu += relay.cpuMicros() - c0;
    t.offMs += performance.now() - t0;
    t.offEvents += acked() - e0;
    if (!running()) break;
    c0 = relay.cpuMicros();
    t0 = performance.now();
    e0 = acked();
    const end = t0 + TOGGLE_MS;
    const r = await loop(sockets, next, () => !running() || performance.now() >= end);
    t.onCpu += relay.cpuMicros() - c0;
    t.onMs += performance.now() - t0;
    t.onEvents += acked() - e0;
    on.reqs += r.reqs;
    on.wallMs += r.wallMs;
    on.all.addAll(r.all);
    on.wrong.push(...r.wrong);
    on.closed.push(...r.closed);
  }
  return { on, ...t };
}

const until = (ms: number) => {
  const end = performance.now() + ms;
  return () => performance.now() >= end;
};

/** Each shape COUNT_REPS times in a row on one socket: round trip percentiles and relay CPU per COUNT. */
async function counts(relay: BenchRelay, ws: WebSocket, facts: StoreFacts, q: ReturnType<typeof queryMaker>): Promise<Row[]> {
  const rows: Row[] = [];
  // The baseline: the trivial REQ, sent the same way.
  await reqToEose(ws, 'cw', q.trivial().filter);
  const base = new Latencies();
  let c0 = relay.cpuMicros();
  let end = performance.now() + COUNT_MS;
  for (let i = 0; i < COUNT_REPS || performance.now() < end; i++) base.add((await reqToEose(ws, `cb${i}`, q.trivial().filter)).ms);
  const baseCpu = (relay.cpuMicros() - c0) / base.count;
  const baseP50 = base.percentile(50);
  rows.push({ scenario: 'query', metric: `trivial REQ one at a time (COUNT baseline): p50 / p99, relay CPU each`, value: baseP50, unit: `/ ${base.percentile(99).toFixed(2)} ms; ${Math.round(baseCpu)} µs CPU` });
  const wrong: string[] = [];
  let approximate = 0;
  const shapes = countShapes(facts);
  let checked = 0;
  for (const shape of shapes) {
    const l = new Latencies();
    let approx = 0;
    let approxSum = 0;
    const check = (r: { count: number; approximate: boolean }) => {
      // An approximate count is a lower bound (NIP-45 lets the relay say so); an exact one must be exact.
      if (r.approximate ? r.count > shape.expect : r.count !== shape.expect) wrong.push(`${shape.name} ${r.count}${r.approximate ? '~' : ''}≠${shape.expect}`);
    };
    let closed = '';
    try {
      check(await countOnce(ws, 'cw', shape.filter));
      c0 = relay.cpuMicros();
      end = performance.now() + COUNT_MS;
      for (let i = 0; i < COUNT_REPS || performance.now() < end; i++) {
        const r = await countOnce(ws, `c${i}`, shape.filter);
        l.add(r.ms);
        if (r.approximate) {
          approx++;
          approxSum += r.count;
        }
        check(r);
      }
    } catch (err) {
      closed = (err as Error).message;
    }
    const cpu = (relay.cpuMicros() - c0) / l.count;
    checked += l.count + 1;
    approximate += approx;
    if (closed) {
      rows.push({ scenario: 'query', metric: `COUNT ${shape.name}: ${closed}`, value: 1, unit: 'CLOSED', target: 'answered', met: false });
      continue;
    }
    // How far a cut count got by the deadline: the share of the true answer it counted.
    const note = approx ? `, approximate ${approx} of ${l.count}, ${Math.round((100 * approxSum) / approx / shape.expect)}% counted` : '';
    rows.push({
      scenario: 'query',
      metric: `COUNT ${shape.name} (${shape.expect.toLocaleString('en-US')}${note}): p50 / p99, relay CPU each`,
      value: l.percentile(50),
      unit: `/ ${l.percentile(99).toFixed(2)} ms; ${Math.round(cpu).toLocaleString('en-US')} µs CPU`,
      baseline: { name: 'trivial REQ p50', value: baseP50 },
    });
  }
  rows.push({
    scenario: 'query',
    metric: `COUNTs with a wrong answer, of ${checked.toLocaleString('en-US')}${wrong.length ? ` (e.g. ${wrong.slice(0, 3).join(', ')})` : ''}${approximate ? `; ${approximate} approximate` : ''}`,
    value: wrong.length,
    unit: 'COUNTs',
    target: '0',
    met: wrong.length === 0,
  });
  return rows;
}

export const query: Scenario = {
  name: 'query',
  describe: `${EVENTS.toLocaleString('en-US')}-event store (${PRELOAD}); ${CONNECTIONS} connections × back-to-back limit-${LIMIT} REQs; COUNT shapes; then the same while ingesting ${INGEST_RATE.toLocaleString('en-US')} ev/s, and ${QUERY_RATE} REQ/s paced`,
  async run() {
    const { events: ingest } = await presigned(ingestEvents(INGEST_EVENTS));
    // BENCH_PROF=1: V8 CPU profiles of the relay (main thread and workers) in /tmp/prof-query.
    const nodeArgs = process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-query'] : [];
    const { relay, facts, row: loadRow } = await loadStore(nodeArgs);
    const rows: Row[] = [loadRow];
    let sockets: WebSocket[] = [];
    try {
      const span = ingest.reduce<[number, number]>(([lo, hi], e) => [Math.min(lo, e.created_at), Math.max(hi, e.created_at)], [Infinity, -Infinity]);
      const q = queryMaker(facts, span);
      sockets = await openMany(relay.url, CONNECTIONS);
      await loop(sockets, () => q.mixed(), until(1_000)); // warm-up: JIT, first touches of the index pages

      let c0 = relay.cpuMicros();
      const base = await loop(sockets, () => q.trivial(), until(MEASURE_MS / 2));
      const baseCpu = (relay.cpuMicros() - c0) / base.reqs;
      const baseRate = base.reqs / (base.wallMs / 1000);

      c0 = relay.cpuMicros();
      const mixed = await loop(sockets, () => q.mixed(), until(MEASURE_MS));
      const mixedCpu = (relay.cpuMicros() - c0) / mixed.reqs;
      const mixedRate = mixed.reqs / (mixed.wallMs / 1000);

      // COUNT before any ingest, so the expected answers are exact.
      const countRows = await counts(relay, sockets[0]!, facts, q);

      // Phase 2: ingest throughout; the closed loop on and off, then paced REQs.
      const ingestOpts = { connections: 4, window: 64, ratePerSec: INGEST_RATE };
      const cut = INGEST_SECONDS.toggled * INGEST_RATE;
      await sleep(200);
      let ingesting = true;
      let acked = 0;
      const toggledIngestRun = publish(relay.url, ingest.slice(0, cut), { ...ingestOpts, onAccepted: () => acked++ }).finally(() => (ingesting = false));
      const tg = await toggled(relay, sockets, () => q.mixed(), () => ingesting, () => acked);
      const busyIng = await toggledIngestRun;
      const busy = tg.on;
      const ingestCpu = tg.offCpu / tg.offEvents;
      const busyCpu = (tg.onCpu - ingestCpu * tg.onEvents) / busy.reqs;
      const busyRate = busy.reqs / (tg.onMs / 1000);

      ingesting = true;
      const ingestRun = publish(relay.url, ingest.slice(cut), ingestOpts).finally(() => (ingesting = false));
      const during = await paced(sockets[0]!, () => q.mixed(), QUERY_RATE, () => !ingesting);
      const ing = await ingestRun;

      const p = (l: Latencies) => ({ value: l.percentile(50), unit: `/ ${l.percentile(99).toFixed(2)} ms` });
      rows.push(
        { scenario: 'query', metric: 'REQs/s, mixed limit-50', value: mixedRate, unit: 'REQ/s', baseline: { name: 'trivial {ids:[1 id]}', value: baseRate } },
        { scenario: 'query', metric: 'REQ→EOSE p50 / p99, mixed', ...p(mixed.all) },
        ...[...mixed.byKind].map(([k, l]): Row => ({ scenario: 'query', metric: `REQ→EOSE p50 / p99, ${k}`, ...p(l) })),
        { scenario: 'query', metric: 'REQ→EOSE p50 / p99, trivial baseline', ...p(base.all) },
        { scenario: 'query', metric: 'relay CPU per REQ, mixed', value: mixedCpu, unit: 'µs', baseline: { name: 'trivial', value: baseCpu } },
        ...countRows,
        { scenario: 'query', metric: `relay CPU per ingested event at ${INGEST_RATE.toLocaleString('en-US')} ev/s, windows without REQs (${(tg.offMs / 1000).toFixed(1)} s, ${tg.offEvents.toLocaleString('en-US')} events)`, value: ingestCpu, unit: `µs (with REQs: ${tg.onEvents.toLocaleString('en-US')} events)` },
        { scenario: 'query', metric: 'REQs/s, mixed limit-50, while ingesting', value: busyRate, unit: 'REQ/s', baseline: { name: 'alone', value: mixedRate } },
        { scenario: 'query', metric: 'REQ→EOSE p50 / p99, mixed, while ingesting', ...p(busy.all) },
        { scenario: 'query', metric: `relay CPU per REQ, mixed, while ingesting (on windows' CPU minus ingest's per acknowledged event; ${(tg.onMs / 1000).toFixed(1)} s)`, value: busyCpu, unit: 'µs', baseline: { name: 'alone', value: mixedCpu } },
        {
          scenario: 'query',
          metric: `ingest accepted during the on/off closed loop (${INGEST_RATE.toLocaleString('en-US')} ev/s offered)`,
          value: busyIng.accepted / (busyIng.wallMs / 1000),
          unit: `ev/s, OK p99 ${busyIng.latency.percentile(99).toFixed(1)} ms`,
        },
        { scenario: 'query', metric: `REQ→EOSE p50 while ingesting, ${QUERY_RATE} REQ/s paced`, value: during.all.percentile(50), unit: 'ms' },
        {
          scenario: 'query',
          metric: `REQ→EOSE p99 while ingesting, ${QUERY_RATE} REQ/s paced (${during.reqs.toLocaleString('en-US')} REQs)`,
          value: during.all.percentile(99),
          unit: 'ms',
          target: '< 10 ms',
          met: during.all.percentile(99) < 10,
        },
        {
          scenario: 'query',
          metric: `ingest accepted during paced queries (${INGEST_RATE.toLocaleString('en-US')} ev/s offered)`,
          value: ing.accepted / (ing.wallMs / 1000),
          unit: `ev/s, OK p99 ${ing.latency.percentile(99).toFixed(1)} ms`,
        },
      );
      for (const r of [busyIng, ing]) {
        if (r.accepted !== r.sent) rows.push({ scenario: 'query', metric: `ingest not accepted: ${JSON.stringify(r.rejected)}`, value: r.sent - r.accepted, unit: 'events', target: '0', met: false });
      }
      const closed = [...base.closed, ...mixed.closed, ...busy.closed, ...during.closed];
      if (closed.length) rows.push({ scenario: 'query', metric: `REQs answered CLOSED, e.g. ${closed[0]}`, value: closed.length, unit: 'REQs', target: '0', met: false });
      const wrong = [...base.wrong, ...mixed.wrong, ...busy.wrong, ...during.wrong];
      const checked = base.reqs + mixed.reqs + busy.reqs + during.reqs;
      rows.push({
        scenario: 'query',
        metric: `REQs with a wrong event count, of ${checked.toLocaleString('en-US')}${wrong.length ? ` (e.g. ${wrong.slice(0, 3).join(', ')})` : ''}`,
        value: wrong.length,
        unit: 'REQs',
        target: '0',
        met: wrong.length === 0,
      });
    } finally {
      await closeAll(sockets);
      await relay.stop();
    }
    return rows;
  },
};
