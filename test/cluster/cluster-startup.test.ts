/**
 * Cluster mode, issue 9 "Start-up and catch-up", from outside: real 3-node NATS JetStream, real relay
 * processes. An instance with a short snapshot_interval stores a snapshot and the log is compacted
 * behind it (the stream's first sequence moves up, read on a NATS node's monitoring port); a new
 * instance with an empty data directory restores the newest snapshot, replays the rest of the log,
 * answers /ready 503 catching_up and refuses WebSockets with 503 meanwhile, and only then is ready
 * and serves every acknowledged event. Skips when nats-server is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { NATS_SKIP_MESSAGE, natsAvailable, startNatsCluster } from '../helpers/nats-cluster.js';
import { makeTempDir, removeDir, startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { connect, newKeys, publishAll, signEvent } from '../helpers/ws-client.js';
import { freePort } from '../helpers/relay-process.js';
import { clusterToml, countOn, servedIds, sleep, streamName, streamState, until } from './faults-support.js';

const skip = natsAvailable() ? false : NATS_SKIP_MESSAGE;

/** Events before the first snapshot, and the tail the new instance must replay from the log. */
const BEFORE_SNAPSHOT = 300;
const TAIL = 3000;

function logRecord(relay: RelayHandle, msg: string | RegExp): Record<string, unknown> | undefined {
  return relay.logRecords().find((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg))));
}

/** Tries a WebSocket upgrade; resolves with the HTTP status it was refused with, or 101 when it opened. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade at ${url}`));
    }, 3_000);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

test('start-up: snapshot + compaction, a new empty instance restores, replays, is 503 catching_up until complete, then serves everything', { skip, timeout: 90_000 }, async (t) => {
  const nats = await startNatsCluster({ nodes: 3 });
  t.after(() => nats.stop());
  const stream = streamName('startup');
  const relays: RelayHandle[] = [];
  const dirs: string[] = [];
  t.after(async () => {
    for (const r of relays) await r.stop().catch(() => undefined);
    for (const d of dirs) await removeDir(d);
  });
  const keys = newKeys();
  const acked: string[] = [];

  // Instance A snapshots every 2 s and keeps one snapshot: the log before it is purged at once.
  const a = await startRelay({ toml: clusterToml(nats, stream, 'a', 'snapshot_interval = "2s"\nsnapshots_kept = 1') });
  relays.push(a);
  const ca = await connect(a.url);
  const first = Array.from({ length: BEFORE_SNAPSHOT }, (_, i) => signEvent(keys, { content: `before snapshot ${i}` }));
  for (const ok of await publishAll(ca, first, 30_000)) {
    assert.equal(ok[2], true, JSON.stringify(ok));
    acked.push(ok[1]);
  }
  await ca.close();
  const stored = await until('A logs "cluster: snapshot stored" covering the preload', 15_000, async () => {
    const r = a.logRecords().find((x) => x.msg === 'cluster: snapshot stored' && Number(x.position) >= BEFORE_SNAPSHOT);
    return r;
  }, 200);
  const snapPos = Number(stored.position);
  const compacted = await until('the stream\'s first sequence moved past the snapshot', 10_000, async () => {
    const s = await streamState(nats, 0, stream);
    return s !== undefined && s.first_seq > snapPos ? s : undefined;
  }, 200);
  assert.equal(compacted.first_seq, snapPos + 1, `compaction purges exactly what the kept snapshot covers: ${JSON.stringify(compacted)}`);
  // A stops: nothing snapshots the tail below, so the next instance must replay it from the log.
  assert.equal(await a.stop(), 0);

  // Instance B (empty dir, snapshots effectively off) restores that snapshot and takes the long tail.
  const b = await startRelay({ toml: clusterToml(nats, stream, 'b', 'snapshot_interval = "1h"') });
  relays.push(b);
  assert.ok(logRecord(b, /restored the newest snapshot/), 'B restored the snapshot');
  const cb = await connect(b.url);
  const tail = Array.from({ length: TAIL }, (_, i) => signEvent(keys, { content: `tail ${i}` }));
  const t0 = Date.now();
  for (const ok of await publishAll(cb, tail, 60_000)) {
    assert.equal(ok[2], true, JSON.stringify(ok));
    acked.push(ok[1]);
  }
  t.diagnostic(`${TAIL} events through B in ${Date.now() - t0} ms`);
  await cb.close();
  const end = (await streamState(nats, 0, stream))!;
  assert.ok(end.first_seq > 1, 'the log stays compacted');

  // Instance C, empty data dir, on a port picked here: the relay binds it before the catch-up but logs
  // "listening" only once it is ready, so /ready is polled from the spawn on, not from that line.
  const dir = await makeTempDir();
  dirs.push(dir);
  const port = await freePort();
  const starting = startRelay({ toml: clusterToml(nats, stream, 'c', 'snapshot_interval = "1h"', `[network]\nport = ${port}`), dataDir: dir, waitReady: false });
  starting.then((r) => relays.push(r), () => undefined);
  const base = `http://127.0.0.1:${port}`;
  const codes = new Map<string, number>();
  let refusedUpgrade: number | undefined;
  let openedBeforeReady = false;
  let first200At: number | undefined;
  const deadline = Date.now() + 30_000;
  let apiWhileCatchingUp: number | undefined;
  while (first200At === undefined) {
    assert.ok(Date.now() < deadline, `C not ready within 30 s: ${JSON.stringify([...codes])}`);
    let r: { status: number; code?: string };
    try {
      const res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { code?: string };
      r = { status: res.status, code: body.code };
    } catch {
      await sleep(10); // not listening yet
      continue;
    }
    if (r.status === 200) {
      first200At = Date.now();
      break;
    }
    assert.equal(r.status, 503);
    codes.set(String(r.code), (codes.get(String(r.code)) ?? 0) + 1);
    if (refusedUpgrade === undefined && r.code === 'catching_up') {
      const s = await upgradeStatus(`ws://127.0.0.1:${port}`);
      if (s === 101) openedBeforeReady = (await fetch(`${base}/ready`).then((x) => x.status)) !== 200;
      else refusedUpgrade = s;
      // The REST API is held too: a read would come from a partial view.
      const api = await fetch(`${base}/api/v1/groups`, { signal: AbortSignal.timeout(2_000) });
      const stillCatchingUp = (await fetch(`${base}/ready`).then((x) => x.status)) === 503;
      if (stillCatchingUp) apiWhileCatchingUp = api.status;
    }
    await sleep(10);
  }
  const c = await starting;
  t.diagnostic(`C /ready answers before 200: ${JSON.stringify([...codes])}`);
  assert.deepEqual([...codes.keys()], ['catching_up'], 'every 503 while starting says catching_up');
  assert.equal(refusedUpgrade, 503, 'a WebSocket upgrade during catch-up is refused with 503');
  assert.equal(openedBeforeReady, false, 'no WebSocket opened while /ready was 503');
  t.diagnostic(`REST call while catching up: ${apiWhileCatchingUp ?? 'window too short to see'}`);
  if (apiWhileCatchingUp !== undefined) assert.equal(apiWhileCatchingUp, 503, 'a REST call during catch-up is refused with 503');

  const restored = logRecord(c, /restored the newest snapshot/);
  assert.ok(restored, 'C restored the newest snapshot into its empty data dir');
  assert.ok(Number(restored.position) >= snapPos, JSON.stringify(restored));
  const caught = logRecord(c, 'cluster: caught up with the log; ready');
  assert.ok(caught, 'C logged its catch-up');
  assert.equal(Number(caught.from), Number(restored.position), 'replay starts where the snapshot ends');
  assert.equal(Number(caught.to), end.last_seq, 'replay goes to the end of the log');
  assert.ok(Date.parse(String(caught.time)) <= first200At, '/ready is 200 only after the catch-up is done');
  t.diagnostic(`C restored ${String(restored.snapshot)} (position ${String(restored.position)}), replayed ${String(caught.from)}..${String(caught.to)} in ${String(caught.ms)} ms`);

  // Ready means complete: every acknowledged event, once.
  assert.equal(await countOn(c, { authors: [keys.pk] }), acked.length);
  const seen = await servedIds(c, acked);
  assert.equal(seen.size, acked.length, 'C serves every acknowledged event');
  assert.ok([...seen.values()].every((n) => n === 1));
  assert.equal(await countOn(b, { authors: [keys.pk] }), acked.length);
});
