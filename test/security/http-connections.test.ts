/**
 * Issue 8, item 9: plain HTTP connections are bounded. Half-open requests (a request line and never
 * the end of the headers) and silent sockets are closed after http_request_timeout; beyond
 * max_http_connections_per_ip / max_http_connections a new socket is refused at once; upgraded
 * WebSockets leave the HTTP count. The flood comes from other loopback addresses (127.0.0.2...) than
 * the honest client (127.0.0.1), as it would from other hosts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { sharedRelay, sleep, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { get, holdOpen, jsonOf, rawRequest, type RawResponse } from './http-raw.js';

const PER_IP = 8;
const TOTAL = 40;
const relay = sharedRelay({
  toml: `
[network]
http_request_timeout = "1s"
http_keepalive_timeout = "1s"

[limitation]
max_http_connections = ${TOTAL}
max_http_connections_per_ip = ${PER_IP}

[metrics]
enabled = true
`,
});

const HALF_OPEN = 'GET /health HTTP/1.1\r\nHost: x\r\n'; // never the blank line that ends the headers

interface Held {
  socket: Socket;
  closedAt?: number;
  received: Buffer;
}

/** Opens n sockets from `from`, each sending `bytes` and then nothing. */
async function flood(port: number, n: number, from: string, bytes = HALF_OPEN): Promise<Held[]> {
  const held: Held[] = [];
  for (let i = 0; i < n; i++) {
    const socket = await holdOpen(port, bytes, from);
    const h: Held = { socket, received: Buffer.alloc(0) };
    socket.on('data', (c: Buffer) => (h.received = Buffer.concat([h.received, c])));
    socket.on('close', () => (h.closedAt = Date.now()));
    held.push(h);
  }
  return held;
}

const open = (held: Held[]) => held.filter((h) => h.closedAt === undefined);
const release = (held: Held[]) => held.forEach((h) => h.socket.destroy());

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** A WebSocket client from `from` that got its NIP-42 challenge; closed by the caller. */
function wsWithChallenge(url: string, from: string, timeoutMs = 5_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress: from, perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no AUTH challenge from ${from} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as unknown[];
      if (m[0] === 'AUTH' && typeof m[1] === 'string') {
        clearTimeout(timer);
        resolve(ws);
      }
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function assert503(r: RawResponse | undefined): void {
  assert.ok(r, 'expected a response');
  assert.equal(r.status, 503);
  assert.equal((jsonOf(r) as { code?: string }).code, 'unavailable');
}

test('half-open requests beyond max_http_connections_per_ip are refused at once; a new WebSocket client still gets its AUTH', async (t) => {
  const held = await flood(relay().port, PER_IP * 4, '127.0.0.2');
  t.after(() => release(held));
  await until(`all but ${PER_IP} sockets closed`, () => open(held).length <= PER_IP, 2_000);
  assert.equal(open(held).length, PER_IP, 'the first sockets of the address are served');
  const refused = held.filter((h) => h.closedAt !== undefined && h.received.length > 0);
  for (const h of refused) assert.match(h.received.toString(), /^HTTP\/1\.1 429 [\s\S]*"code":"rate_limited"/, 'a refused socket is told why (when it can be)');

  // A plain request from the flooding address is refused too, with a JSON answer...
  const again = await rawRequest(relay().port, get('/health'), { localAddress: '127.0.0.2' });
  if (again.kind === 'response') assert.equal(again.response.status, 429);
  else assert.equal(again.kind, 'closed');
  // ...while another client connects, upgrades and is challenged as usual.
  const ws = await wsWithChallenge(relay().url, '127.0.0.1');
  ws.close();
  relay().assertAlive();
  // The refusals are counted for the operator.
  const metrics = await rawRequest(relay().port, get('/metrics'));
  assert.equal(metrics.kind, 'response');
  const text = metrics.kind === 'response' ? metrics.response.body.toString() : '';
  const counted = Number(/^mls_relay_http_sockets_refused_total\{cap="address"\} (\d+)/m.exec(text)?.[1] ?? 0);
  assert.ok(counted >= PER_IP * 3, `refused sockets counted (${counted})`);
});

test('a half-open request and a silent socket are closed with 408 after http_request_timeout', async (t) => {
  const started = Date.now();
  const held = [...(await flood(relay().port, 2, '127.0.0.3')), ...(await flood(relay().port, 2, '127.0.0.3', ''))];
  t.after(() => release(held));
  await sleep(500);
  assert.equal(open(held).length, 4, 'nothing is cut before the timeout');
  await until('every held socket closed', () => open(held).length === 0, 4_000);
  for (const h of held) {
    const after = h.closedAt! - started;
    assert.ok(after >= 900 && after < 3_500, `closed after ${after} ms (timeout 1 s, checked every 500 ms)`);
    assert.match(h.received.toString(), /^HTTP\/1\.1 408 [\s\S]*"code":"request_timeout"/);
  }
});

test('an idle keep-alive connection is closed after http_keepalive_timeout', async (t) => {
  const [h] = await flood(relay().port, 1, '127.0.0.4', 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  t.after(() => release([h!]));
  await until('the response', () => h!.received.includes('"healthy"'), 2_000);
  const answered = Date.now();
  await until('the idle socket closed', () => h!.closedAt !== undefined, 4_000);
  assert.ok(h!.closedAt! - answered >= 800, `closed ${h!.closedAt! - answered} ms after the response`);
});

test('upgraded WebSockets do not count against the HTTP caps', async (t) => {
  const clients: WebSocket[] = [];
  t.after(() => clients.forEach((c) => c.terminate()));
  for (let i = 0; i < PER_IP * 2; i++) clients.push(await wsWithChallenge(relay().url, '127.0.0.5'));
  // The address still has its whole HTTP allowance.
  const held = await flood(relay().port, PER_IP, '127.0.0.5');
  t.after(() => release(held));
  await sleep(200);
  assert.equal(open(held).length, PER_IP);
});

test('beyond max_http_connections (all addresses together) a new socket gets 503 JSON; freed sockets make room', async (t) => {
  const held: Held[] = [];
  t.after(() => release(held));
  for (let a = 10; held.length < TOTAL; a++) held.push(...(await flood(relay().port, Math.min(PER_IP, TOTAL - held.length), `127.0.0.${a}`)));
  await sleep(200);
  assert.equal(open(held).length, TOTAL);
  const over = await rawRequest(relay().port, get('/health'), { localAddress: '127.0.0.99' });
  if (over.kind === 'response') assert503(over.response);
  else assert.equal(over.kind, 'closed', JSON.stringify(over));
  release(held);
  await sleep(100);
  const ok = await rawRequest(relay().port, get('/health'), { localAddress: '127.0.0.99' });
  assert.equal(ok.kind === 'response' && ok.response.status, 200);
});

const prlimit = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return process.platform === 'linux';
  } catch {
    return false;
  }
})();

test('under a 256 open-file limit, a flood of half-open requests neither blocks new WebSocket clients nor ends the process', { skip: !prlimit && 'needs prlimit (util-linux)' }, async (t) => {
  // Defaults except the timeout (so the test is short): max_http_connections 512 is more than the
  // limit, so a flood from many addresses reaches it; one address is held to its 64.
  const r = await startRelay({ toml: '[network]\nhttp_request_timeout = "2s"\n' });
  t.after(() => stopRelay(r));
  execFileSync('prlimit', ['--pid', String(r.pid), '--nofile=256:256']);
  const oneAddress = await flood(r.port, 300, '127.0.0.2');
  t.after(() => release(oneAddress));
  await until('the flood from one address held to 64 sockets', () => open(oneAddress).length <= 64, 3_000);
  (await wsWithChallenge(r.url, '127.0.0.1')).close();

  // Many addresses: past the open-file limit. Accepting fails (EMFILE) for a while; nothing ends.
  const many: Held[] = [];
  t.after(() => release(many));
  for (let a = 10; a < 22; a++) many.push(...(await flood(r.port, 25, `127.0.1.${a}`)));
  r.assertAlive();
  await until('the relay at its open-file limit', () => readdirSync(`/proc/${r.pid}/fd`).length >= 240, 3_000);
  r.assertAlive();
  release(oneAddress);
  release(many);
  await sleep(300);
  (await wsWithChallenge(r.url, '127.0.0.1')).close();
  const health = await rawRequest(r.port, get('/health'));
  assert.equal(health.kind === 'response' && health.response.status, 200);
  r.assertAlive();
});

test('start-up warns when the connection caps exceed the open-file limit', async (t) => {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (!m) return t.skip('no /proc/self/limits here');
  // The relay inherits this process's limit: caps one above it cannot all be reached.
  const r = await startRelay({ toml: `[limitation]\nmax_connections = ${Number(m[1]) + 1}\n` });
  try {
    const warning = r.logRecords().find((x) => x.level === 'warn' && String(x.msg).startsWith('open-file limit'));
    assert.ok(warning, 'a warning names the open-file limit');
    assert.equal(warning.open_file_limit, Number(m[1]));
  } finally {
    await r.stop();
  }
});
