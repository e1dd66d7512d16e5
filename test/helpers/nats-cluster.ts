/**
 * Starts a real NATS JetStream cluster (the `nats-server` binary, Debian package `nats-server`, 2.9)
 * on loopback ports in a temp dir, for the cluster-mode tests.
 *
 * - `natsAvailable()` says whether the binary is there (NATS_SERVER_BIN, then PATH, then
 *   /usr/sbin/nats-server, where Debian puts it and where a non-root PATH often does not look).
 * - Every node gets three ports picked by the OS (client, cluster route, monitoring); they are fixed
 *   for the node's life so `restart(i)` comes back where the others and the clients expect it.
 * - Readiness (`waitReady`) is read from the monitoring port: on 2.9.10 plain `/healthz` answers 503
 *   "JetStream has not established contact with a meta leader" until a meta leader is known and
 *   "JetStream is not current with the meta leader" while a (re)started node catches up
 *   (`?js-enabled-only=true` only says JetStream is switched on, true at once, so it is not used).
 *   On top of that every running node must name the same meta leader, and in a cluster the leader must
 *   list every running node as a current peer. A stream's replica on a restarted node may still be
 *   catching up after that: a test that needs it reads the node's /jsz?streams=true (as the harness test does).
 * - A node that exits without `kill()`/`stop()` is a crash: `waitReady` fails at once with its log tail.
 * - `stop()` stops every node (SIGTERM, then SIGKILL after a bound) and removes the temp dir, also when
 *   something failed on the way; a process-exit hook SIGKILLs whatever is left if a test file dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const DEBIAN_PATH = '/usr/sbin/nats-server';
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_LINES_KEPT = 200;
const LOG_TAIL = 30;

export interface NatsClusterOptions {
  /** Number of servers (default 3). 1 starts a plain JetStream server without a cluster block. */
  nodes?: number;
  /** JetStream file store limit per node, in bytes (default 1 GiB; the object store tests put 50 MB blobs). */
  maxFileStore?: number;
  /** Extra nats-server config appended to every node's file (e.g. an `authorization { token: ... }` block). */
  extraConfig?: string;
  /** Bound on start + first readiness (default 20 s). */
  startTimeoutMs?: number;
}

export interface NatsCluster {
  /** Client URLs, nats://127.0.0.1:PORT, one per node, index = node. */
  urls: string[];
  /** Monitoring URLs, http://127.0.0.1:PORT, one per node. */
  monitorUrls: string[];
  /** server_name of each node (n0, n1, ...), as JetStream reports peers and leaders. */
  names: string[];
  /** Temp dir holding every node's config and store; removed by stop(). */
  root: string;
  /** SIGKILL node i and wait for it to be gone. */
  kill(i: number): Promise<void>;
  /** Start node i again with the same ports, config and store dir; resolves once its monitoring port answers. */
  restart(i: number): Promise<void>;
  /** Wait until JetStream has a meta leader that every running node agrees on (see the file comment). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Whether node i is running. */
  isRunning(i: number): boolean;
  /** Process id of node i while it runs. */
  pid(i: number): number | undefined;
  /** The last lines node i wrote (nats-server logs to stderr). */
  logTail(i: number, lines?: number): string;
  /** Stop every node and remove the temp dir. Never rejects because of a node; idempotent. */
  stop(): Promise<void>;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the nats-server binary, or undefined when it is not installed. */
export function natsServerPath(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return isExecutable(DEBIAN_PATH) ? DEBIAN_PATH : undefined;
}

export function natsAvailable(): boolean {
  return natsServerPath() !== undefined;
}

/** Message for `test(..., { skip })` when the binary is missing. */
export const NATS_SKIP_MESSAGE =
  'nats-server is not installed (apt-get install -y nats-server, or set NATS_SERVER_BIN); cluster tests skipped';

interface NodeState {
  name: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  configPath: string;
  log: string[];
  child?: ChildProcess;
  exited?: Promise<void>;
  /** Set when the node exited while it was meant to be running. */
  crash?: string;
  /** True between kill()/stop() and the exit, so the exit is not reported as a crash. */
  stopping: boolean;
}

const live = new Set<ChildProcess>();
/** Temp dirs of clusters not yet stopped, removed on exit too. */
const liveRoots = new Set<string>();
function killLive(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const r of liveRoots) rmSync(r, { recursive: true, force: true });
}
process.on('exit', killLive);
// A test file stopped by a signal (a `timeout` wrapper, the runner) would otherwise leave the servers running:
// exit through process.exit so this hook and every other helper's 'exit' hook (relay processes) run.
for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  process.once(sig, () => {
    killLive();
    process.exit(code);
  });
}

/** Holds `count` OS-picked loopback ports open at once (so they are distinct), then frees them. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((res, rej) => {
        srv.once('error', rej);
        srv.listen(0, '127.0.0.1', () => res());
      });
    }
    return servers.map((s) => {
      const a = s.address();
      if (!a || typeof a !== 'object') throw new Error('no port');
      return a.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function nodeConfig(n: NodeState, storeDir: string, all: NodeState[], opts: Required<Omit<NatsClusterOptions, 'extraConfig' | 'startTimeoutMs'>> & { extraConfig?: string }): string {
  const lines = [
    `server_name: ${n.name}`,
    `listen: 127.0.0.1:${n.clientPort}`,
    `http: 127.0.0.1:${n.httpPort}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(storeDir)}`,
    `  max_memory_store: 64MB`,
    `  max_file_store: ${opts.maxFileStore}`,
    `}`,
  ];
  if (all.length > 1) {
    lines.push(
      `cluster {`,
      `  name: mls-relay-test`,
      `  listen: 127.0.0.1:${n.clusterPort}`,
      // Every node lists every route (itself included, which nats-server ignores): the same file shape
      // an operator writes for a static 3-node cluster.
      `  routes: [${all.map((o) => `nats-route://127.0.0.1:${o.clusterPort}`).join(', ')}]`,
      `}`,
    );
  }
  if (opts.extraConfig) lines.push(opts.extraConfig);
  return lines.join('\n') + '\n';
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const bin = natsServerPath();
  if (!bin) throw new Error(NATS_SKIP_MESSAGE);
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1) throw new Error(`startNatsCluster: nodes must be a positive integer, got ${count}`);
  const startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  // Another process can take a freed port before nats-server binds it; then the whole start is retried on new ports.
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(bin, count, options, startTimeoutMs);
    } catch (err) {
      lastErr = err;
      if (!/address already in use/i.test((err as Error).message)) throw err;
    }
  }
  throw lastErr;
}

async function startOnce(bin: string, count: number, options: NatsClusterOptions, startTimeoutMs: number): Promise<NatsCluster> {
  const root = await mkdtemp(join(tmpdir(), 'nats-cluster-'));
  liveRoots.add(root);
  const ports = await freePorts(count * 3);
  const nodes: NodeState[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push({
      name: `n${i}`,
      clientPort: ports[i * 3]!,
      clusterPort: ports[i * 3 + 1]!,
      httpPort: ports[i * 3 + 2]!,
      configPath: join(root, `n${i}.conf`),
      log: [],
      stopping: false,
    });
  }
  const cfgOpts = { nodes: count, maxFileStore: options.maxFileStore ?? 1024 * 1024 * 1024, extraConfig: options.extraConfig };
  for (const n of nodes) {
    const storeDir = join(root, n.name);
    await mkdir(storeDir, { recursive: true });
    await writeFile(n.configPath, nodeConfig(n, storeDir, nodes, cfgOpts));
  }

  const tail = (i: number, lines = LOG_TAIL) => nodes[i]!.log.slice(-lines).join('\n');
  const allTails = () => nodes.map((n, i) => `--- ${n.name} (log tail) ---\n${tail(i)}`).join('\n');

  const spawnNode = (n: NodeState) => {
    n.crash = undefined;
    n.stopping = false;
    const child = spawn(bin, ['-c', n.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    n.child = child;
    live.add(child);
    let partial = '';
    const onData = (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) if (p !== '') n.log.push(p);
      if (n.log.length > LOG_LINES_KEPT) n.log.splice(0, n.log.length - LOG_LINES_KEPT);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    n.exited = new Promise<void>((res) => {
      child.once('error', (err) => {
        n.log.push(`[harness] cannot spawn ${bin}: ${err.message}`);
      });
      child.once('close', (code, signal) => {
        live.delete(child);
        if (n.child === child) n.child = undefined;
        if (!n.stopping) {
          n.crash = `nats-server ${n.name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})\n${n.log.slice(-LOG_TAIL).join('\n')}`;
        }
        res();
      });
    });
  };

  const stopNode = async (n: NodeState, signal: NodeJS.Signals) => {
    const child = n.child;
    if (!child) return;
    n.stopping = true;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      n.exited!.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!done) {
      child.kill('SIGKILL');
      await n.exited;
    }
  };

  const checkCrashes = () => {
    const crashed = nodes.find((n) => n.crash);
    if (crashed) throw new Error(crashed.crash);
  };

  /** One readiness probe; returns undefined when ready, else why not. */
  const notReadyReason = async (): Promise<string | undefined> => {
    const running = nodes.filter((n) => n.child);
    if (running.length === 0) return 'no node is running';
    const leaders = new Set<string>();
    for (const n of running) {
      const base = `http://127.0.0.1:${n.httpPort}`;
      const h = await getJson(`${base}/healthz`);
      if (h.status !== 200) return `${n.name} /healthz ${h.status} ${JSON.stringify(h.body)}`;
      if (count === 1) continue;
      const j = await getJson(`${base}/jsz`);
      const leader = j.body?.meta_cluster?.leader;
      if (!leader) return `${n.name} /jsz has no meta leader`;
      leaders.add(leader);
    }
    if (count === 1) return undefined;
    if (leaders.size !== 1) return `nodes disagree on the meta leader: ${[...leaders].join(', ')}`;
    const leaderName = [...leaders][0]!;
    const leader = nodes.find((n) => n.name === leaderName);
    if (!leader?.child) return `meta leader ${leaderName} is not a running node`;
    const j = await getJson(`http://127.0.0.1:${leader.httpPort}/jsz`);
    const replicas: Array<{ name: string; current?: boolean }> = j.body?.meta_cluster?.replicas ?? [];
    for (const n of running) {
      if (n === leader) continue;
      const r = replicas.find((x) => x.name === n.name);
      if (!r?.current) return `meta leader ${leaderName} does not list ${n.name} as a current peer`;
    }
    return undefined;
  };

  let stopped: Promise<void> | undefined;
  const cluster: NatsCluster = {
    urls: nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`),
    monitorUrls: nodes.map((n) => `http://127.0.0.1:${n.httpPort}`),
    names: nodes.map((n) => n.name),
    root,
    isRunning: (i) => nodes[i]?.child !== undefined,
    pid: (i) => nodes[i]?.child?.pid,
    logTail: (i, lines) => tail(i, lines),
    async kill(i) {
      const n = nodes[i];
      if (!n) throw new Error(`kill: no node ${i}`);
      await stopNode(n, 'SIGKILL');
    },
    async restart(i) {
      const n = nodes[i];
      if (!n) throw new Error(`restart: no node ${i}`);
      if (n.child) throw new Error(`restart: node ${n.name} is still running (kill it first)`);
      spawnNode(n);
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        if (n.crash) throw new Error(n.crash);
        try {
          await getJson(`http://127.0.0.1:${n.httpPort}/varz`);
          return;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) throw new Error(`restart: ${n.name} monitoring port did not answer within ${startTimeoutMs} ms\n${tail(i)}`);
        await sleep(50);
      }
    },
    async waitReady(timeoutMs = startTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = 'not probed yet';
      for (;;) {
        checkCrashes();
        try {
          const why = await notReadyReason();
          if (why === undefined) return;
          last = why;
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() > deadline) throw new Error(`NATS cluster not ready within ${timeoutMs} ms (last: ${last})\n${allTails()}`);
        await sleep(100);
      }
    },
    stop() {
      stopped ??= (async () => {
        try {
          await Promise.all(nodes.map((n) => stopNode(n, 'SIGTERM').catch(() => undefined)));
        } finally {
          await rm(root, { recursive: true, force: true });
          liveRoots.delete(root);
        }
      })();
      return stopped;
    },
  };

  try {
    for (const n of nodes) spawnNode(n);
    await cluster.waitReady(startTimeoutMs);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
