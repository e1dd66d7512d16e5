/**
 * Issue 8, item 1: one malformed request must not end the process. Each request goes raw over
 * node:net (no client would send these), against a relay with the gateway on and debug off; after
 * each, the process must still be alive and answer the next request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { get, jsonOf, rawRequest, type RawResponse } from './http-raw.js';

const relay = sharedRelay({
  toml: `
[extensions.mls_gateway]
enabled = true

[debug]
enabled = false
`,
});

function assertJsonError(r: RawResponse, status: number, code: string): void {
  assert.equal(r.status, status, `status ${r.status}, body ${r.body.toString()}`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  const body = jsonOf(r) as { error?: unknown; code?: unknown } | undefined;
  assert.ok(body && typeof body.error === 'string' && body.error.length > 0, `body ${r.body.toString()}`);
  assert.equal(body.code, code);
  assert.doesNotMatch(r.body.toString(), /\bat .+:\d+:\d+|URIError|TypeError/, 'no stack or internals in the answer');
}

async function send(request: string): Promise<RawResponse> {
  const out = await rawRequest(relay().port, request);
  assert.equal(out.kind, 'response', `no HTTP response to ${JSON.stringify(request)}: ${JSON.stringify(out)}`);
  return (out as { response: RawResponse }).response;
}

/** The relay is still up and serving: the next request on a new connection gets /health. */
async function assertStillServing(): Promise<void> {
  const r = await send(get('/health'));
  assert.equal(r.status, 200);
  assert.equal((jsonOf(r) as { status?: string }).status, 'healthy');
  relay().assertAlive();
}

const BAD_PATHS = [
  '/api/v1/groups/%zz',
  '/api/v1/groups/%zz/roster',
  '/api/v1/welcome/%C0/ack',
  '/api/v1/keypackages/%E0%A4%A/ack',
  '/debug/actors/%zz',
];

for (const path of BAD_PATHS) {
  test(`GET ${path} → 400 bad_request, and the relay keeps serving`, async () => {
    const method = path.endsWith('/ack') ? 'POST' : 'GET';
    const r = await send(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    assertJsonError(r, 400, 'bad_request');
    await assertStillServing();
  });
}

const BAD_TARGETS = ['http://[', 'http://x:99999/', 'http://[::1/health', 'ftp://x/health', '*', 'health'];

for (const target of BAD_TARGETS) {
  test(`request line "GET ${target} HTTP/1.1" → a 400 JSON answer, and the relay keeps serving`, async () => {
    const r = await send(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assertJsonError(r, 400, 'bad_request');
    await assertStillServing();
  });
}

test('absolute-form targets that parse are routed by their path (RFC 9112), never by their host', async () => {
  const r = await send(get('http://evil.example:8080/health'));
  assert.equal(r.status, 200);
  // Origin form "//host/path" is a path, not a host: it is simply not found.
  assertJsonError(await send(get('//evil.example/health')), 404, 'not_found');
});

test('a request the HTTP parser refuses gets a 400 JSON answer, not a dropped connection', async () => {
  const cases = [
    'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    'GET /health HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n',
    'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n',
    '\x00\x01\x02\r\n\r\n',
  ];
  for (const c of cases) {
    const r = await send(c);
    assertJsonError(r, 400, 'bad_request');
  }
  await assertStillServing();
});

test('request line and headers beyond the parser limit → 431 JSON', async () => {
  const r = await send(get('/health', { 'X-Big': 'a'.repeat(20_000) }));
  assertJsonError(r, 431, 'headers_too_large');
  await assertStillServing();
});

test('a cut-off JSON body is the client\'s error (4xx JSON), not a 500', async () => {
  const r = await send('POST /api/v1/welcome HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{"a":');
  assert.notEqual(r.status, 500);
  assertJsonError(r, r.status, (jsonOf(r) as { code: string }).code);
  await assertStillServing();
});
