/**
 * Ingest: C connections pipelining unique pre-signed events (window W each) into a fresh
 * relay, once per verify pool size. Accepted events/s against the verify ceiling (pool
 * size × one core's full-check rate, measured here), relay CPU per accepted event, OK
 * latency, rejections by reason; then OK latency at half the default pool's maximum.
 */
import { availableParallelism } from 'node:os';
import { singleCoreVerifyRate } from '../lib/ceiling.js';
import { presigned, type EventSpec } from '../lib/events.js';
import { publish, type PublishResult } from '../lib/load.js';
import { pssBytes } from '../lib/proc.js';
import { startBenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';

const EVENTS = Number(process.env.BENCH_INGEST_EVENTS ?? 30_000);
const CONNECTIONS = 8;
const WINDOW = 64;

export const ingestEvents = (name: string, count: number): EventSpec => ({
  name,
  count,
  keys: 64,
  template: (i, now) => ({
    kind: 1,
    created_at: now - 3600 + (i % 3600),
    tags: [['t', `topic${i % 20}`], ['p', 'ab'.repeat(32)]],
    content: `bench event ${i} ${'x'.repeat(120)}`,
  }),
});

async function run1(threads: number | undefined, events: Parameters<typeof publish>[1], warm: Parameters<typeof publish>[1], ratePerSec?: number) {
  const relay = await startBenchRelay({ verifyThreads: threads });
  try {
    await publish(relay.url, warm, { connections: CONNECTIONS, window: WINDOW });
    const rssBefore = relay.rssBytes();
    // PSS has no high-water mark: sampled (reading smaps_rollup costs this process, not the relay's CPU).
    let peakPss = pssBytes(relay.pid);
    const sampler = setInterval(() => (peakPss = Math.max(peakPss, pssBytes(relay.pid))), 250);
    const c0 = relay.cpuMicros();
    const me0 = process.cpuUsage();
    let r: PublishResult;
    try {
      r = await publish(relay.url, events, { connections: CONNECTIONS, window: WINDOW, ratePerSec });
    } finally {
      clearInterval(sampler);
    }
    const me = process.cpuUsage(me0);
    const cpuUs = relay.cpuMicros() - c0;
    peakPss = Math.max(peakPss, pssBytes(relay.pid));
    // VmHWM covers the relay's whole life, but start-up and the warm-up peak well below the run.
    return { r, cpuUs, clientUs: me.user + me.system, rssBefore, peakRss: relay.peakRssBytes(), peakPss };
  } finally {
    await relay.stop();
  }
}

function rejectedText(r: PublishResult): string {
  return Object.entries(r.rejected).map(([k, v]) => `${k} ${v}`).join(', ');
}

export const ingest: Scenario = {
  name: 'ingest',
  describe: `${EVENTS.toLocaleString('en-US')} unique kind-1 events, ${CONNECTIONS} connections × window ${WINDOW}, per verify pool size`,
  async run() {
    const { events } = await presigned(ingestEvents('ingest-v1', EVENTS));
    const { events: warm } = await presigned(ingestEvents('ingest-warm-v1', 2_000));
    const { rate: core, backend } = await singleCoreVerifyRate(events);
    const rows: Row[] = [];
    const defaultThreads = Math.max(1, availableParallelism() - 1);
    const sizes = [...new Set([1, defaultThreads, availableParallelism()])];
    let defaultRate = 0;
    for (const threads of sizes) {
      const { r, cpuUs, clientUs, rssBefore, peakRss, peakPss } = await run1(threads, events, warm);
      const rate = r.accepted / (r.wallMs / 1000);
      const isDefault = threads === defaultThreads;
      if (isDefault) defaultRate = rate;
      const tag = `pool ${threads}${isDefault ? ' (default)' : ''}`;
      const ceiling = threads * core;
      rows.push(
        { scenario: 'ingest', metric: `accepted, ${tag}`, value: rate, unit: 'ev/s', baseline: { name: `verify ceiling ${threads}×${backend}`, value: ceiling }, ...(isDefault ? { target: '≥ 0.75x', met: rate / ceiling >= 0.75 } : {}) },
        { scenario: 'ingest', metric: `relay CPU per event, ${tag}`, value: cpuUs / Math.max(1, r.accepted), unit: 'µs', ...(isDefault ? { target: '< 150 µs', met: cpuUs / r.accepted < 150 } : {}) },
        { scenario: 'ingest', metric: `OK p50 / p99 at max, ${tag}`, value: r.latency.percentile(50), unit: `/ ${r.latency.percentile(99).toFixed(1)} ms` },
        // The client shares the machine: how much of all its cores relay and client kept busy.
        {
          scenario: 'ingest',
          metric: `machine busy (relay + bench client), ${tag}`,
          value: ((cpuUs + clientUs) / (r.wallMs * 1000 * availableParallelism())) * 100,
          unit: `% of ${availableParallelism()} cores (client ${(clientUs / Math.max(1, r.accepted)).toFixed(0)} µs per event)`,
        },
      );
      rows.push(
        { scenario: 'ingest', metric: `relay peak RSS (VmHWM), ${tag}`, value: peakRss / 2 ** 20, unit: 'MiB', baseline: { name: 'relay RSS before the run', value: rssBefore / 2 ** 20 } },
        { scenario: 'ingest', metric: `relay peak PSS (sampled every 250 ms; LMDB pages counted once), ${tag}`, value: peakPss / 2 ** 20, unit: 'MiB', baseline: { name: 'peak RSS', value: peakRss / 2 ** 20 } },
      );
      if (r.accepted !== r.sent) rows.push({ scenario: 'ingest', metric: `not accepted, ${tag}: ${rejectedText(r)}`, value: r.sent - r.accepted, unit: 'events', target: '0', met: false });
    }
    const half = defaultRate / 2;
    const { r, rssBefore, peakRss, peakPss } = await run1(defaultThreads, events, warm, half);
    rows.push({
      scenario: 'ingest',
      metric: `OK p99 at half max (${Math.round(half).toLocaleString('en-US')} ev/s offered)`,
      value: r.latency.percentile(99),
      unit: 'ms',
      target: '< 50 ms',
      met: r.latency.percentile(99) < 50,
    });
    rows.push(
      { scenario: 'ingest', metric: 'relay peak RSS (VmHWM) at half max', value: peakRss / 2 ** 20, unit: 'MiB', baseline: { name: 'relay RSS before the run', value: rssBefore / 2 ** 20 } },
      { scenario: 'ingest', metric: 'relay peak PSS at half max', value: peakPss / 2 ** 20, unit: 'MiB', baseline: { name: 'peak RSS', value: peakRss / 2 ** 20 } },
    );
    return rows;
  },
};
