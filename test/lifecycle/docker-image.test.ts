/**
 * The container image without a Docker engine: replays the Dockerfile's runtime stage in a
 * clean temp directory (its COPY lines, its production `npm ci`, its ENV and CMD), then
 * starts the relay as the container would, with env overrides only, and checks it serves.
 *
 * What comes from the build stage (`COPY --from=build /app/...`) is taken from this
 * checkout, which went through the same steps (`npm install` builds bcrypto, tsc builds
 * dist/). RUN lines other than npm's are the image's file-system chores (mkdir/chown of
 * /data as root) and are reported, not run; `npm cache clean` is skipped because here it
 * would empty the developer's cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { freePort, REPO_ROOT } from '../helpers/relay-process.js';

const INSTALL_TIMEOUT_MS = 180_000;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of the Dockerfile's last stage, continuation lines joined, comments dropped. */
export function finalStage(dockerfile: string): Instruction[] {
  const joined = dockerfile.replace(/\\\r?\n/g, ' ');
  const all: Instruction[] = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (m) all.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  let last = -1;
  all.forEach((ins, i) => {
    if (ins.op === 'FROM') last = i;
  });
  assert.ok(last >= 0, 'Dockerfile has a FROM');
  return all.slice(last + 1);
}

/** ENV a=b c="d e" (and the legacy `ENV key value`). */
function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!args.includes('=')) {
    const [k, ...v] = args.split(/\s+/);
    out[k!] = v.join(' ');
    return out;
  }
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|(\S*))/g)) {
    out[m[1]!] = m[3] ?? m[4] ?? m[5] ?? '';
  }
  return out;
}


/** Runs npm like the image does, against the local cache (offline when everything is there). */
function npm(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync('npm', [...args, '--prefer-offline'], {
    cwd,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, NODE_ENV: 'production', npm_config_update_notifier: 'false' },
  });
  return { status: r.status, out: `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim() };
}

test('the Dockerfile runtime stage installs and serves /health from a clean directory', { timeout: 240_000 }, async (t) => {
  const stage = finalStage(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const root = await mkdtemp(join(tmpdir(), 'mls-relay-image-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const app = join(root, 'app');
  const dataDir = join(root, 'data');
  await mkdir(app);

  let workdir = '/app';
  /** Container path → path in this replay. */
  const local = (p: string) => join(app, posix.relative(workdir, posix.resolve(workdir, p)));
  const env: Record<string, string> = {};
  let cmd: string[] | undefined;
  let installed = false;
  let copiedFromBuild = 0;

  for (const { op, args } of stage) {
    if (op === 'WORKDIR') {
      workdir = posix.resolve(workdir, args);
      assert.equal(workdir, '/app', 'the replay maps the image WORKDIR /app to its temp directory');
    } else if (op === 'ENV') {
      Object.assign(env, parseEnv(args));
    } else if (op === 'COPY') {
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const rest = words.filter((w) => !w.startsWith('--'));
      const dest = rest.pop()!;
      assert.ok(rest.length > 0, `COPY ${args}`);
      for (const src of rest) {
        // --from=build: the build stage's /app is this checkout after `npm install` and tsc.
        const source = from === undefined ? join(REPO_ROOT, src) : join(REPO_ROOT, posix.relative('/app', src));
        assert.ok(existsSync(source), `COPY source ${src} exists at ${source}${from ? ' (build it first: npm install / npx tsc)' : ''}`);
        const target = dest.endsWith('/') || rest.length > 1 ? join(local(dest), posix.basename(src)) : local(dest);
        await mkdir(dirname(target), { recursive: true });
        await cp(source, target, { recursive: true });
        if (from !== undefined) copiedFromBuild++;
      }
    } else if (op === 'RUN') {
      for (const step of args.split('&&').map((s) => s.trim())) {
        const words = step.split(/\s+/);
        if (words[0] !== 'npm') {
          t.diagnostic(`not replayed (image file-system chore): RUN ${step}`);
          continue;
        }
        if (words[1] === 'cache') {
          t.diagnostic(`not replayed (would empty the local npm cache): RUN ${step}`);
          continue;
        }
        // No fallback to `npm install`: a lockfile out of sync with package.json fails the image build too.
        const r = npm(words.slice(1), app);
        assert.equal(r.status, 0, `RUN ${step} failed:\n${r.out.slice(-3000)}`);
        installed = true;
      }
    } else if (op === 'CMD') {
      cmd = JSON.parse(args) as string[];
    }
  }
  assert.ok(installed, 'the runtime stage installs dependencies with npm');
  assert.ok(copiedFromBuild > 0, 'the runtime stage copies the build output');
  assert.ok(cmd && cmd[0] === 'node', `CMD is an exec-form node command: ${JSON.stringify(cmd)}`);
  assert.ok(!existsSync(join(app, 'node_modules', '@types', 'node')), 'dev dependencies are not installed');
  assert.ok(existsSync(join(app, 'node_modules', 'bcrypto', 'build', 'Release', 'bcrypto.node')), 'the native verifier binding is in place');

  // Start exactly as the container would, with env overrides only (no config edits).
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.NODE_TEST_CONTEXT;
  for (const k of Object.keys(childEnv)) if (k.startsWith('MLS_RELAY_') || k === 'PORT') delete childEnv[k];
  Object.assign(childEnv, env, { PORT: String(port), MLS_RELAY_NETWORK__HOST: '127.0.0.1', MLS_RELAY_DATA__PATH: dataDir });
  const child = spawn(process.execPath, cmd.slice(1), { cwd: app, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  let health: { status: number; body: Record<string, unknown> } | undefined;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) });
      health = { status: res.status, body: (await res.json()) as Record<string, unknown> };
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(health, `no answer on /health within ${START_TIMEOUT_MS} ms\n${output.join('').slice(-3000)}`);
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'healthy');
  const ready = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(ready.status, 200);
  await ready.arrayBuffer();

  const logs = output.join('');
  assert.match(logs, /"msg":"signature verification backend"/);
  assert.match(logs, /"backend":"bcrypto"/, 'the copied native binding is the one in use');
  assert.ok(logs.includes(JSON.stringify(resolve(dataDir)).slice(1, -1)), 'MLS_RELAY_DATA__PATH sets the data directory');

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS).unref())]);
  assert.equal(code, 0, `exit after SIGTERM\n${output.join('').slice(-2000)}`);
});
