/**
 * Starts the real relay (`node dist/src/cli/main.js relay -c <file.toml>`) on a
 * loopback port chosen by the OS, for protocol tests.
 *
 * - The TOML is written to a fresh temp dir; `opts.toml` is parsed and deep-merged
 *   over the base config (so it may contain `[data]` / `[network]` keys too).
 * - The port is read from the pino JSON log line whose `msg` is "listening".
 * - A relay that exits before `stop()` is a crash: `stop()` then rejects with the
 *   exit status and the tail of stderr/stdout, a message is written to this
 *   process's stderr at once, and `crashedRelays()` lets waiting helpers say so.
 * - `stop()` sends SIGTERM and waits; if the relay has to be SIGKILLed, `stop()`
 *   rejects. Temp dirs created here are removed by `stop()`.
 * - `[network] port = 0` is the contract. If the relay refuses it at start-up (config
 *   error naming network.port), the harness records that in `portZeroRejected`, says so
 *   on stderr, and retries with a port it picked itself, so the other tests still run;
 *   http.test.ts fails on `portZeroRejected`.
 * - RELAY_TEST_ENTRY (absolute path) runs the suite against another entry point.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';

/** Repository root: dist/test/helpers/relay-process.js → ../../.. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The relay entry point; RELAY_TEST_ENTRY points the suite at another build (absolute path). */
export const RELAY_MAIN = process.env.RELAY_TEST_ENTRY || join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

const LISTEN_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const TAIL_LINES = 40;

export interface StartRelayOptions {
  /** Extra TOML, deep-merged over the base config (base: data.path, network.host/port, gateway off). */
  toml?: string;
  /** Data directory to use (e.g. the same one across a restart). Not removed by stop(). */
  dataDir?: string;
  /** Extra environment variables for the relay process. */
  env?: Record<string, string>;
  /** Poll GET /ready until it stops answering 503 before resolving (default true). */
  waitReady?: boolean;
  /** Extra arguments after `relay -c FILE` (e.g. ['--watch']). */
  args?: string[];
}

export interface StopOptions {
  /** Keep the temp dir (config + data) created by startRelay. */
  keepData?: boolean;
}

export interface RelayHandle {
  /** ws://127.0.0.1:PORT */
  url: string;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  port: number;
  dataDir: string;
  /** Path of the TOML file the relay was started with. */
  configPath: string;
  /** The config text that was written. */
  configText: string;
  /** Relay stdout lines (pino JSON), in order. */
  logs: string[];
  /** Relay stderr lines, in order. */
  stderr: string[];
  pid: number;
  /** SIGTERM, wait for exit; resolves with the exit code. Rejects if the relay crashed earlier or had to be killed. */
  stop(opts?: StopOptions): Promise<number>;
  /** Throws if the relay process has exited without stop() being called. */
  assertAlive(): void;
  /** Parsed JSON log records (lines that are not JSON are skipped). */
  logRecords(): Array<Record<string, unknown>>;
}

interface Tracked {
  child: ChildProcess;
  label: string;
  crash?: string;
}

const running = new Set<Tracked>();
const crashes: string[] = [];

process.on('exit', () => {
  for (const r of running) {
    try {
      r.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Descriptions of relays started by this process that exited without stop(). */
export function crashedRelays(): string[] {
  return [...crashes];
}

type TomlTable = Record<string, unknown>;

function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function deepMerge(base: TomlTable, extra: TomlTable): TomlTable {
  const out: TomlTable = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isTable(b) && isTable(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Builds the TOML text for a test relay. Exported for tests that want to inspect it. */
export function buildConfig(dataDir: string, extraToml?: string, port = 0): string {
  const base: TomlTable = {
    data: { path: dataDir },
    network: { host: '127.0.0.1', port },
    extensions: { mls_gateway: { enabled: false } },
  };
  let extra: TomlTable = {};
  if (extraToml && extraToml.trim() !== '') {
    try {
      extra = parseToml(extraToml) as TomlTable;
    } catch (err) {
      throw new Error(`startRelay: extra TOML does not parse: ${(err as Error).message}\n${extraToml}`);
    }
  }
  const merged = deepMerge(base, extra);
  // data.path and network.host stay what the harness needs unless a test sets them explicitly.
  return stringifyToml(merged) + '\n';
}

function tail(lines: string[], n = TAIL_LINES): string {
  return lines.slice(-n).join('\n');
}

function cleanEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // PORT (Cloud Run) and MLS_RELAY_* overrides from the caller's shell must not leak into tests.
  delete env.PORT;
  for (const k of Object.keys(env)) if (k.startsWith('MLS_RELAY_')) delete env[k];
  // node --test sets this for its children; the relay is not a test file.
  delete env.NODE_TEST_CONTEXT;
  // The harness reads the "listening" line, so the relay logs at info unless a test says otherwise.
  delete env.LOG_LEVEL;
  delete env.RUST_LOG;
  return { ...env, ...(extra ?? {}) };
}

function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buf = '';
  return (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      if (line !== '') onLine(line);
    }
  };
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

async function waitReady(httpUrl: string, isDead: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    try {
      const res = await fetch(`${httpUrl}/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status !== 503) return; // 200 (or a missing endpoint: the /ready test reports that)
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`relay at ${httpUrl} not ready within ${READY_TIMEOUT_MS} ms (last /ready: ${last})`);
}

/**
 * Set when the relay refused `port = 0` (a contract violation: the OS must pick
 * the port) and the harness fell back to a port it picked itself. The test
 * "config port = 0 lets the OS pick" reports it; other tests keep running.
 */
export let portZeroRejected: string | undefined;

const PORT_ZERO_REJECTED = /network\.port\b[^\n]*\b0\b/;

/** A loopback port the OS has just handed out (for a process that must be probed before it logs its port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(p));
    });
  });
}

export async function startRelay(opts: StartRelayOptions = {}): Promise<RelayHandle> {
  // Port 0 per the process contract. Fallback (see portZeroRejected) only when the relay refuses it.
  if (portZeroRejected === undefined) {
    try {
      return await startOnce(opts, 0);
    } catch (err) {
      const m = /--- stderr ---\n([\s\S]*?)\n--- stdout ---/.exec((err as Error).message);
      if (!m || !PORT_ZERO_REJECTED.test(m[1]!)) throw err;
      portZeroRejected = m[1]!.trim();
      process.stderr.write(`[relay-process] relay refused network.port = 0 (${portZeroRejected}); falling back to pre-picked ports\n`);
    }
  }
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts, await freePort());
    } catch (err) {
      lastErr = err;
      if (!/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
  throw lastErr;
}

async function startOnce(opts: StartRelayOptions, requestedPort: number): Promise<RelayHandle> {
  if (!existsSync(RELAY_MAIN)) {
    throw new Error(`relay entry point ${RELAY_MAIN} does not exist; build first (npx tsc -p tsconfig.json)`);
  }
  const root = await mkdtemp(join(tmpdir(), 'mls-relay-test-'));
  const dataDir = opts.dataDir ?? join(root, 'data');
  const configPath = join(root, 'relay.toml');
  let configText: string;
  try {
    configText = buildConfig(dataDir, opts.toml, requestedPort);
    await writeFile(configPath, configText);
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }

  const logs: string[] = [];
  const stderr: string[] = [];
  const child = spawn(process.execPath, [RELAY_MAIN, 'relay', '-c', configPath, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tracked: Tracked = { child, label: `relay pid ${child.pid} (${configPath})` };
  running.add(tracked);

  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let stopRequested = false;
  let listening = false;
  const exitPromise = new Promise<void>((res) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      running.delete(tracked);
      if (listening && !stopRequested) {
        tracked.crash =
          `relay (pid ${child.pid}) exited unexpectedly with ${describeExit(code, signal)}\n` +
          `--- stderr (tail) ---\n${tail(stderr)}\n--- stdout (tail) ---\n${tail(logs, 15)}`;
        crashes.push(tracked.crash);
        process.stderr.write(`\n[relay-process] ${tracked.crash}\n`);
      }
      res();
    });
  });

  const port = await new Promise<number>((resolvePort, rejectPort) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectPort(
        new Error(
          `relay did not log "listening" within ${LISTEN_TIMEOUT_MS} ms\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(logs)}`,
        ),
      );
    }, LISTEN_TIMEOUT_MS);
    child.stdout!.on(
      'data',
      lineSplitter((line) => {
        logs.push(line);
        if (listening) return;
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch {
          return;
        }
        if (isTable(rec) && rec.msg === 'listening' && rec.port !== undefined) {
          const p = Number(rec.port);
          if (Number.isInteger(p) && p > 0) {
            listening = true;
            clearTimeout(timer);
            resolvePort(p);
          }
        }
      }),
    );
    child.stderr!.on('data', lineSplitter((line) => stderr.push(line)));
    child.once('error', (err) => {
      clearTimeout(timer);
      rejectPort(new Error(`cannot spawn relay: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      if (listening) return;
      clearTimeout(timer);
      rejectPort(
        new Error(
          `relay exited before listening (${describeExit(code, signal)})\n--- config ---\n${configText}` +
            `--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(logs)}`,
        ),
      );
    });
  }).catch(async (err) => {
    await exitPromise.catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw err;
  });

  const httpUrl = `http://127.0.0.1:${port}`;
  const url = `ws://127.0.0.1:${port}`;

  let stopped: Promise<number> | undefined;
  const handle: RelayHandle = {
    url,
    httpUrl,
    port,
    dataDir,
    configPath,
    configText,
    logs,
    stderr,
    pid: child.pid ?? -1,
    assertAlive() {
      if (tracked.crash) throw new Error(tracked.crash);
      if (exited) throw new Error(`relay (pid ${child.pid}) is not running (${describeExit(exitCode, exitSignal)})`);
    },
    logRecords() {
      const out: Array<Record<string, unknown>> = [];
      for (const l of logs) {
        try {
          const r = JSON.parse(l);
          if (isTable(r)) out.push(r);
        } catch {
          /* not JSON */
        }
      }
      return out;
    },
    stop(stopOpts: StopOptions = {}) {
      stopped ??= (async () => {
        try {
          if (tracked.crash) throw new Error(tracked.crash);
          if (!exited) {
            stopRequested = true;
            child.kill('SIGTERM');
            const timedOut = await Promise.race([
              exitPromise.then(() => false),
              new Promise<boolean>((r) => setTimeout(() => r(true), STOP_TIMEOUT_MS).unref()),
            ]);
            if (timedOut) {
              child.kill('SIGKILL');
              await exitPromise;
              throw new Error(
                `relay (pid ${child.pid}) did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM and was SIGKILLed\n` +
                  `--- stderr (tail) ---\n${tail(stderr)}\n--- stdout (tail) ---\n${tail(logs, 15)}`,
              );
            }
          }
          if (exitSignal) return 128 + (signalNumber(exitSignal) ?? 0);
          return exitCode ?? -1;
        } finally {
          if (!stopOpts.keepData) await rm(root, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };

  if (opts.waitReady !== false) {
    try {
      await waitReady(httpUrl, () => tracked.crash ?? (exited ? `relay exited: ${describeExit(exitCode, exitSignal)}\n${tail(stderr)}` : undefined));
    } catch (err) {
      await handle.stop().catch(() => undefined);
      throw err;
    }
  }
  return handle;
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15, SIGABRT: 6 };
  return table[sig];
}

/** A fresh temp dir (for data dirs shared across restarts); remove it with removeDir. */
export async function makeTempDir(prefix = 'mls-relay-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
