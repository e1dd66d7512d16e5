/**
 * The cluster log's parts, one at a time, in this process: CPU per event of encoding and
 * decoding the log entry, of appending through nats.js (JetStream publish, request/reply, with
 * and without the Nats-Expected-Stream header) and of reading the stream back through the ordered
 * consumer the applier uses; with the NATS servers' CPU per event for the appends. A 3-node
 * JetStream cluster on loopback (replicas 3), as the relay would use. Appends run W at a time,
 * as the relay's ingest does. Says where bench/cluster-cpu.ts's extra relay CPU goes.
 *
 *   node dist/bench/cluster-parts.js     (BENCH_EVENTS=20000, BENCH_WINDOW=512, BENCH_REPS=2)
 */
import { connect, createInbox, headers } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { loadavg } from 'node:os';
import { startNatsCluster, natsAvailable, NATS_SKIP_MESSAGE } from '../test/helpers/nats-cluster.js';
import { appendId, decodeEntry, encodeEntry, type LogEntry } from '../src/cluster/entry.js';
import { presigned } from './lib/events.js';
import { cpuMicros } from './lib/proc.js';
import { ingestEvents } from './scenarios/ingest.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 512);
const REPS = Number(process.env.BENCH_REPS ?? 2);

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function main(): Promise<void> {
  if (!natsAvailable()) return console.log(NATS_SKIP_MESSAGE);
  const { events } = await presigned(ingestEvents('cluster-ingest-v1', EVENTS));
  const entries: LogEntry[] = events.map((ev) => ({ v: 1, k: 'e', id: appendId(), o: 'a', at: Math.floor(Date.now() / 1000), ev, pk: [] }));
  const nats = await startNatsCluster({ nodes: 3, maxFileStore: 4 * 1024 ** 3 });
  const natsCpu = () => nats.urls.reduce((s, _, i) => s + (nats.pid(i) !== undefined ? cpuMicros(nats.pid(i)!) : 0), 0);
  const nc = await connect({ servers: nats.urls, noAsyncTraces: true });
  const out: Record<string, number[]> = {};
  const note = (k: string, v: number) => (out[k] ??= []).push(v);
  console.log(`load ${loadavg()[0]!.toFixed(2)}, ${EVENTS} events, window ${WINDOW}`);
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc, { timeout: 5000 });
    // The appends' acks on one subscription, each message's reply subject naming its waiter.
    const inbox = `${createInbox()}.`;
    const waiting = new Map<string, (seq: number) => void>();
    nc.subscribe(`${inbox}*`, {
      callback: (_err, m) => {
        const token = m.subject.slice(inbox.length);
        const ack = m.json<{ seq: number }>();
        waiting.get(token)?.(ack.seq);
        waiting.delete(token);
      },
    });
    let tokens = 0;
    const ownReply = (subject: string, data: Uint8Array, id: string | undefined, expectStream?: string) =>
      new Promise<number>((resolve) => {
        const token = (tokens++).toString(36);
        waiting.set(token, resolve);
        const h = headers();
        if (id !== undefined) h.set('Nats-Msg-Id', id);
        if (expectStream !== undefined) h.set('Nats-Expected-Stream', expectStream);
        nc.publish(subject, data, { reply: inbox + token, ...(id !== undefined ? { headers: h } : {}) });
      });
    for (let rep = 0; rep < REPS; rep++) {
      // Pure CPU: the entry's msgpack encode and decode.
      let c0 = cpu();
      const datas = entries.map((e) => encodeEntry(e));
      note('encode entry (msgpack)', (cpu() - c0) / EVENTS);
      c0 = cpu();
      for (const d of datas) if (typeof decodeEntry(d) === 'string') throw new Error('decode');
      note('decode entry (msgpack)', (cpu() - c0) / EVENTS);
      c0 = cpu();
      for (const ev of events) JSON.stringify(ev);
      note('(for scale) JSON.stringify of the event', (cpu() - c0) / EVENTS);

      const variants: Array<[string, (i: number) => Promise<unknown>]> = [
        ['append: js.publish, msgID + expect stream', (i) => js.publish(`p${rep}a.log`, datas[i]!, { msgID: `${rep}a${i}`, expect: { streamName: `p${rep}a` } })],
        ['append: js.publish, msgID only', (i) => js.publish(`p${rep}b.log`, datas[i]!, { msgID: `${rep}b${i}` })],
        ['append: nc.publish, msgID, acks on one inbox subscription', (i) => ownReply(`p${rep}c.log`, datas[i]!, `${rep}c${i}`)],
        ['append: nc.publish, msgID + expect stream, acks on one inbox', (i) => ownReply(`p${rep}d.log`, datas[i]!, `${rep}d${i}`, `p${rep}d`)],
        ['append: nc.publish, no headers (no dedupe), acks on one inbox', (i) => ownReply(`p${rep}e.log`, datas[i]!, undefined)],
      ];
      for (const [name, fn] of variants) {
        const stream = `p${rep}${name.includes('no headers') ? 'e' : name.includes('inbox') ? (name.includes('expect') ? 'd' : 'c') : name.includes('expect') ? 'a' : 'b'}`;
        await jsm.streams.add({ name: stream, subjects: [`${stream}.log`], storage: StorageType.File, num_replicas: 3 });
        for (let i = 0; i < 200; i++) await fn(i); // warm
        const n0 = natsCpu();
        c0 = cpu();
        const t0 = performance.now();
        let next = 200;
        await Promise.all(
          Array.from({ length: WINDOW }, async () => {
            while (next < EVENTS) await fn(next++);
          }),
        );
        const n = EVENTS - 200;
        note(name, (cpu() - c0) / n);
        note(`${name}: NATS servers`, (natsCpu() - n0) / n);
        note(`${name}: ev/s`, n / ((performance.now() - t0) / 1000));
      }

      // Reading back: the applier's ordered consumer over the first stream.
      const r0 = natsCpu();
      c0 = cpu();
      const c = await js.consumers.get(`p${rep}a`, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
      const messages = await c.consume({ max_messages: 1024, expires: 5000, idle_heartbeat: 1000 });
      let got = 0;
      for await (const m of messages) {
        void m.seq;
        void m.data;
        void m.info.pending;
        if (++got >= EVENTS) break;
      }
      messages.stop();
      note('read: ordered consumer delivery (seq, data, info.pending)', (cpu() - c0) / EVENTS);
      note('read: ordered consumer delivery: NATS servers', (natsCpu() - r0) / EVENTS);
      console.log(`  rep ${rep} done, load ${loadavg()[0]!.toFixed(2)}`);
    }
  } finally {
    await nc.close();
    await nats.stop();
  }
  for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(62)} ${v.map((x) => x.toFixed(1).padStart(7)).join(' ')}  ${k.endsWith('ev/s') ? '' : 'µs/ev'}`);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
