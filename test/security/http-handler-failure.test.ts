/**
 * The HTTP half of "no client input can end the process": a handler that throws, rejects, or breaks
 * its response answers one 500 JSON (or a cut connection once headers are out) and is logged once,
 * and the process keeps serving. Runs the relay's Router in a child process with failing routes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get, jsonOf, rawRequest, type RawOutcome } from './http-raw.js';

let child: ChildProcess;
let port = 0;
const lines: Array<Record<string, unknown>> = [];
let exited: string | undefined;

before(async () => {
  child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'http-failing-routes.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'info', NODE_TEST_CONTEXT: '' },
  });
  child.once('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no port within 10 s')), 10_000);
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          if (typeof rec.port === 'number') {
            clearTimeout(timer);
            resolve(rec.port);
          } else lines.push(rec);
        } catch {
          /* not JSON */
        }
      }
    });
  });
});

after(async () => {
  if (exited) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});

const failures = () => lines.filter((l) => l.msg === 'http handler failed').length;

async function call(path: string): Promise<RawOutcome> {
  const before = failures();
  const out = await rawRequest(port, get(path));
  await new Promise((r) => setTimeout(r, 100)); // let the log line arrive
  assert.equal(exited, undefined, `the process ended after GET ${path}`);
  const health = await rawRequest(port, get('/health'));
  assert.equal(health.kind === 'response' && health.response.status, 200, `GET /health after GET ${path}`);
  (out as RawOutcome & { logged?: number }).logged = failures() - before;
  return out;
}

for (const path of ['/sync-throw', '/reject', '/throw-string/x']) {
  test(`a handler that fails (${path}) answers one 500 JSON without internals and is logged once`, async () => {
    const out = await call(path);
    assert.equal(out.kind, 'response');
    const r = (out as { response: { status: number; body: Buffer } }).response;
    assert.equal(r.status, 500);
    assert.deepEqual(jsonOf(r as never), { error: 'internal error', code: 'internal' });
    assert.equal((out as { logged?: number }).logged, 1);
    const rec = lines.filter((l) => l.msg === 'http handler failed').at(-1)!;
    assert.equal(rec.level, 'error');
    assert.ok(!JSON.stringify(rec).includes('/throw-string/x'), 'the route pattern is logged, not the client path');
  });
}

test('a handler that fails after sending headers cuts the connection (no truncated body that looks complete)', async () => {
  const out = await call('/after-headers');
  assert.notEqual(out.kind, 'response', JSON.stringify(out));
  assert.equal((out as { logged?: number }).logged, 1);
});

test('a handler that fails after its answer leaves the answer intact, logged once', async () => {
  const out = await call('/after-end');
  assert.equal(out.kind === 'response' && out.response.status, 200);
  assert.equal((out as { logged?: number }).logged, 1);
});

test('a handler that writes after end does not end the process', async () => {
  const out = await call('/write-after-end');
  assert.equal(out.kind === 'response' && out.response.status, 200);
});
