/**
 * MLS gateway: one group of M members (roster bootstrapped by a relay admin with a kind
 * 450), every member on its own NIP-42-authenticated connection subscribed to the group's
 * 445s; the members publish pre-signed 445s (opaque random base64, as ciphertext is to the
 * relay) from their own connections, each with WINDOW messages awaiting OK (closed loop):
 * deliveries/s, publish→receipt p50/p99, relay CPU per delivery, missed and duplicate
 * deliveries; then at half that message rate (paced, open loop) for latency below saturation.
 * An authenticated non-member holds the same subscription throughout and must get nothing.
 *
 * Baseline, same relay, same connections and senders: kind-1 events of the same size fanned
 * out through a #t subscription. 445 / kind-1 is the price of the gateway on the hot path
 * (membership check at publish, group bookkeeping in the write, read rule per delivery).
 *
 * Then KeyPackage claims over REST: OWNERS owners publish STOCK kind-443s each, NIP-98 tokens
 * are signed just before the run (they are valid 60 s), and autocannon's CLAIM_CONNECTIONS
 * keep-alive connections claim STOCK-1 per owner, so every claim must consume a distinct
 * KeyPackage (an owner's last one is a "last resort", handed out repeatedly by design, and is
 * never reached). Baseline: NIP-98-authenticated GET /keypackages?owner= on the same relay,
 * which pays the same HTTP + NIP-98 verify but no write transaction.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { WebSocket } from 'ws';
import { pooledKeyPackage } from '../../test/helpers/mls-keypackages.js';
import { presigned, type EventSpec } from '../lib/events.js';
import { closeAll, publish } from '../lib/load.js';
import { initSigner, newKey, nip98, openAuthed, sign, type Key } from '../lib/nostr-auth.js';
import { startBenchRelay, type BenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';
import { Latencies, sleep } from '../lib/stats.js';
import type { NostrEvent } from '../../src/protocol/types.js';

const MEMBERS = Number(process.env.BENCH_GATEWAY_MEMBERS ?? 50);
const MESSAGES = 2_000;
const PACED = 1_000;
const WARM = 200;
/** Messages per member awaiting OK in the closed-loop phase. */
const WINDOW = 2;
const OWNERS = 400;
const STOCK = 16;
const CLAIM_CONNECTIONS = 16;
const TOPIC = 'gateway-fanout';

// Opaque "ciphertext" of a typical small MLS PrivateMessage; the same size for both kinds.
// The group id is derived from the set's first key so a cached set always names one group.
const messageEvents = (kind: 445 | 1, count: number): EventSpec => ({
  name: `gateway-${kind}-v1`,
  count,
  keys: 64,
  template: (i, now, pubkeys) => ({
    kind,
    created_at: now - 3600 + (i % 3600),
    tags: kind === 445 ? [['h', `bench-group-${pubkeys[0]!.slice(0, 16)}`], ['k', '1']] : [['t', TOPIC]],
    content: randomBytes(256).toString('base64'),
  }),
});

// One owner per key; each owner's KeyPackages one second apart, so claims take them in order.
const keyPackages = (): EventSpec => ({
  name: 'gateway-kp-v2',
  count: OWNERS * STOCK,
  keys: OWNERS,
  template: (i, now, pubkeys) => ({
    kind: 443,
    created_at: now - 3600 + Math.floor(i / OWNERS),
    tags: [['p', pubkeys[i % OWNERS]!], ['cs', '0x0001'], ['mls_ver', '1.0'], ['kpr', `bench-kp-${i}`], ['encoding', 'base64']],
    // Genuine ts-mls KeyPackages: the relay decodes and verifies every 443.
    content: pooledKeyPackage(),
    signer: i % OWNERS,
  }),
});

/** Sends one event and waits for its OK; throws on OK false. */
function publishOne(ws: WebSocket, e: NostrEvent): Promise<void> {
  return new Promise((ok, fail) => {
    const on = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as unknown[];
      if (m[0] !== 'OK' || m[1] !== e.id) return;
      ws.off('message', on);
      if (m[2] === true) ok();
      else fail(new Error(`kind ${e.kind} refused: ${String(m[3])}`));
    };
    ws.on('message', on);
    ws.send(JSON.stringify(['EVENT', e]));
  });
}

/** REQ and wait for EOSE (or CLOSED, returned as its reason). */
function subscribe(ws: WebSocket, subId: string, filter: object): Promise<string | undefined> {
  return new Promise((ok) => {
    const on = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as unknown[];
      if (m[1] !== subId || (m[0] !== 'EOSE' && m[0] !== 'CLOSED')) return;
      ws.off('message', on);
      ok(m[0] === 'CLOSED' ? String(m[2]) : undefined);
    };
    ws.on('message', on);
    ws.send(JSON.stringify(['REQ', subId, filter]));
  });
}

interface FanoutResult {
  messages: number;
  rejected: string[];
  deliveries: number;
  expected: number;
  duplicates: number;
  /** Publisher's send → a member's receipt, ms, one sample per delivery. */
  latency: Latencies;
  wallMs: number;
  cpuUs: number;
}

/**
 * Message j is published by member j % M on its own connection, and every member's
 * subscription `subId` must receive every message once. Closed loop with `window` per
 * member, or paced at `ratePerSec` (open loop). Waits up to 3 s after the last OK for
 * deliveries still on the way; what has not arrived by then counts as missed.
 */
async function fanout(relay: BenchRelay, members: WebSocket[], subId: string, events: NostrEvent[], o: { window: number } | { ratePerSec: number }): Promise<FanoutResult> {
  const frames = events.map((e) => JSON.stringify(['EVENT', e]));
  const sentAt = new Map<string, number>();
  const seen = members.map(() => new Set<string>());
  const inFlight = members.map(() => 0);
  const latency = new Latencies();
  const rejected: string[] = [];
  let next = 0;
  let oks = 0;
  let deliveries = 0;
  let duplicates = 0;
  let lastAt = 0;
  const M = members.length;
  const expected = events.length * M;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  let deadline: NodeJS.Timeout | undefined;

  const sendNext = () => {
    const j = next++;
    const s = j % M;
    inFlight[s]!++;
    sentAt.set(events[j]!.id, performance.now());
    members[s]!.send(frames[j]!);
  };
  // Closed loop: refill whichever member has room, in message order.
  const pump = () => {
    if (!('window' in o)) return;
    while (next < events.length && inFlight[next % M]! < o.window) sendNext();
  };
  const check = () => {
    if (deliveries === expected && oks === events.length) finish();
    else if (oks === events.length && deadline === undefined) deadline = setTimeout(finish, 3_000);
  };
  const handlers = members.map((ws, m) => {
    const h = (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as [string, string, unknown, string?];
      if (msg[0] === 'EVENT' && msg[1] === subId) {
        const id = (msg[2] as NostrEvent).id;
        if (!sentAt.has(id)) return; // a straggler from an earlier phase
        if (seen[m]!.has(id)) duplicates++;
        else {
          seen[m]!.add(id);
          deliveries++;
          lastAt = performance.now();
          latency.add(lastAt - sentAt.get(id)!);
        }
        check();
      } else if (msg[0] === 'OK' && sentAt.has(msg[1])) {
        oks++;
        inFlight[m]!--;
        if (msg[2] !== true) rejected.push(String(msg[3]));
        pump();
        check();
      }
    };
    ws.on('message', h);
    return h;
  });

  const c0 = relay.cpuMicros();
  const t0 = performance.now();
  let pacer: NodeJS.Timeout | undefined;
  if ('window' in o) pump();
  else {
    const rate = o.ratePerSec;
    pacer = setInterval(() => {
      const due = Math.min(events.length, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (next < due) sendNext();
      if (next === events.length) clearInterval(pacer);
    }, 1);
  }
  await done;
  clearInterval(pacer);
  clearTimeout(deadline);
  const cpuUs = relay.cpuMicros() - c0;
  members.forEach((ws, m) => ws.off('message', handlers[m]!));
  return { messages: events.length, rejected, deliveries, expected, duplicates, latency, wallMs: (lastAt || performance.now()) - t0, cpuUs };
}

// autocannon ships no types; this is the part of its API used here.
interface CannonRequest {
  method: string;
  path: string;
  setupRequest(req: CannonRequest): CannonRequest & { body: string; headers: Record<string, string> };
  onResponse(status: number, body: string): void;
}
interface CannonInstance extends PromiseLike<{ errors: number; timeouts: number }> {
  on(ev: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => CannonInstance;

interface HttpCall {
  path: string;
  body?: string;
  authorization: string;
}

/**
 * autocannon over keep-alive connections, one request in flight each; every request takes
 * the next prepared call. autocannon may build a request it never sends, so `calls` holds a
 * few spares beyond `amount`.
 */
async function httpLoad(relay: BenchRelay, method: 'GET' | 'POST', calls: HttpCall[], amount: number, onBody: (status: number, body: string) => void) {
  let i = 0;
  const latency = new Latencies();
  const c0 = relay.cpuMicros();
  const t0 = performance.now();
  const inst = autocannon({
    url: relay.httpUrl,
    connections: CLAIM_CONNECTIONS,
    pipelining: 1,
    amount,
    timeout: 10,
    requests: [
      {
        method,
        path: '/',
        setupRequest: (req: CannonRequest) => {
          const c = calls[Math.min(i++, calls.length - 1)]!;
          const headers: Record<string, string> = { authorization: c.authorization };
          if (c.body !== undefined) headers['content-type'] = 'application/json';
          return { ...req, method, path: c.path, body: c.body ?? '', headers };
        },
        onResponse: onBody,
      },
    ],
  });
  inst.on('response', (_c, _s, _b, ms) => latency.add(ms));
  const r = await inst;
  return { latency, wallMs: performance.now() - t0, cpuUs: relay.cpuMicros() - c0, errors: r.errors + r.timeouts };
}

const pct = (l: Latencies) => ({ value: l.percentile(50), unit: `/ ${l.percentile(99).toFixed(2)} ms` });
const rate = (n: number, ms: number) => n / (ms / 1000);

export const gateway: Scenario = {
  name: 'gateway',
  describe: `${MEMBERS}-member group: ${MESSAGES.toLocaleString('en-US')} 445s (vs kind 1) closed loop and ${PACED.toLocaleString('en-US')} paced; ${(OWNERS * (STOCK - 1)).toLocaleString('en-US')} KeyPackage claims over ${CLAIM_CONNECTIONS} HTTP connections`,
  async run() {
    const total = WARM + MESSAGES + PACED;
    const { events: g445 } = await presigned(messageEvents(445, total));
    const { events: k1 } = await presigned(messageEvents(1, total));
    const kps = await presigned(keyPackages());
    const group = g445[0]!.tags[0]![1]!;
    await initSigner();
    const admin = newKey();
    const keys: Key[] = Array.from({ length: MEMBERS }, newKey);
    const outsiderKey = newKey();

    const relay = await startBenchRelay({
      gateway: true,
      // BENCH_PROF=1: V8 CPU profiles of the relay (main thread and workers) in /tmp/prof-gateway.
      ...(process.env.BENCH_PROF ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-gateway'] } : {}),
      config: { 'extensions.mls_gateway': { admin_pubkeys: [admin.pk], max_keypackages_per_user: STOCK + 4 } },
    });
    const sockets: WebSocket[] = [];
    const rows: Row[] = [];
    try {
      const adminWs = await openAuthed(relay.url, admin);
      sockets.push(adminWs);
      await publishOne(adminWs, sign(admin, { kind: 450, tags: [['h', group], ['seq', '1'], ['op', 'bootstrap'], ...keys.map((k) => ['p', k.pk])] }));
      const members = await Promise.all(keys.map((k) => openAuthed(relay.url, k)));
      sockets.push(...members);
      const outsider = await openAuthed(relay.url, outsiderKey);
      sockets.push(outsider);
      for (const ws of members) {
        for (const [sub, filter] of [['g', { kinds: [445], '#h': [group], limit: 0 }], ['b', { kinds: [1], '#t': [TOPIC], limit: 0 }]] as const) {
          const closed = await subscribe(ws, sub, filter);
          if (closed) throw new Error(`member REQ ${sub} closed: ${closed}`);
        }
      }
      // The non-member's REQ may be accepted (events silently left out) or CLOSED; either way nothing may arrive.
      const outsiderClosed = await subscribe(outsider, 'g', { kinds: [445], '#h': [group], limit: 0 });
      let leaked = 0;
      outsider.on('message', (data: Buffer) => {
        if (data.toString().startsWith('["EVENT"')) leaked++;
      });

      const slice = (a: NostrEvent[], from: number, n: number) => a.slice(from, from + n);
      await fanout(relay, members, 'b', slice(k1, 0, WARM), { window: WINDOW });
      await fanout(relay, members, 'g', slice(g445, 0, WARM), { window: WINDOW });
      const base = await fanout(relay, members, 'b', slice(k1, WARM, MESSAGES), { window: WINDOW });
      const mls = await fanout(relay, members, 'g', slice(g445, WARM, MESSAGES), { window: WINDOW });
      const pace = Math.round(rate(mls.messages, mls.wallMs) / 2);
      const basePaced = await fanout(relay, members, 'b', slice(k1, WARM + MESSAGES, PACED), { ratePerSec: pace });
      const mlsPaced = await fanout(relay, members, 'g', slice(g445, WARM + MESSAGES, PACED), { ratePerSec: pace });
      await sleep(200); // anything leaking to the non-member would be on the wire by now

      const missed = mls.expected - mls.deliveries + (mlsPaced.expected - mlsPaced.deliveries);
      const rejected = [...mls.rejected, ...mlsPaced.rejected, ...base.rejected, ...basePaced.rejected];
      rows.push(
        {
          scenario: 'gateway',
          metric: `445 deliveries/s, ${MEMBERS} members × window ${WINDOW}`,
          value: rate(mls.deliveries, mls.wallMs),
          unit: 'del/s',
          baseline: { name: 'kind-1 fan-out', value: rate(base.deliveries, base.wallMs) },
        },
        { scenario: 'gateway', metric: '445 publish→receipt p50 / p99 at max', ...pct(mls.latency) },
        { scenario: 'gateway', metric: 'kind-1 publish→receipt p50 / p99 at max', ...pct(base.latency) },
        { scenario: 'gateway', metric: `445 publish→receipt p50 / p99 at ${pace} msg/s (half max)`, ...pct(mlsPaced.latency) },
        { scenario: 'gateway', metric: `kind-1 publish→receipt p50 / p99 at ${pace} msg/s`, ...pct(basePaced.latency) },
        {
          scenario: 'gateway',
          metric: 'relay CPU per 445 delivery',
          value: mls.cpuUs / Math.max(1, mls.deliveries),
          unit: 'µs',
          baseline: { name: 'kind-1', value: base.cpuUs / Math.max(1, base.deliveries) },
        },
        { scenario: 'gateway', metric: 'relay CPU per 445 published (all its deliveries)', value: mls.cpuUs / mls.messages, unit: 'µs' },
        {
          scenario: 'gateway',
          metric: `missed 445 deliveries, of ${(mls.expected + mlsPaced.expected).toLocaleString('en-US')} (duplicates ${mls.duplicates + mlsPaced.duplicates})`,
          value: missed,
          unit: 'deliveries',
          target: '0',
          met: missed === 0 && mls.duplicates + mlsPaced.duplicates === 0,
        },
        {
          scenario: 'gateway',
          metric: `445s received by a subscribed non-member (REQ ${outsiderClosed ? `CLOSED: ${outsiderClosed}` : 'accepted'})`,
          value: leaked,
          unit: 'events',
          target: '0',
          met: leaked === 0,
        },
      );
      if (rejected.length) rows.push({ scenario: 'gateway', metric: `messages refused, e.g. ${rejected[0]}`, value: rejected.length, unit: 'events', target: '0', met: false });

      // ---- KeyPackage claims over REST ----
      const load = await publish(relay.url, kps.events, { connections: 8, window: 64 });
      if (load.accepted !== kps.events.length) throw new Error(`KeyPackages: ${load.accepted} of ${kps.events.length} accepted (${JSON.stringify(load.rejected)})`);
      const claimers = Array.from({ length: CLAIM_CONNECTIONS }, newKey);
      const spare = 4 * CLAIM_CONNECTIONS;

      // Baseline: a NIP-98 read of an owner's stock (same HTTP and verify work, no write).
      const reads = OWNERS * 4;
      const getCalls = Array.from({ length: reads + spare }, (_, j): HttpCall => {
        const path = `/api/v1/keypackages?owner=${kps.pubkeys[j % OWNERS]}`;
        return { path, authorization: nip98(claimers[j % CLAIM_CONNECTIONS]!, relay.httpUrl + path, 'GET') };
      });
      let getFailed = 0;
      const get = await httpLoad(relay, 'GET', getCalls, reads, (status) => void (status === 200 || getFailed++));

      const claims = OWNERS * (STOCK - 1);
      const path = '/api/v1/keypackages/claim';
      const claimCalls = Array.from({ length: claims + spare }, (_, j): HttpCall => {
        const body = JSON.stringify({ owner: kps.pubkeys[j % OWNERS] });
        return { path, body, authorization: nip98(claimers[j % CLAIM_CONNECTIONS]!, relay.httpUrl + path, 'POST', body) };
      });
      const consumed = new Map<string, number>();
      const lastResort = new Set<string>();
      const failures: string[] = [];
      const claim = await httpLoad(relay, 'POST', claimCalls, claims, (status, body) => {
        if (status !== 200) return void failures.push(`${status} ${body.slice(0, 80)}`);
        const r = JSON.parse(body) as { event: NostrEvent; last_resort: boolean };
        if (r.last_resort) lastResort.add(r.event.id);
        else consumed.set(r.event.id, (consumed.get(r.event.id) ?? 0) + 1);
      });
      const twice = [...consumed.values()].filter((n) => n > 1).length + [...lastResort].filter((id) => consumed.has(id)).length;
      const answered = [...consumed.values()].reduce((a, b) => a + b, 0) + lastResort.size;

      rows.push(
        {
          scenario: 'gateway',
          metric: `KeyPackage claims/s, ${CLAIM_CONNECTIONS} HTTP connections`,
          value: rate(claim.latency.count, claim.wallMs),
          unit: 'claims/s',
          baseline: { name: 'GET /keypackages?owner=', value: rate(get.latency.count, get.wallMs) },
        },
        { scenario: 'gateway', metric: 'claim p50 / p99', ...pct(claim.latency) },
        { scenario: 'gateway', metric: 'GET /keypackages?owner= p50 / p99', ...pct(get.latency) },
        {
          scenario: 'gateway',
          metric: 'relay CPU per claim',
          value: claim.cpuUs / Math.max(1, claim.latency.count),
          unit: 'µs',
          baseline: { name: 'GET /keypackages', value: get.cpuUs / Math.max(1, get.latency.count) },
        },
        {
          scenario: 'gateway',
          metric: `KeyPackages handed out twice, of ${answered.toLocaleString('en-US')} claims (last resort ${lastResort.size})`,
          value: twice,
          unit: 'KeyPackages',
          target: '0',
          met: twice === 0,
        },
      );
      const failed = claims - answered + getFailed + get.errors; // non-200 answers and connection errors
      if (failed > 0) rows.push({ scenario: 'gateway', metric: `HTTP requests failed${failures[0] ? `, e.g. ${failures[0]}` : ''}`, value: failed, unit: 'requests', target: '0', met: false });
    } finally {
      await closeAll(sockets);
      await relay.stop();
    }
    return rows;
  },
};
