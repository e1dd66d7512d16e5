/**
 * HTTP: autocannon against a gateway relay — NIP-11, /health, a NIP-98 REST read
 * (GET /groups/{id} by a member) and KeyPackage claims (POST, NIP-98 with payload hash).
 * Requests/s, p50/p99, non-2xx (must be 0) and relay CPU per request; req/s as a ratio
 * to a bare node:http server answering /health-like JSON, measured in the same run.
 * Claims consume KeyPackages, so that run is amount-based, sized by the stock published.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { WebSocket } from 'ws';
import { authenticate } from '../../src/client/nip42.js';
import { httpAuthHeader } from '../../src/client/nip98.js';
import { MlsRestClient } from '../../src/client/rest.js';
import { buildRosterEvent } from '../../src/client/roster.js';
import { generateSecretKey, publicKeyOf } from '../../src/client/sign.js';
import type { NostrEvent } from '../../src/protocol/types.js';
import { pooledKeyPackage } from '../../test/helpers/mls-keypackages.js';
import { cpuMicros } from '../lib/proc.js';
import { presigned, type EventSpec } from '../lib/events.js';
import { closeAll, open, publish } from '../lib/load.js';
import { startBenchRelay } from '../lib/relay.js';
import type { Row, Scenario } from '../lib/report.js';

const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 5);
/** 2 cores: autocannon takes one, the relay the other; more connections only add queueing. */
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 16);
const CLAIMS = Number(process.env.BENCH_HTTP_CLAIMS ?? 2_000);
const WARM = 300;
/** The default max_keypackages_per_user: a claim reads the owner's whole stock, so keep it realistic. */
const PER_OWNER = 15;
/** Every owner's last KeyPackage is a last resort, never consumed. */
const OWNERS = Math.ceil((CLAIMS + WARM) / (PER_OWNER - 1));

// autocannon ships no types; only the fields used here.
interface AcRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AcRequest) => AcRequest;
}
interface AcResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (o: { url: string; connections: number; duration?: number; amount?: number; requests?: AcRequest[] }) => Promise<AcResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** KeyPackages for OWNERS owners (signer i % OWNERS), each with a unique key ref. */
const keyPackages = (count: number): EventSpec => ({
  name: `http-kp-v2-${OWNERS}owners`,
  count,
  keys: OWNERS,
  template: (i, now, pubkeys) => ({
    kind: 443,
    created_at: now - 600,
    tags: [['p', pubkeys[i % OWNERS]!], ['cs', '0x0001'], ['mls_ver', '1.0'], ['kpr', `bench-kp-${i}`], ['encoding', 'base64']],
    // Genuine ts-mls KeyPackages: the relay decodes and verifies every 443.
    content: pooledKeyPackage(),
  }),
});

interface Measured {
  rate: number;
  r: AcResult;
  cpuUs: number;
}

/** One measured autocannon run (after a short warm-up), with the server's CPU. */
async function measure(pid: number, url: string, requests: AcRequest[], amount?: number): Promise<Measured> {
  await autocannon({ url, connections: CONNECTIONS, amount: WARM, requests });
  const c0 = cpuMicros(pid);
  const r = await autocannon({ url, connections: CONNECTIONS, ...(amount ? { amount } : { duration: SECONDS }), requests });
  const cpuUs = cpuMicros(pid) - c0;
  return { rate: r.requests.total / r.duration, r, cpuUs };
}

/** A bare node:http server in its own process: the ceiling for one core answering small JSON. */
async function startBaseline(): Promise<{ pid: number; url: string; stop(): Promise<void> }> {
  const code = `const s = require('node:http').createServer((q, r) => {
    const b = JSON.stringify({ status: 'healthy', version: '0.0.0', uptime_seconds: Math.floor(process.uptime()) });
    r.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
    r.end(b);
  });
  s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const port = await new Promise<number>((ok, fail) => {
      child.stdout!.once('data', (d: Buffer) => ok(Number(d.toString().trim())));
      void exited.then(() => fail(new Error('baseline server exited')));
    });
    return { pid: child.pid!, url: `http://127.0.0.1:${port}`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The group and KeyPackage stock the REST calls need: a group bootstrapped by a relay admin with `member`, OWNERS × PER_OWNER KeyPackages. */
async function seed(relayUrl: string, admin: Uint8Array, member: string, group: string, kps: NostrEvent[]): Promise<void> {
  const ws: WebSocket = await open(relayUrl);
  try {
    await authenticate(ws, [admin], { relayUrl });
    const roster = buildRosterEvent(admin, { groupId: group, seq: 1, op: 'bootstrap', members: [member] });
    const ok = new Promise<unknown[]>((r) =>
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as unknown[];
        if (m[0] === 'OK' && m[1] === roster.id) r(m);
      }),
    );
    ws.send(JSON.stringify(['EVENT', roster]));
    const m = await ok;
    if (m[2] !== true) throw new Error(`roster refused: ${String(m[3])}`);
  } finally {
    await closeAll([ws]);
  }
  const pub = await publish(relayUrl, kps, { connections: 4, window: 64 });
  if (pub.accepted !== kps.length) throw new Error(`KeyPackages: ${pub.accepted}/${kps.length} accepted ${JSON.stringify(pub.rejected)}`);
}

export const http: Scenario = {
  name: 'http',
  describe: `autocannon, ${CONNECTIONS} connections, ${SECONDS} s per read endpoint, ${CLAIMS.toLocaleString('en-US')} KeyPackage claims; baseline: bare node:http`,
  async run() {
    const kps = await presigned(keyPackages(OWNERS * PER_OWNER));
    const [admin, member, claimer] = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
    const group = 'ab'.repeat(32);
    const health: AcRequest[] = [{ method: 'GET', path: '/health' }];

    // The baseline runs before and after the relay's endpoints and the faster run counts:
    // on a shared machine one unlucky baseline run would skew every ratio.
    const bare = await startBaseline();
    try {
      const baseRuns = [await measure(bare.pid, bare.url, health)];
      const relay = await startBenchRelay({
        gateway: true,
        config: { 'extensions.mls_gateway': { admin_pubkeys: [publicKeyOf(admin)], max_keypackages_per_user: PER_OWNER } },
      });
      const results: Array<{ name: string; m: Measured }> = [];
      let consumed: number;
      try {
        await seed(relay.url, admin, publicKeyOf(member), group, kps.events);
        const rest = new MlsRestClient({ baseUrl: relay.httpUrl, secretKey: member });
        const pre = await rest.getGroup(group);
        if (!pre.ok) throw new Error(`GET /groups/{id} pre-flight: ${pre.status} ${pre.text}`);

        // NIP-98 tokens are signed just before each run (created_at must be within 60 s). A GET
        // token may be reused, so one serves a whole run; a POST token is spent on first use
        // (the relay's replay cache), so every claim of the warm-up and the run gets its own.
        const groupPath = `/api/v1/groups/${group}`;
        const claimPath = '/api/v1/keypackages/claim';
        const endpoints: Array<{ name: string; requests: () => AcRequest[]; amount?: number }> = [
          { name: 'NIP-11 (GET /)', requests: () => [{ method: 'GET', path: '/', headers: { accept: 'application/nostr+json' } }] },
          { name: 'GET /health', requests: () => health },
          {
            name: 'GET /api/v1/groups/{id} (NIP-98)',
            requests: () => [{ method: 'GET', path: groupPath, headers: { authorization: httpAuthHeader(member, { url: relay.httpUrl + groupPath, method: 'GET' }) } }],
          },
          {
            name: 'POST /api/v1/keypackages/claim (NIP-98)',
            amount: CLAIMS,
            requests: () => {
              // One token per request; setupRequest cycles owners across all connections.
              const prepared = Array.from({ length: WARM + CLAIMS + CONNECTIONS }, (_, j) => {
                const body = JSON.stringify({ owner: kps.pubkeys[j % kps.pubkeys.length] });
                return { body, headers: { 'content-type': 'application/json', authorization: httpAuthHeader(claimer, { url: relay.httpUrl + claimPath, method: 'POST', body }) } };
              });
              let next = 0;
              return [{ method: 'POST', path: claimPath, setupRequest: (req) => ({ ...req, ...prepared[next++ % prepared.length]! }) }];
            },
          },
        ];
        for (const e of endpoints) results.push({ name: e.name, m: await measure(relay.pid, relay.httpUrl, e.requests(), e.amount) });
        // Claims must have consumed stock, not only handed out last-resort KeyPackages.
        const stock = await Promise.all(kps.pubkeys.map((o) => rest.as(claimer).listKeyPackages(o)));
        consumed = kps.events.length - stock.reduce((n, s) => n + (s.ok ? s.data!.keypackages.length : 0), 0);
      } finally {
        await relay.stop();
      }
      baseRuns.push(await measure(bare.pid, bare.url, health));
      const base = baseRuns.reduce((a, b) => (b.rate > a.rate ? b : a));
      const baseRate = { name: 'bare node:http', value: base.rate };
      const baseCpu = { name: 'bare node:http', value: base.cpuUs / base.r.requests.total };

      const rows: Row[] = [];
      for (const { name, m: { rate, r, cpuUs } } of results) {
        const bad = r.non2xx + r.errors + r.timeouts;
        const codes = Object.entries(r.statusCodeStats).filter(([c]) => !c.startsWith('2')).map(([c, v]) => `${c}×${v.count}`);
        const detail = bad > 0 ? ` (${[...codes, `errors ${r.errors}`, `timeouts ${r.timeouts}`].join(', ')})` : '';
        rows.push(
          { scenario: 'http', metric: `${name} req/s`, value: rate, unit: 'req/s', baseline: baseRate },
          { scenario: 'http', metric: `${name} p50 / p99`, value: r.latency.p50, unit: `/ ${r.latency.p99} ms` },
          { scenario: 'http', metric: `${name} relay CPU per request`, value: cpuUs / Math.max(1, r.requests.total), unit: 'µs', baseline: baseCpu },
          { scenario: 'http', metric: `${name} non-2xx/errors${detail}`, value: bad, unit: 'req', target: '0', met: bad === 0 },
        );
      }
      rows.push(
        { scenario: 'http', metric: 'KeyPackages consumed by claims (warm-up + run)', value: consumed, unit: 'KPs', target: `${CLAIMS + WARM}`, met: consumed === CLAIMS + WARM },
        {
          scenario: 'http',
          metric: 'baseline: bare node:http GET /health, best of 2',
          value: base.rate,
          unit: `req/s (p50 ${base.r.latency.p50} / p99 ${base.r.latency.p99} ms; runs ${baseRuns.map((b) => Math.round(b.rate)).join(', ')} req/s)`,
        },
      );
      return rows;
    } finally {
      await bare.stop();
    }
  },
};
