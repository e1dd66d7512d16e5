/**
 * The NATS test harness itself (test/helpers/nats-cluster.ts): a real 3-node JetStream cluster on
 * loopback answers the JetStream API, keeps accepting writes to a replicas=3 stream with one node
 * SIGKILLed, brings the node back caught up, and leaves no process or temp dir behind.
 * It talks to NATS over the raw text protocol (test/helpers/nats-wire.ts), not the client library,
 * so it checks the server side alone. Skips when nats-server is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { NATS_SKIP_MESSAGE, natsAvailable, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { NatsWire } from '../helpers/nats-wire.js';

const skip = natsAvailable() ? false : NATS_SKIP_MESSAGE;

interface PubAck {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; description: string };
}

async function publish(c: NatsWire, subject: string, data: string, msgId?: string, timeoutMs = 2_000): Promise<PubAck> {
  const m = await c.request(subject, data, { headers: msgId ? { 'Nats-Msg-Id': msgId } : undefined, timeoutMs });
  if (m.headers && /^NATS\/1\.0 503/.test(m.headers)) throw new Error(`publish to ${subject}: no responders`);
  return JSON.parse(m.data.toString('utf8')) as PubAck;
}

/** Publishes until the stream acknowledges (a stream leader election after a kill takes a few seconds). */
async function publishUntilAcked(c: NatsWire, subject: string, data: string, msgId: string, deadlineMs: number): Promise<PubAck> {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    try {
      const ack = await publish(c, subject, data, msgId, 1_000);
      if (ack.seq !== undefined) return ack;
      last = JSON.stringify(ack);
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`no PubAck within ${deadlineMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function pidsAlive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

function serverPids(cluster: NatsCluster): number[] {
  return cluster.names.map((_, i) => cluster.pid(i)).filter((p): p is number => p !== undefined);
}

test('a 3-node JetStream cluster: replicas=3 stream keeps accepting writes with one node killed, the node rejoins caught up', { skip, timeout: 90_000 }, async (t) => {
  const cluster = await startNatsCluster({ nodes: 3 });
  t.after(() => cluster.stop());
  assert.equal(cluster.urls.length, 3);
  for (const u of cluster.urls) assert.match(u, /^nats:\/\/127\.0\.0\.1:\d+$/);
  const pids = serverPids(cluster);
  assert.equal(pids.length, 3);

  // JetStream answers through the client protocol on every node.
  const clients: NatsWire[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  for (const u of cluster.urls) {
    const c = await NatsWire.connect(u);
    clients.push(c);
    const info = await c.jsApi('INFO');
    assert.equal(info.error, undefined, JSON.stringify(info));
    assert.equal(info.type, 'io.nats.jetstream.api.v1.account_info_response');
  }

  const created = await clients[0]!.jsApi(
    'STREAM.CREATE.HARNESS',
    { name: 'HARNESS', subjects: ['harness.>'], storage: 'file', num_replicas: 3, duplicate_window: 120e9 },
    10_000,
  );
  assert.equal(created.error, undefined, JSON.stringify(created));
  assert.equal(created.config.num_replicas, 3);

  const first = await publishUntilAcked(clients[0]!, 'harness.a', 'm1', 'id-1', 10_000);
  assert.equal(first.stream, 'HARNESS');
  assert.equal(first.seq, 1);

  // Kill the stream's leader (the hardest node to lose) and write through a surviving node.
  const info = await clients[0]!.jsApi('STREAM.INFO.HARNESS');
  const leaderName: string = info.cluster.leader;
  const victim = cluster.names.indexOf(leaderName);
  assert.ok(victim >= 0, `stream leader ${leaderName} is one of ${cluster.names.join(', ')}`);
  await cluster.kill(victim);
  assert.equal(cluster.isRunning(victim), false);
  const survivor = clients[(victim + 1) % 3]!;

  const acks: PubAck[] = [];
  for (let i = 2; i <= 11; i++) acks.push(await publishUntilAcked(survivor, 'harness.a', `m${i}`, `id-${i}`, 20_000));
  assert.deepEqual(
    acks.map((a) => a.seq),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  );
  // Nats-Msg-Id dedup holds across the leader change: the same id is acknowledged as a duplicate, not stored again.
  const dup = await publish(survivor, 'harness.a', 'm1 again', 'id-1');
  assert.equal(dup.duplicate, true, JSON.stringify(dup));
  assert.equal(dup.seq, 1);

  // Back with the same ports and store; waitReady returns once the meta leader lists it as current again.
  await cluster.restart(victim);
  await cluster.waitReady();
  const back = await NatsWire.connect(cluster.urls[victim]!);
  clients.push(back);
  assert.equal((await back.jsApi('INFO')).error, undefined);

  // The restarted node's own replica catches up to seq 11 (its monitoring view, not the leader's answer).
  const deadline = Date.now() + 20_000;
  let lastSeq = -1;
  while (Date.now() < deadline) {
    const res = await fetch(`${cluster.monitorUrls[victim]}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(1_000) });
    const jsz = (await res.json()) as any;
    const stream = jsz.account_details?.flatMap((a: any) => a.stream_detail ?? []).find((s: any) => s.name === 'HARNESS');
    lastSeq = stream?.state?.last_seq ?? -1;
    if (lastSeq === 11) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(lastSeq, 11, `restarted node ${cluster.names[victim]} caught up to the stream's last sequence`);

  const after = await publish(back, 'harness.a', 'm12', 'id-12', 5_000);
  assert.equal(after.seq, 12);

  // stop() ends every server (the restarted one too) and removes the temp dir.
  const allPids = [...pids, ...serverPids(cluster)];
  clients.forEach((c) => c.close());
  await cluster.stop();
  assert.deepEqual(pidsAlive(allPids), []);
  assert.equal(existsSync(cluster.root), false);
});

test('a single JetStream server (nodes: 1) for quick tests', { skip, timeout: 30_000 }, async (t) => {
  const nats = await startNatsCluster({ nodes: 1 });
  t.after(() => nats.stop());
  assert.equal(nats.urls.length, 1);
  const c = await NatsWire.connect(nats.urls[0]!);
  t.after(() => c.close());
  const created = await c.jsApi('STREAM.CREATE.ONE', { name: 'ONE', subjects: ['one.>'], storage: 'file', num_replicas: 1 });
  assert.equal(created.error, undefined, JSON.stringify(created));
  assert.equal((await publish(c, 'one.x', 'a', 'x1')).seq, 1);
  assert.equal((await publish(c, 'one.x', 'a', 'x1')).duplicate, true);
  c.close();
  await nats.stop();
  assert.equal(existsSync(nats.root), false);
});

test('a node that cannot start fails startNatsCluster with its log, and nothing is left running', { skip, timeout: 30_000 }, async () => {
  // An invalid config line makes every nats-server exit at once; the error must carry the server's own words.
  await assert.rejects(
    startNatsCluster({ nodes: 1, extraConfig: 'this_is_not_a_nats_option: [' }),
    (err: Error) => /exited unexpectedly/.test(err.message) && /n0/.test(err.message),
  );
});
