/**
 * Shared pieces of the cluster start-up and fault suites: the relay's [cluster] TOML, what an
 * outside observer reads (/ready, COUNT, REQ by ids, the stream's state on a NATS node's
 * monitoring port, the log's entries through the NATS client library), and bounded polling.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Packr } from 'msgpackr';
import type { NatsCluster } from '../helpers/nats-cluster.js';
import type { RelayHandle } from '../helpers/relay-process.js';
import { connect, type Event, type OkMessage, type RawClient } from '../helpers/ws-client.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stream name no other test (or earlier run against the same NATS) uses. */
export function streamName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** The [cluster] section for one instance, plus any extra TOML (other sections) after it. */
export function clusterToml(nats: NatsCluster, stream: string, instanceId: string, clusterExtra = '', extra = ''): string {
  return [
    '[cluster]',
    'enabled = true',
    `nats_url = ${JSON.stringify(nats.urls)}`,
    `stream = "${stream}"`,
    'replicas = 3',
    `instance_id = "${instanceId}"`,
    clusterExtra,
    extra,
  ].join('\n');
}

export interface Ready {
  status: number;
  code?: string;
  body: Record<string, unknown>;
}

export async function ready(relay: RelayHandle): Promise<Ready> {
  const res = await fetch(`${relay.httpUrl}/ready`, { signal: AbortSignal.timeout(2_000) });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, code: typeof body.code === 'string' ? body.code : undefined, body };
}

/** Polls until `check` returns a value (not undefined) or the bound passes; `what` names it in the failure. */
export async function until<T>(what: string, boundMs: number, check: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + boundMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

export async function waitReadyCode(relay: RelayHandle, status: number, code: string | undefined, boundMs: number): Promise<Ready> {
  return until(`${relay.url} /ready ${status} ${code ?? ''}`, boundMs, async () => {
    const r = await ready(relay);
    return r.status === status && (code === undefined || r.code === code) ? r : undefined;
  });
}

/** COUNT of `filter` on one instance (a fresh connection, closed after). */
export async function countOn(relay: RelayHandle, filter: Record<string, unknown>): Promise<number> {
  const c = await connect(relay.url);
  try {
    const r = await c.count(`n-${randomBytes(3).toString('hex')}`, filter);
    assert.equal(typeof r.count, 'number', `COUNT on ${relay.url}: ${JSON.stringify(r)}`);
    return r.count!;
  } finally {
    await c.close();
  }
}

/** How many times each of `ids` is served by one instance (REQ by ids, in chunks under max_limit). */
export async function servedIds(relay: RelayHandle, ids: string[], c?: RawClient): Promise<Map<string, number>> {
  const own = c === undefined;
  const client = c ?? (await connect(relay.url));
  const seen = new Map<string, number>();
  try {
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200);
      const r = await client.reqWithTimeout(10_000, `ids-${i}`, { ids: chunk, limit: chunk.length });
      assert.equal(r.eose, true, `REQ by ids on ${relay.url} closed: ${r.closed}`);
      for (const e of r.events) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
    }
  } finally {
    if (own) await client.close();
  }
  return seen;
}

/** Asserts every id is served exactly once by the instance. */
export async function assertServesAll(relay: RelayHandle, ids: string[], label: string): Promise<void> {
  const seen = await servedIds(relay, ids);
  const missing = ids.filter((id) => !seen.has(id));
  assert.deepEqual(missing.slice(0, 5), [], `${label}: ${missing.length} of ${ids.length} acknowledged events missing on ${relay.url}`);
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${label}: events served more than once`);
}

export interface StreamState {
  messages: number;
  first_seq: number;
  last_seq: number;
  leader?: string;
  /** The stream's config as the server holds it (duplicate_window in ns, num_replicas). */
  config?: { duplicate_window?: number; num_replicas?: number; max_age?: number };
}

/** The stream's state as one NATS node's monitoring endpoint reports it (/jsz?streams=true). */
export async function streamState(nats: NatsCluster, node: number, stream: string): Promise<StreamState | undefined> {
  const res = await fetch(`${nats.monitorUrls[node]}/jsz?streams=true&config=true`, { signal: AbortSignal.timeout(2_000) });
  type Detail = { name: string; state: StreamState; cluster?: { leader?: string }; config?: StreamState['config'] };
  const j = (await res.json()) as { account_details?: Array<{ stream_detail?: Detail[] }> };
  for (const acc of j.account_details ?? []) {
    for (const s of acc.stream_detail ?? []) {
      if (s.name === stream) return { ...s.state, leader: s.cluster?.leader, config: s.config };
    }
  }
  return undefined;
}

export interface LogRecord {
  seq: number;
  /** The append id (the relay publishes it as Nats-Msg-Id). */
  id: string;
  kind: 'e' | 'o';
  eventId?: string;
  op?: string;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Every message the stream holds now, decoded (read with the NATS client library, not the relay). */
export async function readLog(nats: NatsCluster, stream: string): Promise<LogRecord[]> {
  const nc = await natsConnect({ servers: nats.urls.filter((_, i) => nats.isRunning(i)), timeout: 5_000 });
  try {
    const js = jetstream(nc, { timeout: 5_000 });
    const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: LogRecord[] = [];
    if (info.state.messages === 0) return out;
    const consumer = await js.consumers.get(stream);
    const last = info.state.last_seq;
    const iter = await consumer.consume({ max_messages: 1000 });
    for await (const m of iter) {
      const e = packr.unpack(m.data) as { id: string; k: 'e' | 'o'; ev?: { id: string }; op?: string };
      out.push({ seq: m.seq, id: e.id, kind: e.k, eventId: e.ev?.id, op: e.op });
      if (m.seq >= last) break;
    }
    iter.stop();
    return out;
  } finally {
    await nc.close();
  }
}

/** Publishes on one connection and resolves with the OK (or a synthetic timeout OK after `ms`). */
export async function publishTimed(c: RawClient, e: Event, ms: number): Promise<{ ok: OkMessage; ms: number }> {
  const t0 = performance.now();
  const ok = await c.publish(e, ms);
  return { ok, ms: performance.now() - t0 };
}

/** Kills a relay process we started (SIGKILL by its pid) and waits until it is gone. */
export async function sigkill(relay: RelayHandle): Promise<void> {
  process.kill(relay.pid, 'SIGKILL');
  await until(`relay pid ${relay.pid} gone`, 5_000, async () => {
    try {
      process.kill(relay.pid, 0);
      return undefined;
    } catch {
      return true;
    }
  }, 20);
}

