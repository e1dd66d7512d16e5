/**
 * Cluster mode (src/cluster/) on a real 3-node NATS JetStream cluster on loopback, started
 * here and stopped at the end. Everything runs in one process tree on one machine: the NATS
 * servers, every relay and this client share its cores, so the figures say what the log
 * costs here, not what a cluster of machines does.
 *
 * 1. Ingest (C connections × window W per instance, unique pre-signed events): one instance
 *    without the log (the baseline), one instance with the log (replicas 3), three instances
 *    sharing the log with the events split over them (the sum). CPU of relays, NATS and client.
 * 2. Delivery latency at a fixed moderate rate, on the three instances: publish on A, one
 *    subscriber on A (same instance) and one on B (cross-instance), both timed from the same
 *    send; and the same on one instance without the log, for what the log adds.
 * 3. Time to /ready 200 for a new instance with an empty data directory, with E events in the
 *    log: the log alone (no snapshot exists), then after a snapshot covers them (restored)
 *    plus a tail of 5 % more in the log. An empty log first, as the floor (process start).
 *
 * Env: BENCH_CLUSTER_EVENTS (events in the log for 3, default 100,000), BENCH_CLUSTER_INGEST_EVENTS
 * (default 20,000), BENCH_CLUSTER_RATE (latency round, ev/s, default 200), BENCH_CLUSTER_LAT_EVENTS
 * (default 10 s worth). Needs nats-server (apt-get install nats-server, or NATS_SERVER_BIN).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { NostrEvent } from '../../src/protocol/types.js';
import { startNatsCluster, natsAvailable, NATS_SKIP_MESSAGE, type NatsCluster } from '../../test/helpers/nats-cluster.js';
import { freePort } from '../../test/helpers/relay-process.js';
import { presigned, type EventSpec } from '../lib/events.js';
import { closeAll, open, publish, type PublishResult } from '../lib/load.js';
import { cpuMicros } from '../lib/proc.js';
import { startBenchRelay, type BenchRelay, type ConfigPatch } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';
import { Latencies, sleep } from '../lib/stats.js';
import { Receipts, subscribeAll } from '../lib/subscribers.js';
import { ingestEvents } from './ingest.js';

const LOG_EVENTS = Number(process.env.BENCH_CLUSTER_EVENTS ?? 100_000);
const INGEST_EVENTS = Number(process.env.BENCH_CLUSTER_INGEST_EVENTS ?? 20_000);
const RATE = Number(process.env.BENCH_CLUSTER_RATE ?? 200);
const LAT_EVENTS = Number(process.env.BENCH_CLUSTER_LAT_EVENTS ?? RATE * 10);
/** Events appended after the snapshot, replayed from the log by the restoring instance. */
const TAIL = Math.max(1, Math.round(LOG_EVENTS * 0.05));
const CONNECTIONS = 8;
const WINDOW = 64;
/** Loading chunk; the loader restarts between chunks before its first snapshot check (60 s after ready) could fire. */
const LOAD_CHUNK = 10_000;
/** Restart the loader when its uptime after the next chunk (estimated from the last one, with margin) would pass this. */
const LOADER_MAX_UPTIME_MS = 50_000;
const READY_TIMEOUT_MS = 240_000;
const IDLE_MS = 5_000;
const S = 'cluster';

const latencyEvents = (name: string, count: number): EventSpec => ({
  name,
  count,
  template: (i, now) => ({ kind: 1, created_at: now - 3600 + (i % 3600), tags: [['t', 'clat']], content: `cluster latency ${i} ${'x'.repeat(120)}` }),
});
const LAT_FILTER = { kinds: [1], '#t': ['clat'] };


/** Part i of n of `xs`, in contiguous slices. */
const share = <T>(xs: T[], i: number, n: number): T[] => xs.slice(Math.floor((i * xs.length) / n), Math.floor(((i + 1) * xs.length) / n));

const rejectedText = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ');
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

class Run {
  readonly relays = new Set<BenchRelay>();
  constructor(readonly nats: NatsCluster) {}

  cluster(stream: string, id: string, extra: Record<string, string | number> = {}): ConfigPatch {
    return { cluster: { enabled: true, nats_url: this.nats.urls, stream, replicas: 3, instance_id: id, ...extra } };
  }

  async start(config: ConfigPatch = {}, more: Parameters<typeof startBenchRelay>[0] = {}): Promise<BenchRelay> {
    const r = await startBenchRelay({ ...more, config: { ...config, ...more.config } });
    this.relays.add(r);
    return r;
  }

  async stop(r: BenchRelay): Promise<void> {
    this.relays.delete(r);
    await r.stop();
  }

  natsCpu(): number {
    let us = 0;
    for (let i = 0; i < this.nats.urls.length; i++) {
      const pid = this.nats.pid(i);
      if (pid !== undefined) us += cpuMicros(pid);
    }
    return us;
  }

  /**
   * The events split over `relays` (one publisher set of C × W each, all at once); rate is the
   * sum accepted over the longest publisher's wall time. CPU of relays, NATS and this client.
   */
  async ingest(relays: BenchRelay[], events: NostrEvent[], warm: NostrEvent[]) {
    const o = { connections: CONNECTIONS, window: WINDOW };
    await Promise.all(relays.map((r, i) => publish(r.url, share(warm, i, relays.length), o)));
    const r0 = relays.map((r) => r.cpuMicros());
    const n0 = this.natsCpu();
    const me0 = process.cpuUsage();
    const t0 = performance.now();
    const results: PublishResult[] = await Promise.all(relays.map((r, i) => publish(r.url, share(events, i, relays.length), o)));
    const outerMs = performance.now() - t0;
    const me = process.cpuUsage(me0);
    const relayUs = relays.reduce((sum, r, i) => sum + r.cpuMicros() - r0[i]!, 0);
    const natsUs = this.natsCpu() - n0;
    const clientUs = me.user + me.system;
    const latency = new Latencies();
    const rejected: Record<string, number> = {};
    let accepted = 0;
    for (const r of results) {
      latency.addAll(r.latency);
      accepted += r.accepted;
      for (const [k, v] of Object.entries(r.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
    }
    const wallMs = Math.max(...results.map((r) => r.wallMs));
    const n = Math.max(1, accepted);
    return {
      rate: accepted / (wallMs / 1000),
      accepted,
      sent: events.length,
      rejected,
      latency,
      relayPer: relayUs / n,
      natsPer: natsUs / n,
      clientPer: clientUs / n,
      busy: ((relayUs + natsUs + clientUs) / (outerMs * 1000 * availableParallelism())) * 100,
    };
  }

  /**
   * Publishes `events` on `pubUrl` at `rate` ev/s (paced, open loop) while one subscriber on
   * each of `subUrls` holds a REQ matching them; send → receipt per subscriber, send → OK.
   */
  async latency(pubUrl: string, subUrls: string[], events: NostrEvent[], rate: number) {
    const frames = events.map((e) => JSON.stringify(['EVENT', e]));
    const ids = events.map((e) => e.id);
    const subs: WebSocket[] = [];
    const sockets: WebSocket[] = [];
    try {
      for (const u of subUrls) subs.push(await open(u));
      sockets.push(...subs);
      const pub = await open(pubUrl);
      sockets.push(pub);
      await subscribeAll(subs, 'clat', () => LAT_FILTER);
      const receipts = subs.map(() => new Receipts(ids, 1));
      const ok = new Latencies();
      const okSentAt = new Map<string, number>();
      const rejected: Record<string, number> = {};
      let complete = 0;
      let progressAt = performance.now();
      let finish!: () => void;
      const done = new Promise<void>((r) => (finish = r));
      const expected = () => frames.length * subs.length - Object.values(rejected).reduce((a, b) => a + b, 0) * subs.length;
      for (const r of receipts)
        r.onComplete = () => {
          progressAt = performance.now();
          if (++complete >= expected()) finish();
        };
      subs.forEach((ws, s) => ws.on('message', (d: Buffer) => receipts[s]!.frame(0, d)));
      pub.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as [string, string, boolean, string];
        if (m[0] !== 'OK') return;
        const at = okSentAt.get(m[1]);
        if (at === undefined) return;
        okSentAt.delete(m[1]);
        ok.add(performance.now() - at);
        progressAt = performance.now();
        if (!m[2]) {
          const k = String(m[3]).split(':')[0] || 'unknown';
          rejected[k] = (rejected[k] ?? 0) + 1;
          if (complete >= expected()) finish();
        }
      });
      let sent = 0;
      const t0 = performance.now();
      const pacer = setInterval(() => {
        const due = Math.min(frames.length, Math.floor(((performance.now() - t0) / 1000) * rate));
        while (sent < due) {
          const now = performance.now();
          for (const r of receipts) r.sentAt[sent] = now;
          okSentAt.set(ids[sent]!, now);
          pub.send(frames[sent++]!);
        }
        if (sent === frames.length) clearInterval(pacer);
      }, 2);
      const watchdog = setInterval(() => {
        if (sent === frames.length && performance.now() - Math.max(progressAt, ...receipts.map((r) => r.lastAt)) > IDLE_MS) finish();
      }, 250);
      await done;
      clearInterval(pacer);
      clearInterval(watchdog);
      return { receipts, ok, rejected, missed: receipts.map((r) => frames.length - Object.values(rejected).reduce((a, b) => a + b, 0) - r.received) };
    } finally {
      await closeAll(sockets);
    }
  }

  /**
   * Starts an instance and times spawn → GET /ready 200 (polled every 20 ms on a port fixed
   * beforehand), with what the instance logs about its restore and catch-up.
   */
  async timeToReady(config: ConfigPatch, dataDir?: string, onLine?: (line: string) => void) {
    const port = await freePort();
    let caught: { from: number; to: number; ms: number } | undefined;
    let restored: { position: number; bytes: number; ms: number } | undefined;
    let failed: unknown;
    const t0 = performance.now();
    const starting = this.start({ ...config, network: { port } }, {
      dataDir,
      onLine: (line) => {
        if (line.includes('caught up with the log; ready')) caught = JSON.parse(line);
        else if (line.includes('restored the newest snapshot')) restored = JSON.parse(line);
        onLine?.(line);
      },
    });
    starting.catch((err: unknown) => (failed = err));
    let ms: number | undefined;
    while (ms === undefined) {
      if (failed !== undefined) throw failed;
      if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`instance not ready within ${READY_TIMEOUT_MS} ms`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.status === 200) ms = performance.now() - t0;
      } catch {
        /* not listening yet */
      }
      if (ms === undefined) await sleep(20);
    }
    const relay = await starting;
    return { ms, relay, caught, restored };
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.relays].map((r) => r.stop().catch(() => undefined)));
    this.relays.clear();
  }
}

async function ingestRows(run: Run, events: NostrEvent[], warm: NostrEvent[]): Promise<{ rows: Row[]; three: BenchRelay[] }> {
  const rows: Row[] = [];
  const cw = `${CONNECTIONS}×${WINDOW}`;
  const one = await run.start();
  const base = await run.ingest([one], events, warm);
  await run.stop(one);
  const logged = await run.start(run.cluster('ingest1', 'a'));
  const single = await run.ingest([logged], events, warm);
  await run.stop(logged);
  const three: BenchRelay[] = [];
  for (const id of ['a', 'b', 'c']) three.push(await run.start({ ...run.cluster('ingest3', id), metrics: { enabled: true } }));
  const shared = await run.ingest(three, events, warm);
  const baseline = { name: 'one instance, no log', value: base.rate };
  const cases: Array<[string, typeof base]> = [
    [`one instance, no log (${cw})`, base],
    [`one instance, log R3 (${cw})`, single],
    [`three instances, shared log R3, sum (${cw} each)`, shared],
  ];
  for (const [tag, r] of cases) {
    rows.push(
      { scenario: S, metric: `ingest accepted, ${tag}`, value: r.rate, unit: 'ev/s', ...(r === base ? {} : { baseline }) },
      { scenario: S, metric: `ingest OK p50 / p99, ${tag}`, value: r.latency.percentile(50), unit: `/ ${r.latency.percentile(99).toFixed(1)} ms`, ...(r === base ? {} : { baseline: { name: 'no-log p50', value: base.latency.percentile(50) } }) },
      {
        scenario: S,
        metric: `CPU per event (relays / NATS / client), ${tag}`,
        value: r.relayPer,
        unit: `/ ${r.natsPer.toFixed(0)} / ${r.clientPer.toFixed(0)} µs; these used ${r.busy.toFixed(0)} % of ${availableParallelism()} cores`,
        ...(r === base ? {} : { baseline: { name: 'no-log relay µs', value: base.relayPer } }),
      },
    );
    if (r.accepted !== r.sent) rows.push({ scenario: S, metric: `ingest not accepted, ${tag}: ${rejectedText(r.rejected)}`, value: r.sent - r.accepted, unit: 'events', target: '0', met: false });
  }
  return { rows, three };
}

/** Sum (s) and count of A's append latency histogram, from /metrics. */
async function appendStats(r: BenchRelay): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${r.httpUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: read('mls_relay_cluster_append_seconds_sum'), count: read('mls_relay_cluster_append_seconds_count') };
}

async function latencyRows(run: Run, three: BenchRelay[], events: NostrEvent[], warm: NostrEvent[]): Promise<Row[]> {
  const [a, b] = three as [BenchRelay, BenchRelay];
  await run.latency(a.url, [a.url, b.url], warm, RATE);
  const m0 = await appendStats(a);
  const c = await run.latency(a.url, [a.url, b.url], events, RATE);
  const m1 = await appendStats(a);
  const appendMean = ((m1.sum - m0.sum) / Math.max(1, m1.count - m0.count)) * 1000;
  for (const r of three) await run.stop(r);
  const one = await run.start();
  await run.latency(one.url, [one.url], warm, RATE);
  const n = await run.latency(one.url, [one.url], events, RATE);
  await run.stop(one);
  const [same, cross] = c.receipts as [Receipts, Receipts];
  const p = (l: Latencies) => `/ ${l.percentile(99).toFixed(1)} ms`;
  const at = `${RATE} ev/s, ${events.length} events`;
  const rows: Row[] = [
    { scenario: S, metric: `delivery p50 / p99 cross-instance (publish A, subscribe B; ${at})`, value: cross.latency.percentile(50), unit: p(cross.latency), baseline: { name: 'same-instance p50', value: same.latency.percentile(50) } },
    { scenario: S, metric: `delivery p50 / p99 same-instance (publish and subscribe A, log R3)`, value: same.latency.percentile(50), unit: p(same.latency), baseline: { name: 'no-log p50', value: n.receipts[0]!.latency.percentile(50) } },
    { scenario: S, metric: `delivery p50 / p99 one instance without the log (reference)`, value: n.receipts[0]!.latency.percentile(50), unit: p(n.receipts[0]!.latency) },
    { scenario: S, metric: `OK p50 / p99 on A at ${RATE} ev/s (log R3)`, value: c.ok.percentile(50), unit: p(c.ok), baseline: { name: 'no-log OK p50', value: n.ok.percentile(50) } },
    { scenario: S, metric: `of which: append to the log (JetStream R3 ack), mean on A (/metrics)`, value: appendMean, unit: 'ms' },
  ];
  const missed = [...c.missed, ...n.missed].reduce((x, y) => x + y, 0);
  const rejected = { ...c.rejected, ...n.rejected };
  if (missed > 0) rows.push({ scenario: S, metric: 'latency rounds: missed deliveries', value: missed, unit: 'deliveries', target: '0', met: false });
  if (Object.keys(rejected).length > 0) rows.push({ scenario: S, metric: `latency rounds: rejected: ${rejectedText(rejected)}`, value: Object.values(rejected).reduce((x, y) => x + y, 0), unit: 'events', target: '0', met: false });
  return rows;
}

async function readyRows(run: Run, load: NostrEvent[], tail: NostrEvent[]): Promise<Row[]> {
  const rows: Row[] = [];
  const stream = 'ready';
  const loaderDir = await mkdtemp(join(tmpdir(), 'mls-relay-bench-loader-'));
  const loaderData = join(loaderDir, 'data');
  const quiet = { snapshot_interval: '1h' };
  try {
    // Floor: an instance on an empty log (process start, NATS connect, stream and bucket lookup).
    let loader = await run.timeToReady(run.cluster(stream, 'loader', quiet), loaderData);
    const empty = loader.ms;
    let loaderUp = performance.now();
    // Load through the relay. No snapshot may exist yet (a new instance would restore it, and taking
    // one purges the log): the first check runs 60 s after ready and takes one when none exists, so
    // the loader is restarted (its own store, nothing to catch up) before it gets there.
    let accepted = 0;
    let loadMs = 0;
    let restarts = 0;
    const rejected: Record<string, number> = {};
    let chunkMs = 0;
    for (let i = 0; i < load.length; i += LOAD_CHUNK) {
      if (performance.now() - loaderUp + 1.5 * chunkMs > LOADER_MAX_UPTIME_MS) {
        await run.stop(loader.relay);
        loader = await run.timeToReady(run.cluster(stream, 'loader', quiet), loaderData);
        loaderUp = performance.now();
        restarts++;
      }
      const r = await publish(loader.relay.url, load.slice(i, i + LOAD_CHUNK), { connections: CONNECTIONS, window: WINDOW });
      accepted += r.accepted;
      loadMs += r.wallMs;
      chunkMs = r.wallMs;
      for (const [k, v] of Object.entries(r.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
    }
    await run.stop(loader.relay);
    console.log(`  loaded ${accepted} events at ${(accepted / (loadMs / 1000)).toFixed(0)} ev/s`);
    rows.push({ scenario: S, metric: `loading the log: ${accepted.toLocaleString('en-US')} events through one instance (${CONNECTIONS}×${WINDOW}; restarted ${restarts}× to stay clear of its first snapshot)`, value: accepted / (loadMs / 1000), unit: 'ev/s' });
    if (accepted !== load.length) rows.push({ scenario: S, metric: `loading: not accepted: ${rejectedText(rejected)}`, value: load.length - accepted, unit: 'events', target: '0', met: false });

    // Log only: no snapshot exists, a new instance applies every message.
    const logOnly = await run.timeToReady(run.cluster(stream, 'log-only', quiet));
    await run.stop(logOnly.relay);
    console.log(`  log only: ready in ${fmtMs(logOnly.ms)}`);
    if (logOnly.restored !== undefined) throw new Error('the log-only instance restored a snapshot: the measurement is void');

    // A snapshot covering the load: the loader again with a 1 s interval takes one at its first check.
    let stored: ((line: string) => void) | undefined;
    let compacted: (() => void) | undefined;
    const snapshotLine = new Promise<{ bytes: number; ms: number; position: number }>((ok) => (stored = (l) => l.includes('cluster: snapshot stored') && ok(JSON.parse(l))));
    const compactLine = new Promise<void>((ok) => (compacted = ok));
    const snapper = await run.timeToReady(run.cluster(stream, 'loader', { snapshot_interval: '1s' }), loaderData, (l) => {
      stored!(l);
      if (l.includes('cluster: log compacted')) compacted!();
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error('no snapshot stored in time')), READY_TIMEOUT_MS)));
    const snap = await Promise.race([snapshotLine, late]).finally(() => clearTimeout(timer));
    // Let it purge the log before the snapshot (what a running cluster would have done) before stopping it.
    await Promise.race([compactLine, sleep(15_000)]);
    await run.stop(snapper.relay);
    console.log(`  snapshot stored: ${snap.bytes} bytes at position ${snap.position} in ${fmtMs(snap.ms)}`);
    // The tail: appended after the snapshot, by the loader with snapshots quiet again.
    const tailer = await run.timeToReady(run.cluster(stream, 'loader', quiet), loaderData);
    const t = await publish(tailer.relay.url, tail, { connections: CONNECTIONS, window: WINDOW });
    await run.stop(tailer.relay);
    console.log(`  tail of ${t.accepted} events appended`);
    if (t.accepted !== tail.length) rows.push({ scenario: S, metric: `tail: not accepted: ${rejectedText(t.rejected)}`, value: tail.length - t.accepted, unit: 'events', target: '0', met: false });

    const restoring = await run.timeToReady(run.cluster(stream, 'restored', quiet));
    await run.stop(restoring.relay);
    if (restoring.restored === undefined) throw new Error('the new instance did not restore the snapshot');

    const detail = (x: typeof logOnly) =>
      `${x.restored ? `restore ${fmtMs(x.restored.ms)}, ` : ''}catch-up ${x.caught ? `${(x.caught.to - x.caught.from).toLocaleString('en-US')} msgs in ${fmtMs(x.caught.ms)}` : '?'}`;
    rows.push(
      { scenario: S, metric: `time to /ready, empty log (floor: process start + NATS)`, value: empty / 1000, unit: 's' },
      { scenario: S, metric: `time to /ready, ${load.length.toLocaleString('en-US')} events, log only (${detail(logOnly)})`, value: logOnly.ms / 1000, unit: 's', baseline: { name: 'empty log', value: empty / 1000 } },
      {
        scenario: S,
        metric: `time to /ready, snapshot (${(snap.bytes / 2 ** 20).toFixed(0)} MiB, taken in ${fmtMs(snap.ms)}) + ${tail.length.toLocaleString('en-US')} in the log (${detail(restoring)})`,
        value: restoring.ms / 1000,
        unit: 's',
        baseline: { name: 'log only', value: logOnly.ms / 1000 },
      },
    );
    return rows;
  } finally {
    await rm(loaderDir, { recursive: true, force: true });
  }
}

export const cluster: Scenario = {
  name: 'cluster',
  describe: `3-node NATS JetStream on loopback: ingest ${INGEST_EVENTS.toLocaleString('en-US')} events (1 instance no log / log R3 / 3 instances), delivery latency at ${RATE} ev/s, time to ready with ${LOG_EVENTS.toLocaleString('en-US')} events in the log`,
  async run() {
    if (!natsAvailable()) {
      console.log(`  skipped: ${NATS_SKIP_MESSAGE}`);
      return [];
    }
    const { events } = await presigned(ingestEvents('cluster-ingest-v1', INGEST_EVENTS));
    const { events: warm } = await presigned(ingestEvents('ingest-warm-v1', 2_000));
    const { events: lat } = await presigned(latencyEvents('cluster-lat-v1', LAT_EVENTS));
    const { events: latWarm } = await presigned(latencyEvents('cluster-lat-warm-v1', 200));
    const { events: all } = await presigned(ingestEvents('cluster-log-v1', LOG_EVENTS + TAIL));
    const nats = await startNatsCluster({ nodes: 3, maxFileStore: 4 * 1024 ** 3 });
    const run = new Run(nats);
    const phase = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const out = await f();
      console.log(`  ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return out;
    };
    const load0 = loadavg()[0]!;
    try {
      const { rows: ingestR, three } = await phase('ingest', () => ingestRows(run, events, warm));
      const latR = await phase('latency', () => latencyRows(run, three, lat, latWarm));
      const readyR = await phase('time to ready', () => readyRows(run, all.slice(0, LOG_EVENTS), all.slice(LOG_EVENTS)));
      const others: Row = { scenario: S, metric: `machine load average (1 min), start → end (includes work outside this bench)`, value: load0, unit: `→ ${loadavg()[0]!.toFixed(2)}` };
      return [...ingestR, ...latR, ...readyR, others];
    } finally {
      await run.stopAll();
      await nats.stop();
    }
  },
};
