/**
 * Fan-out: S subscribers, each on its own connection with one REQ for the same filter
 * (all at EOSE before anything is published), and P matching pre-signed events pipelined
 * in by a few publishers. Deliveries/s (EVENT frames the subscribers receive, first send →
 * last receipt), send → receipt latency, missed deliveries, relay CPU per delivery; the
 * same clients against a bare `ws` broadcast server (bench/lib/bare-broadcast.ts) in the
 * same run as the baseline. Env: BENCH_FANOUT_SUBS, BENCH_FANOUT_EVENTS, BENCH_FANOUT_WINDOW,
 * BENCH_FANOUT_PROF (a directory for the relay's CPU profile).
 */
import type { WebSocket } from 'ws';
import type { NostrEvent } from '../../src/protocol/types.js';
import { startBareBroadcast } from '../lib/bare-broadcast.js';
import { presigned, type EventSpec } from '../lib/events.js';
import { closeAll, openInto } from '../lib/load.js';
import { startBenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';
import { Receipts, subscribeAll } from '../lib/subscribers.js';

const SUBS = Number(process.env.BENCH_FANOUT_SUBS ?? 1000);
const EVENTS = Number(process.env.BENCH_FANOUT_EVENTS ?? 300);
const WARM_EVENTS = 30;
const PUBLISHERS = 2;
/** Events per publisher not yet received by every subscriber. */
const WINDOW = Number(process.env.BENCH_FANOUT_WINDOW ?? 4);
/** A round ends early when nothing (receipt or OK) has arrived for this long. */
const IDLE_MS = 5_000;
/** A directory: profile the relay (node --cpu-prof) while it runs this scenario. */
const PROF = process.env.BENCH_FANOUT_PROF;
const SUB_ID = 'fanout';
const FILTER = { kinds: [1], '#t': ['fanout'] };

const fanoutEvents = (name: string, count: number): EventSpec => ({
  name,
  count,
  template: (i, now) => ({
    kind: 1,
    created_at: now - 3600 + (i % 3600),
    tags: [['t', 'fanout']],
    content: `fanout event ${i} ${'x'.repeat(120)}`,
  }),
});

interface Server {
  url: string;
  cpuMicros(): number;
  stop(): Promise<void>;
}

/**
 * One round. A publisher's window is bounded by receipt at every subscriber, not by OK:
 * a relay can answer OK long before it has fanned an event out to 1,000 sockets, so an
 * OK-bounded window would pile the whole run into its queue and the latency would measure
 * that pile. This way the server stays saturated with a bounded backlog.
 */
async function round(subs: WebSocket[], pubs: WebSocket[], events: NostrEvent[]) {
  const frames = events.map((e) => JSON.stringify(['EVENT', e]));
  const r = new Receipts(
    events.map((e) => e.id),
    subs.length,
  );
  const next = pubs.map((_, c) => c); // publisher c sends events c, c + C, c + 2C, …
  const inFlight = pubs.map(() => 0);
  const rejected: string[] = [];
  let sent = 0;
  let settled = 0;
  let progressAt = performance.now();
  let finish!: () => void;
  const done = new Promise<void>((res) => (finish = res));
  const pump = (c: number) => {
    while (inFlight[c]! < WINDOW && next[c]! < frames.length) {
      const i = next[c]!;
      next[c]! += pubs.length;
      inFlight[c]!++;
      sent++;
      r.sentAt[i] = performance.now();
      pubs[c]!.send(frames[i]!);
    }
  };
  const settle = (i: number) => {
    progressAt = performance.now();
    inFlight[i % pubs.length]!--;
    if (++settled === frames.length) finish();
    else pump(i % pubs.length);
  };
  r.onComplete = settle;
  // A rejected event will never be delivered: free its slot and leave it out of the expected count.
  const onOk = (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as unknown[];
    if (msg[0] !== 'OK') return;
    progressAt = performance.now();
    const i = r.index.get(String(msg[1]));
    if (msg[2] === false && i !== undefined) {
      rejected.push(String(msg[3]));
      settle(i);
    }
  };
  const onFrame = subs.map((ws, s) => {
    const f = (data: Buffer) => r.frame(s, data);
    ws.on('message', f);
    return f;
  });
  for (const ws of pubs) ws.on('message', onOk);
  const watchdog = setInterval(() => {
    if (performance.now() - Math.max(progressAt, r.lastAt) > IDLE_MS) finish();
  }, 250);
  try {
    const t0 = performance.now();
    pubs.forEach((_, c) => pump(c));
    await done;
    const expected = subs.length * (frames.length - rejected.length);
    return { r, expected, missed: expected - r.received, unsent: frames.length - sent, rejected, wallMs: r.lastAt - t0 };
  } finally {
    clearInterval(watchdog);
    subs.forEach((ws, s) => ws.off('message', onFrame[s]!));
    for (const ws of pubs) ws.off('message', onOk);
  }
}

async function run1(server: Server, events: NostrEvent[], warm: NostrEvent[]) {
  const subs: WebSocket[] = [];
  const pubs: WebSocket[] = [];
  try {
    await openInto(server.url, SUBS, subs);
    await openInto(server.url, PUBLISHERS, pubs);
    await subscribeAll(subs, SUB_ID, () => FILTER);
    await round(subs, pubs, warm); // JIT both sides; its figures are dropped
    const c0 = server.cpuMicros();
    const u0 = process.cpuUsage();
    const res = await round(subs, pubs, events);
    const u = process.cpuUsage(u0);
    const cpuUs = server.cpuMicros() - c0;
    const n = Math.max(1, res.r.received);
    return { ...res, rate: res.r.received / (Math.max(1, res.wallMs) / 1000), cpuPerDelivery: cpuUs / n, clientPerDelivery: (u.user + u.system) / n, busy: cpuUs / 1000 / Math.max(1, res.wallMs) };
  } finally {
    await closeAll([...subs, ...pubs]);
    await server.stop();
  }
}

export const fanout: Scenario = {
  name: 'fanout',
  describe: `${SUBS.toLocaleString('en-US')} subscribers (one connection, one REQ each) × ${EVENTS} events from ${PUBLISHERS} publishers, window ${WINDOW} undelivered each`,
  async run() {
    const { events } = await presigned(fanoutEvents('fanout-v1', EVENTS));
    const { events: warm } = await presigned(fanoutEvents('fanout-warm-v1', WARM_EVENTS));
    const bare = await run1(await startBareBroadcast(), events, warm);
    const relay = await run1(await startBenchRelay(PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROF}`] } : {}), events, warm);
    const S = 'fanout';
    const rows: Row[] = [
      { scenario: S, metric: `deliveries/s to ${SUBS} subscribers`, value: relay.rate, unit: '/s', baseline: { name: 'bare ws broadcast', value: bare.rate }, target: '≥ 100,000/s', met: relay.rate >= 100_000 },
      { scenario: S, metric: 'relay CPU per delivery', value: relay.cpuPerDelivery, unit: `µs (${relay.busy.toFixed(2)} cores busy)`, baseline: { name: 'bare ws broadcast', value: bare.cpuPerDelivery }, target: '< 5 µs', met: relay.cpuPerDelivery < 5 },
      { scenario: S, metric: `send → receipt p50 / p99, saturated (window ${WINDOW}×${PUBLISHERS})`, value: relay.r.latency.percentile(50), unit: `/ ${relay.r.latency.percentile(99).toFixed(1)} ms`, baseline: { name: 'bare p50', value: bare.r.latency.percentile(50) } },
      { scenario: S, metric: `missed deliveries (of ${relay.expected.toLocaleString('en-US')})`, value: relay.missed, unit: 'deliveries', target: '0', met: relay.missed === 0 },
      { scenario: S, metric: 'bench client CPU per delivery', value: relay.clientPerDelivery, unit: 'µs', baseline: { name: 'in bare run', value: bare.clientPerDelivery } },
    ];
    // Only worth a row when something went wrong.
    const odd = { duplicates: relay.r.duplicates, 'foreign EVENT frames': relay.r.foreign, 'events never sent (stalled)': relay.unsent, 'events rejected': relay.rejected.length, 'bare missed deliveries': bare.missed };
    for (const [what, n] of Object.entries(odd)) if (n > 0) rows.push({ scenario: S, metric: what + (what === 'events rejected' ? `: ${relay.rejected[0]}` : ''), value: n, unit: '', met: false });
    return rows;
  },
};
