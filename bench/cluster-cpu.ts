/**
 * Focused measure of what cluster mode costs per event on the ingest path: one relay instance
 * without the log and one with it (3-node NATS JetStream on loopback, replicas 3), alternated
 * `BENCH_REPS` times in one run so both see the same machine. Per round: accepted ev/s, relay
 * CPU per event (all threads, from /proc), NATS servers' CPU per event. With BENCH_PROFILE=DIR
 * every instance runs under --cpu-prof and writes its profiles to DIR/log<rep> or DIR/nolog<rep>.
 *
 *   node dist/bench/cluster-cpu.js            (BENCH_EVENTS=20000 BENCH_REPS=2)
 *   BENCH_BASE_BIN=.scratch/base/dist/src/cli/main.js node dist/bench/cluster-cpu.js
 */
import { availableParallelism, loadavg } from 'node:os';
import { startNatsCluster, natsAvailable, NATS_SKIP_MESSAGE } from '../test/helpers/nats-cluster.js';
import { presigned } from './lib/events.js';
import { publish } from './lib/load.js';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpuMicros } from './lib/proc.js';
import { startBenchRelay, type ConfigPatch } from './lib/relay.js';
import { ingestEvents } from './scenarios/ingest.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const REPS = Number(process.env.BENCH_REPS ?? 2);
const PROFILE = process.env.BENCH_PROFILE;
/** BENCH_PERF=DIR: `perf record` each instance during the measured round (true CPU, kernel included) into DIR/<mode><rep>.data. */
const PERF = process.env.BENCH_PERF;
/**
 * Rounds per rep, in order: `nolog` (this build, no cluster), `log` (this build with the log),
 * `base` (the build whose CLI is BENCH_BASE_BIN, with the log: a before/after in one run).
 */
const MODES = (process.env.BENCH_MODES ?? (process.env.BENCH_BASE_BIN ? 'nolog,base,log' : 'nolog,log')).split(',') as Array<'nolog' | 'log' | 'base'>;
const OWN_BIN = process.env.RELAY_BIN;
const O = { connections: 8, window: 64 };

/** Kernel-mode CPU of `pid` in µs (stime; clock ticks of 10 ms): socket writes and reads live here. */
function sysMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) * 1e4;
}

async function main(): Promise<void> {
  if (!natsAvailable()) return console.log(NATS_SKIP_MESSAGE);
  const { events } = await presigned(ingestEvents('cluster-ingest-v1', EVENTS));
  const { events: warm } = await presigned(ingestEvents('ingest-warm-v1', 2_000));
  const nats = await startNatsCluster({ nodes: 3, maxFileStore: 4 * 1024 ** 3 });
  const natsCpu = () => nats.urls.reduce((s, _, i) => s + (nats.pid(i) !== undefined ? cpuMicros(nats.pid(i)!) : 0), 0);
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${availableParallelism()} cores, ${EVENTS} events`);
  const sums: Record<string, { relay: number[]; nats: number[]; rate: number[] }> = {};
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const mode of MODES) {
        if (mode === 'base') process.env.RELAY_BIN = process.env.BENCH_BASE_BIN;
        else if (OWN_BIN === undefined) delete process.env.RELAY_BIN;
        else process.env.RELAY_BIN = OWN_BIN;
        const config: ConfigPatch =
          mode !== 'nolog' ? { cluster: { enabled: true, nats_url: nats.urls, stream: `cpu${mode}${rep}`, replicas: 3, instance_id: 'a' } } : {};
        const nodeArgs = PROFILE !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}/${mode}${rep}`] : PERF !== undefined ? ['--perf-basic-prof'] : [];
        const r = await startBenchRelay({ config, nodeArgs });
        try {
          await publish(r.url, warm, O);
          let perf: ReturnType<typeof spawn> | undefined;
          if (PERF !== undefined) {
            mkdirSync(PERF, { recursive: true });
            perf = spawn('perf', ['record', '-F', '2000', '-g', '-p', String(r.pid), '-o', `${PERF}/${mode}${rep}.data`], { stdio: 'ignore' });
            await new Promise((ok) => setTimeout(ok, 500));
          }
          const c0 = r.cpuMicros();
          const s0 = sysMicros(r.pid);
          const n0 = natsCpu();
          const res = await publish(r.url, events, O);
          if (perf !== undefined) {
            perf.kill('SIGINT');
            await new Promise((ok) => perf!.once('exit', ok));
          }
          const relay = (r.cpuMicros() - c0) / res.accepted;
          const sys = (sysMicros(r.pid) - s0) / res.accepted;
          const natsPer = (natsCpu() - n0) / res.accepted;
          const rate = res.accepted / (res.wallMs / 1000);
          ((sums[mode] ??= { relay: [], nats: [], rate: [] }).relay).push(relay);
          sums[mode]!.nats.push(natsPer);
          sums[mode]!.rate.push(rate);
          console.log(
            `${mode.padEnd(5)} rep ${rep}: ${rate.toFixed(0)} ev/s, relay ${relay.toFixed(0)} µs/ev (sys ${sys.toFixed(0)}), NATS ${natsPer.toFixed(0)} µs/ev, OK p50 ${res.latency.percentile(50).toFixed(1)} ms, accepted ${res.accepted}/${events.length}, load ${loadavg()[0]!.toFixed(2)}`,
          );
        } finally {
          await r.stop();
        }
      }
    }
  } finally {
    await nats.stop();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const [mode, s] of Object.entries(sums))
    console.log(
      `${mode.padEnd(5)} mean (median): ${mean(s.rate).toFixed(0)} (${median(s.rate).toFixed(0)}) ev/s, relay ${mean(s.relay).toFixed(0)} (${median(s.relay).toFixed(0)}) µs/ev, NATS ${mean(s.nats).toFixed(0)} (${median(s.nats).toFixed(0)}) µs/ev`,
    );
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
