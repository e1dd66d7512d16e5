/**
 * Idle connections: N sockets, each with one REQ (its own random author, so N distinct
 * filters in the match index), held open; the relay's resident memory per connection,
 * against a bare `ws` server holding the same N sockets (no subscriptions) in the same
 * run. Also the rate at which the N open.
 *
 * Per connection means the slope: RSS after all N minus RSS after the first half,
 * over the second half. The first connections also pay one-time growth (V8's
 * young generation grows to its maximum under the allocation burst, pools warm up):
 * measured from zero, 2,000 connections showed 25.9 KiB each and 6,000 showed 18.5. The
 * average from zero is reported beside the slope. RSS has no GC barrier, so a V8 heap
 * growth step that lands in the second half shows up as a few KiB more per connection.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { startBareBroadcast } from '../lib/bare-broadcast.js';
import { closeAll, openInto } from '../lib/load.js';
import { startBenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';
import { sleep } from '../lib/stats.js';
import { subscribeAll } from '../lib/subscribers.js';

const N = Number(process.env.BENCH_CONN_N ?? 8000);
const WARM = 100;
/** No way to force a GC in the server: let it settle, read RSS, read again a second later and keep that (the first is shown to judge the drift). */
const SETTLE_MS = 2_000;

interface Server {
  url: string;
  rssBytes(): number;
  stop(): Promise<void>;
}

const byAuthor = () => ({ kinds: [1], authors: [randomBytes(32).toString('hex')] });

async function run1(server: Server, subscribe: boolean) {
  const warm: WebSocket[] = [];
  const sockets: WebSocket[] = [];
  try {
    // Open and close a few first, so code loaded on the first connection and REQ is already resident.
    await openInto(server.url, WARM, warm);
    if (subscribe) await subscribeAll(warm, 'idle', byAuthor);
    await closeAll(warm);
    await sleep(SETTLE_MS);
    const before = server.rssBytes();
    const ramp = Math.floor(N / 2);
    await openInto(server.url, ramp, sockets);
    if (subscribe) await subscribeAll(sockets, 'idle', byAuthor);
    await sleep(SETTLE_MS);
    const atRamp = server.rssBytes();
    const rest: WebSocket[] = [];
    const t1 = performance.now();
    await openInto(server.url, N - ramp, rest);
    const openMs = performance.now() - t1;
    sockets.push(...rest);
    if (subscribe) await subscribeAll(rest, 'idle', byAuthor);
    await sleep(SETTLE_MS);
    const first = server.rssBytes();
    await sleep(1_000);
    const after = server.rssBytes();
    const kib = (from: number, n: number, to = after) => (to - from) / n / 1024;
    return { kibPerConn: kib(atRamp, N - ramp), firstKib: kib(atRamp, N - ramp, first), averageKib: kib(before, N), perSec: (N - ramp) / (openMs / 1000), beforeMib: before / 2 ** 20 };
  } finally {
    await closeAll([...warm, ...sockets]);
    await server.stop();
  }
}

export const connections: Scenario = {
  name: 'connections',
  describe: `${N.toLocaleString('en-US')} idle connections, one REQ each (relay) / none (bare ws), RSS growth per connection`,
  async run() {
    const bare = await run1(await startBareBroadcast(), false);
    const relay = await run1(await startBenchRelay(), true);
    const S = 'connections';
    return [
      { scenario: S, metric: `relay RSS per idle connection + 1 REQ (slope over the last ${N - Math.floor(N / 2)} of ${N})`, value: relay.kibPerConn, unit: `KiB (${relay.firstKib.toFixed(1)} 1 s before)`, baseline: { name: 'bare ws, no REQ', value: bare.kibPerConn }, target: '≤ 16 KiB', met: relay.kibPerConn <= 16 },
      { scenario: S, metric: `relay RSS per connection averaged from zero (base ${Math.round(relay.beforeMib)} MiB)`, value: relay.averageKib, unit: 'KiB', baseline: { name: 'bare ws', value: bare.averageKib } },
      { scenario: S, metric: 'connections opened per second (100 at a time)', value: relay.perSec, unit: '/s', baseline: { name: 'bare ws', value: bare.perSec } },
    ] satisfies Row[];
  },
};
