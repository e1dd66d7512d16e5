/**
 * Query: a store of K events (20 authors × 4 kinds × 10 `t` values, created_at spread over
 * 30 days) loaded by publishing pre-signed events; then C connections issuing limit-50 REQs
 * back-to-back (REQ → EOSE → CLOSE, one REQ in flight per connection), rotating author+kind,
 * #t, ids (20 a REQ) and since/until (one hour, ~140 matches) filters: REQs/s, REQ→EOSE
 * p50/p99 overall and per filter type, relay CPU per REQ. In that closed loop the relay
 * holds up to C REQs at once, so REQ→EOSE includes waiting behind the other connections'
 * REQs (p50 ≈ C / rate): a throughput figure. The latency target is measured apart: one
 * connection sending the same mix paced at QUERY_RATE REQ/s (open loop, well under
 * capacity) while other pre-signed events are published paced at INGEST_RATE ev/s; its
 * p99 is held against < 10 ms.
 *
 * Baseline: the same connections issuing the cheapest REQ there is, {ids: [one id]}: the
 * fixed cost of a REQ (frame parse, subscription set-up and tear-down, EOSE) plus one index
 * probe and one event. mixed / trivial shows how much the index scans and the 50 events a
 * REQ returns add on top of that fixed cost.
 *
 * Every REQ's event count is checked against counts computed from the loaded set (50, or 20
 * for ids). The store is loaded on every run rather than cached as a data directory: the
 * storage layout is still changing (a stale directory could be opened by a newer relay
 * without complaint) and the ingest phase writes into it; loading costs ~20 s.
 */
import type { WebSocket } from 'ws';
import { presigned, type EventSpec } from '../lib/events.js';
import { closeAll, openMany, publish, reqToEose } from '../lib/load.js';
import { startBenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';
import { Latencies, sleep } from '../lib/stats.js';
import type { NostrEvent } from '../../src/protocol/types.js';

const EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 100_000);
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
const INGEST_EVENTS = INGEST_RATE * 10;

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

/** Filters over the loaded store, each with the number of events it must return. */
function queryMaker(events: NostrEvent[]) {
  const byPair = new Map<string, number>();
  const byTopic = new Map<string, number>();
  for (const e of events) {
    byPair.set(`${e.pubkey}:${e.kind}`, (byPair.get(`${e.pubkey}:${e.kind}`) ?? 0) + 1);
    const t = e.tags[0]![1]!;
    byTopic.set(t, (byTopic.get(t) ?? 0) + 1);
  }
  const times = events.map((e) => e.created_at).sort((a, b) => a - b);
  const lowerBound = (x: number) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const pubkeys = [...new Set(events.map((e) => e.pubkey))];
  const pick = <T>(a: T[]) => a[Math.floor(Math.random() * a.length)]!;
  const types: Kind[] = ['author+kind', '#t', 'ids', 'since/until'];
  let n = 0;
  return {
    mixed(): Query {
      const kind = types[n++ % types.length]!;
      switch (kind) {
        case 'author+kind': {
          const [author, k] = [pick(pubkeys), pick(KINDS)];
          return { kind, filter: { authors: [author], kinds: [k], limit: LIMIT }, expect: Math.min(LIMIT, byPair.get(`${author}:${k}`) ?? 0) };
        }
        case '#t': {
          const t = `topic${Math.floor(Math.random() * TOPICS)}`;
          return { kind, filter: { '#t': [t], limit: LIMIT }, expect: Math.min(LIMIT, byTopic.get(t) ?? 0) };
        }
        case 'ids': {
          const ids = new Set<string>();
          while (ids.size < ID_BATCH) ids.add(pick(events).id);
          return { kind, filter: { ids: [...ids], limit: LIMIT }, expect: ID_BATCH };
        }
        case 'since/until': {
          const since = times[0]! + Math.floor(Math.random() * (times[times.length - 1]! - times[0]! - 3600));
          const until = since + 3600;
          return { kind, filter: { since, until, limit: LIMIT }, expect: Math.min(LIMIT, lowerBound(until + 1) - lowerBound(since)) };
        }
      }
    },
    trivial(): Query {
      return { kind: 'trivial', filter: { ids: [pick(events).id] }, expect: 1 };
    },
  };
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

/** Every socket issues REQs back-to-back until `stop()` says so. Sub ids are unique so a late live event of an old subscription is never counted. */
async function loop(sockets: WebSocket[], next: () => Query, stop: () => boolean): Promise<LoopResult> {
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
          r = await reqToEose(ws, `q${c}-${i}`, q.filter);
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

const until = (ms: number) => {
  const end = performance.now() + ms;
  return () => performance.now() >= end;
};

export const query: Scenario = {
  name: 'query',
  describe: `${EVENTS.toLocaleString('en-US')}-event store; ${CONNECTIONS} connections × back-to-back limit-${LIMIT} REQs; then ${QUERY_RATE} REQ/s paced while ingesting ${INGEST_RATE.toLocaleString('en-US')} ev/s`,
  async run() {
    const { events } = await presigned(storeEvents(EVENTS));
    const { events: ingest } = await presigned(ingestEvents(INGEST_EVENTS));
    const rows: Row[] = [];
    // BENCH_PROF=1: V8 CPU profiles of the relay (main thread and workers) in /tmp/prof-query.
    const relay = await startBenchRelay(process.env.BENCH_PROF ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-query'] } : {});
    let sockets: WebSocket[] = [];
    try {
      const load = await publish(relay.url, events, { connections: 8, window: 64 });
      if (load.accepted !== events.length) throw new Error(`store load: ${load.accepted} of ${events.length} accepted (${JSON.stringify(load.rejected)})`);
      rows.push({ scenario: 'query', metric: `store load (${EVENTS.toLocaleString('en-US')} events, not a target)`, value: load.accepted / (load.wallMs / 1000), unit: 'ev/s' });

      const q = queryMaker(events);
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

      // Phase 2: the same mix while the relay ingests; queries stop when the ingest is done.
      await sleep(200);
      let ingesting = true;
      const ingestRun = publish(relay.url, ingest, { connections: 4, window: 64, ratePerSec: INGEST_RATE }).finally(() => (ingesting = false));
      const during = await paced(sockets[0]!, () => q.mixed(), QUERY_RATE, () => !ingesting);
      const ing = await ingestRun;

      const p = (l: Latencies) => ({ value: l.percentile(50), unit: `/ ${l.percentile(99).toFixed(2)} ms` });
      rows.push(
        { scenario: 'query', metric: 'REQs/s, mixed limit-50', value: mixedRate, unit: 'REQ/s', baseline: { name: 'trivial {ids:[1 id]}', value: baseRate } },
        { scenario: 'query', metric: 'REQ→EOSE p50 / p99, mixed', ...p(mixed.all) },
        ...[...mixed.byKind].map(([k, l]): Row => ({ scenario: 'query', metric: `REQ→EOSE p50 / p99, ${k}`, ...p(l) })),
        { scenario: 'query', metric: 'REQ→EOSE p50 / p99, trivial baseline', ...p(base.all) },
        { scenario: 'query', metric: 'relay CPU per REQ, mixed', value: mixedCpu, unit: 'µs', baseline: { name: 'trivial', value: baseCpu } },
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
          metric: `ingest accepted during queries (${INGEST_RATE.toLocaleString('en-US')} ev/s offered)`,
          value: ing.accepted / (ing.wallMs / 1000),
          unit: `ev/s, OK p99 ${ing.latency.percentile(99).toFixed(1)} ms`,
        },
      );
      if (ing.accepted !== ing.sent) rows.push({ scenario: 'query', metric: `ingest not accepted: ${JSON.stringify(ing.rejected)}`, value: ing.sent - ing.accepted, unit: 'events', target: '0', met: false });
      const closed = [...base.closed, ...mixed.closed, ...during.closed];
      if (closed.length) rows.push({ scenario: 'query', metric: `REQs answered CLOSED, e.g. ${closed[0]}`, value: closed.length, unit: 'REQs', target: '0', met: false });
      const wrong = [...base.wrong, ...mixed.wrong, ...during.wrong];
      const checked = base.reqs + mixed.reqs + during.reqs;
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
