/**
 * A relay process for one benchmark: fresh data directory, bench-friendly config (rate
 * limits off, room for thousands of connections), its pid for /proc readings, stopped
 * and cleaned up by `stop()`. Set RELAY_BIN to benchmark another build of the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.js';
import { cpuMicros, peakRssBytes, rssBytes } from './proc.js';

export type TomlValue = string | number | boolean | string[];
/** `{ section: { key: value } }`; a dotted section name ("extensions.mls_gateway") is a nested table. */
export type ConfigPatch = Record<string, Record<string, TomlValue>>;

export interface BenchRelayOptions {
  /** Verify worker threads (thread.verify); default: the relay's own default. */
  verifyThreads?: number;
  /** The MLS gateway; off unless a scenario measures it. */
  gateway?: boolean;
  config?: ConfigPatch;
  /** Reuse a data directory (e.g. a pre-filled store); not removed by stop(). */
  dataDir?: string;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  nodeArgs?: string[];
  /** Every line the relay logs (pino JSON on stdout), e.g. to wait for 'cluster: snapshot stored'. */
  onLine?: (line: string) => void;
  /**
   * A JSONL file loaded with `mls-relay import --no-verify` into the data directory before
   * the relay starts (same config file), e.g. a store of a million events, which the
   * WebSocket path would take minutes to fill.
   */
  importFile?: string;
}

export interface BenchRelay {
  url: string;
  httpUrl: string;
  pid: number;
  dataDir: string;
  /** What the `importFile` preload took and printed (its summary line). */
  imported?: { ms: number; summary: string };
  cpuMicros(): number;
  rssBytes(): number;
  /** The relay's peak RSS so far (VmHWM). */
  peakRssBytes(): number;
  stop(): Promise<void>;
}

const BASE: ConfigPatch = {
  network: { host: '127.0.0.1', port: 0 },
  rate_limiter: { enabled: false },
  // Benchmarks open thousands of sockets from one address at once; the per-address cap on
  // sockets still in the HTTP phase would answer 429.
  limitation: { max_connections: 100_000, max_subscriptions: 100, max_limit: 1000, max_http_connections: 100_000, max_http_connections_per_ip: 100_000 },
};

function toml(patch: ConfigPatch): string {
  const value = (v: TomlValue) => (Array.isArray(v) ? `[${v.map((s) => JSON.stringify(s)).join(', ')}]` : JSON.stringify(v));
  return Object.entries(patch)
    .map(([section, keys]) => `[${section}]\n${Object.entries(keys).map(([k, v]) => `${k} = ${value(v)}`).join('\n')}\n`)
    .join('\n');
}

function merge(...patches: ConfigPatch[]): ConfigPatch {
  const out: ConfigPatch = {};
  for (const p of patches) for (const [s, keys] of Object.entries(p)) out[s] = { ...out[s], ...keys };
  return out;
}

export async function startBenchRelay(opts: BenchRelayOptions = {}): Promise<BenchRelay> {
  const dir = await mkdtemp(join(tmpdir(), 'mls-relay-bench-'));
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const patch = merge(
    BASE,
    { data: { path: dataDir } },
    opts.verifyThreads !== undefined ? { thread: { verify: opts.verifyThreads } } : {},
    { 'extensions.mls_gateway': { enabled: opts.gateway ?? false } },
    opts.config ?? {},
  );
  const file = join(dir, 'relay.toml');
  await writeFile(file, toml(patch));
  const bin = process.env.RELAY_BIN ?? join(ROOT, 'dist/src/cli/main.js');
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
  for (const k of Object.keys(env)) if (k === 'PORT' || k.startsWith('MLS_RELAY_')) delete env[k];
  let imported: { ms: number; summary: string } | undefined;
  try {
    if (opts.importFile !== undefined) imported = await runImport(bin, file, opts.importFile, env);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), bin, 'relay', '-c', file], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((ok, fail) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        opts.onLine?.(line);
        if (!line.includes('"msg":"listening"')) continue;
        // Without a line hook the rest of stdout is drained unread.
        if (!opts.onLine) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
        }
        ok((JSON.parse(line) as { port: number }).port);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(() => fail(new Error(`bench relay exited before listening\n${stderr}`)));
  });
  const pid = child.pid!;
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    pid,
    dataDir,
    imported,
    cpuMicros: () => cpuMicros(pid),
    rssBytes: () => rssBytes(pid),
    peakRssBytes: () => peakRssBytes(pid),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `mls-relay import --no-verify -i FILE` with the bench config; rejects unless it exits 0 having refused nothing. */
async function runImport(bin: string, config: string, input: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; summary: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'import', '-c', config, '--no-verify', '-i', input], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const summary = stdout.trim();
  if (code !== 0 || !/ invalid 0$/.test(summary)) throw new Error(`bench store import failed (exit ${code}): ${summary}\n${stderr}`);
  return { ms: performance.now() - t0, summary };
}
