/**
 * `npm run bench:compare`: the same ingest, query and fan-out workloads against our relay
 * (startBenchRelay, default verify pool) and a peer assembled from npm
 * (bench/peer/nostr-relay-core.ts: @nostr-relay/core + validator, in-memory storage),
 * one after the other on this machine; prints ours, peer and ours/peer. Relay CPU per
 * unit of work comes from /proc (steadier than rates on a shared machine).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { NostrEvent } from '../src/protocol/types.js';
import { presigned, type EventSpec } from './lib/events.js';
import { closeAll, openMany, publish, reqToEose } from './lib/load.js';
import { ROOT } from './lib/paths.js';
import { cpuMicros } from './lib/proc.js';
import { startBenchRelay } from './lib/relay.js';
import { machine, renderTable, type Row } from './lib/report.js';
import { Latencies, sleep } from './lib/stats.js';
import { ingestEvents } from './scenarios/ingest.js';

// Sized for the peer, which verifies on one thread in pure JS (a few hundred to ~1,000 ev/s here).
const EVENTS = Number(process.env.BENCH_COMPARE_EVENTS ?? 3_000);
const QUERIES = Number(process.env.BENCH_COMPARE_QUERIES ?? 1_000);
const SUBS = Number(process.env.BENCH_COMPARE_SUBS ?? 200);
const FANOUT_EVENTS = Number(process.env.BENCH_COMPARE_FANOUT_EVENTS ?? 200);
const PEER_PACKAGES = ['@nostr-relay/core', '@nostr-relay/common', '@nostr-relay/validator'];

interface Target {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

interface Figures {
  ingestRate: number;
  ingestCpu: number;
  ingestP50: number;
  ingestP99: number;
  notAccepted: number;
  queryRate: number;
  queryCpu: number;
  queryP50: number;
  queryP99: number;
  queryEvents: number;
  fanoutRate: number;
  fanoutCpu: number;
  missed: number;
}

async function startPeer(): Promise<Target> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/peer/nostr-relay-core.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((ok, fail) => {
    child.stdout!.once('data', (d: Buffer) => ok(Number(d.toString().trim())));
    void exited.then(() => fail(new Error('peer exited before listening')));
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Q REQs to EOSE, 8 connections each running its share in sequence; filters all differ (the peer caches results per filter for 1 s). */
async function queries(url: string, stored: NostrEvent[]) {
  const sockets = await openMany(url, 8);
  try {
    const lat = new Latencies();
    let events = 0;
    const t0 = performance.now();
    await Promise.all(
      sockets.map(async (ws, c) => {
        for (let q = c; q < QUERIES; q += sockets.length) {
          const filter = { kinds: [1], '#t': [`topic${q % 20}`], until: stored[(q * 7919) % stored.length]!.created_at, limit: 50 };
          const r = await reqToEose(ws, `q${q}`, filter);
          lat.add(r.ms);
          events += r.events;
        }
      }),
    );
    return { rate: QUERIES / ((performance.now() - t0) / 1000), lat, events };
  } finally {
    await closeAll(sockets);
  }
}

/** SUBS live subscriptions, then FANOUT_EVENTS matching events from 2 publishers; deliveries/s from first send to last receipt. */
async function fanout(url: string, events: NostrEvent[]) {
  const subs: WebSocket[] = await openMany(url, SUBS);
  try {
    let received = 0;
    let last = 0;
    await Promise.all(
      subs.map(
        (ws) =>
          new Promise<void>((ok) => {
            ws.on('message', (d: Buffer) => {
              const s = d.toString();
              if (s.startsWith('["EVENT","f"')) {
                received++;
                last = performance.now();
              } else if (s.startsWith('["EOSE","f"')) ok();
            });
            ws.send(JSON.stringify(['REQ', 'f', { kinds: [1], '#t': ['cmp-fanout'], limit: 0 }]));
          }),
      ),
    );
    const want = SUBS * events.length;
    const t0 = performance.now();
    await publish(url, events, { connections: 2, window: 8 });
    // Fan-out may trail the OKs; wait for every delivery or 5 s without progress.
    while (received < want && performance.now() - Math.max(last, t0) < 5_000) await sleep(20);
    return { rate: received > 0 ? received / ((last - t0) / 1000) : 0, received, missed: want - received };
  } finally {
    await closeAll(subs);
  }
}

async function measure(t: Target, warm: NostrEvent[], events: NostrEvent[], fan: NostrEvent[]): Promise<Figures> {
  const cpu = () => cpuMicros(t.pid);
  await publish(t.url, warm, { connections: 8, window: 64 });
  let c0 = cpu();
  const ing = await publish(t.url, events, { connections: 8, window: 64 });
  const ingestCpu = (cpu() - c0) / Math.max(1, ing.accepted);
  c0 = cpu();
  const q = await queries(t.url, events);
  const queryCpu = (cpu() - c0) / QUERIES;
  c0 = cpu();
  const f = await fanout(t.url, fan);
  const fanoutCpu = (cpu() - c0) / Math.max(1, f.received);
  return {
    ingestRate: ing.accepted / (ing.wallMs / 1000),
    ingestCpu,
    ingestP50: ing.latency.percentile(50),
    ingestP99: ing.latency.percentile(99),
    notAccepted: ing.sent - ing.accepted,
    queryRate: q.rate,
    queryCpu,
    queryP50: q.lat.percentile(50),
    queryP99: q.lat.percentile(99),
    queryEvents: q.events,
    fanoutRate: f.rate,
    fanoutCpu,
    missed: f.missed,
  };
}

function peerMissing(): string | undefined {
  const req = createRequire(import.meta.url);
  const missing = PEER_PACKAGES.filter((p) => {
    try {
      req.resolve(p);
      return false;
    } catch {
      return true;
    }
  });
  return missing.length ? missing.join(', ') : undefined;
}

const missing = peerMissing();
if (missing) {
  // Not a failure: the comparison is optional and the peer only comes from devDependencies.
  console.log(`bench:compare: no peer relay available (${missing} not installed; run npm ci with dev dependencies). Nothing compared.`);
  process.exit(0);
}

const m = machine();
console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, node ${m.node}`);
const fanoutSpec: EventSpec = {
  name: 'compare-fanout-v1',
  count: FANOUT_EVENTS,
  template: (i, now) => ({ kind: 1, created_at: now - 60, tags: [['t', 'cmp-fanout']], content: `fanout ${i} ${'x'.repeat(120)}` }),
};
const [{ events }, { events: warm }, { events: fan }] = await Promise.all([
  presigned(ingestEvents('compare-ingest-v1', EVENTS)),
  presigned(ingestEvents('compare-warm-v1', 500)),
  presigned(fanoutSpec),
]);

const peerVersion = (createRequire(import.meta.url)('@nostr-relay/core/package.json') as { version: string }).version;
const run = async (name: string, start: () => Promise<Target>) => {
  const t0 = performance.now();
  const t = await start();
  try {
    return await measure(t, warm, events, fan);
  } finally {
    await t.stop();
    console.log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
};
const ours = await run('ours', async () => {
  const r = await startBenchRelay();
  const info = (await (await fetch(r.httpUrl, { headers: { accept: 'application/nostr+json' } })).json()) as { software_details?: { verify_backend?: string } };
  console.log(`ours: verify backend ${info.software_details?.verify_backend ?? '?'}, default verify pool, LMDB (durable before OK)`);
  return { url: r.url, pid: r.pid, stop: () => r.stop() };
});
console.log(`peer: @nostr-relay/core ${peerVersion} + validator, ws, in-memory repository; verify: @noble/curves 1.x schnorr (JS, main thread)`);
const peer = await run('peer', startPeer);

const row = (metric: string, unit: string, pick: (f: Figures) => number, target?: string): Row => ({
  scenario: 'compare',
  metric,
  value: pick(ours),
  unit,
  baseline: { name: 'peer', value: pick(peer) },
  // The only targets are zero counts (nothing lost), for both servers.
  ...(target ? { target, met: pick(ours) === 0 && pick(peer) === 0 } : {}),
});
const rows: Row[] = [
  row(`ingest ${EVENTS.toLocaleString('en-US')} events, 8 conn × 64: accepted/s`, 'ev/s', (f) => f.ingestRate),
  row('ingest: relay CPU per event', 'µs', (f) => f.ingestCpu),
  row('ingest: OK p50', 'ms', (f) => f.ingestP50),
  row('ingest: OK p99', 'ms', (f) => f.ingestP99),
  row('ingest: not accepted', 'events', (f) => f.notAccepted, '0'),
  row(`query ${QUERIES.toLocaleString('en-US')} REQs (kind+#t+until, limit 50), 8 conn: REQ/s`, 'req/s', (f) => f.queryRate),
  row('query: relay CPU per REQ', 'µs', (f) => f.queryCpu),
  row('query: REQ→EOSE p50', 'ms', (f) => f.queryP50),
  row('query: REQ→EOSE p99', 'ms', (f) => f.queryP99),
  row('query: events returned (should match)', 'events', (f) => f.queryEvents),
  row(`fan-out ${SUBS} subs × ${FANOUT_EVENTS} events: deliveries/s`, 'del/s', (f) => f.fanoutRate),
  row('fan-out: relay CPU per delivery', 'µs', (f) => f.fanoutCpu),
  row('fan-out: missed deliveries', 'del', (f) => f.missed, '0'),
];
console.log(`\n== ours vs peer (ratio = ours / peer; for CPU and latency lower is better)\n${renderTable(rows)}`);
