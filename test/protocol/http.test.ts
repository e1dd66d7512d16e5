/**
 * HTTP on the relay's port: NIP-11 document (with CORS), /health, /ready and the
 * auth-protected /debug/actors view of live connections and subscriptions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, rawClient, sharedRelay } from '../helpers/fixture.js';
import { findDeep, httpGet } from '../helpers/http.js';
import { newKeys, signEvent } from '../helpers/ws-client.js';
import { portZeroRejected } from '../helpers/relay-process.js';

const DEBUG_KEY = 'test-debug-key-0123456789';
const LIMITS = {
  max_message_length: 65536,
  max_subscriptions: 7,
  max_filters: 4,
  max_limit: 123,
  max_subid_length: 50,
  max_event_tags: 321,
};

const relay = sharedRelay({
  toml: `
[count]
enabled = false

[information]
name = "protocol test relay"
description = "relay under test"

[limitation]
max_message_length = ${LIMITS.max_message_length}
max_subscriptions = ${LIMITS.max_subscriptions}
max_filters = ${LIMITS.max_filters}
max_limit = ${LIMITS.max_limit}
max_subid_length = ${LIMITS.max_subid_length}
max_event_tags = ${LIMITS.max_event_tags}

[debug]
enabled = true
auth = "${DEBUG_KEY}"
`,
});

test('config [network] port = 0 lets the OS pick the port (process contract)', () => {
  assert.ok(relay().port > 0);
  assert.equal(portZeroRejected, undefined, `the relay refused port = 0: ${portZeroRejected}`);
});

test('the "listening" log line carries host and port', () => {
  const rec = relay().logRecords().find((r) => r.msg === 'listening');
  assert.ok(rec, 'no "listening" record');
  assert.equal(Number(rec.port), relay().port);
  assert.equal(rec.host, '127.0.0.1');
});

test('NIP-11: GET / with Accept: application/nostr+json → relay information document with CORS', async () => {
  const res = await httpGet(relay().httpUrl + '/', { Accept: 'application/nostr+json' });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/(nostr\+)?json/);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const doc = res.json as Record<string, unknown>;
  assert.ok(doc && typeof doc === 'object', `not JSON: ${res.text.slice(0, 200)}`);
  assert.equal(doc.name, 'protocol test relay');
  assert.equal(doc.description, 'relay under test');

  const nips = doc.supported_nips as unknown[];
  assert.ok(Array.isArray(nips) && nips.every((n) => Number.isInteger(n)), `supported_nips: ${JSON.stringify(nips)}`);
  for (const n of [1, 9, 11, 40]) assert.ok(nips.includes(n), `NIP-${n} missing from ${JSON.stringify(nips)}`);
  assert.ok(!nips.includes(45), 'NIP-45 listed although [count] is not enabled');

  const lim = doc.limitation as Record<string, unknown>;
  assert.ok(lim && typeof lim === 'object', 'limitation object');
  for (const [k, v] of Object.entries(LIMITS)) assert.equal(lim[k], v, `limitation.${k}`);
  assert.equal(typeof lim.auth_required, 'boolean', 'limitation.auth_required');
  assert.equal(typeof lim.restricted_writes, 'boolean', 'limitation.restricted_writes');
});

test('NIP-11: CORS preflight is answered', async () => {
  const res = await fetch(relay().httpUrl + '/', {
    method: 'OPTIONS',
    headers: { Origin: 'https://example.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
    signal: AbortSignal.timeout(5_000),
  });
  await res.arrayBuffer();
  assert.ok(res.status >= 200 && res.status < 300, `OPTIONS status ${res.status}`);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
});

test('GET /health → 200 {"status":"healthy", version, uptime_seconds}', async () => {
  const res = await httpGet(relay().httpUrl + '/health');
  assert.equal(res.status, 200);
  const body = res.json as Record<string, unknown>;
  assert.equal(body.status, 'healthy');
  assert.equal(typeof body.version, 'string');
  assert.equal(typeof body.uptime_seconds, 'number');
  assert.ok((body.uptime_seconds as number) >= 0);
});

test('GET /ready → 200 once storage is open', async () => {
  const res = await httpGet(relay().httpUrl + '/ready');
  assert.equal(res.status, 200, res.text);
});

test('GET /debug/actors → 401 without or with a wrong key', async () => {
  const none = await httpGet(relay().httpUrl + '/debug/actors');
  assert.equal(none.status, 401);
  const wrong = await httpGet(relay().httpUrl + '/debug/actors', { Authorization: 'Bearer not-the-key' });
  assert.equal(wrong.status, 401);
  assert.ok(!wrong.text.includes(DEBUG_KEY), 'the key must not leak in the error');
  const badScheme = await httpGet(relay().httpUrl + '/debug/actors', { Authorization: `Basic ${DEBUG_KEY}` });
  assert.equal(badScheme.status, 401);
});

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Keys of an object matching re (case-insensitive search over its own keys). */
const keyLike = (o: Obj, re: RegExp) => Object.keys(o).filter((k) => re.test(k));

test('GET /debug/actors with the key → JSON showing a connection and its subscription', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const subId = 'debug-view-sub';
  const res = await c.req(subId, { kinds: [1], authors: [keys.pk] });
  assert.equal(res.eose, true);
  const live = signEvent(keys, { content: 'counted delivery' });
  assertOk(await c.publish(live), true);
  assert.equal((await c.nextEvent(subId)).id, live.id);

  const dbg = await httpGet(relay().httpUrl + '/debug/actors', { Authorization: `Bearer ${DEBUG_KEY}` });
  assert.equal(dbg.status, 200, dbg.text.slice(0, 300));
  assert.match(dbg.headers.get('content-type') ?? '', /json/);
  const body = dbg.json;
  assert.ok(isObj(body) || Array.isArray(body), 'JSON body');
  const text = JSON.stringify(body);
  assert.ok(!text.includes(DEBUG_KEY), 'the debug key must not appear in the dump');

  // The connection: remote address, authenticated pubkeys, its subscriptions, queued bytes.
  const conns = findDeep(body, (v) => isObj(v) && keyLike(v, /remote|addr|^ip$/i).some((k) => String(v[k]).includes('127.0.0.1'))) as Obj[];
  const conn = conns.find((o) => JSON.stringify(o).includes(JSON.stringify(subId)));
  assert.ok(conn, `no connection snapshot with remote 127.0.0.1 listing ${subId}: ${text.slice(0, 1500)}`);
  assert.ok(keyLike(conn, /pubkey|auth/i).length > 0, `connection snapshot lacks authenticated pubkeys: ${JSON.stringify(conn)}`);
  assert.ok(keyLike(conn, /queue|pending|bytes/i).length > 0, `connection snapshot lacks queued bytes: ${JSON.stringify(conn)}`);

  // The subscription: filters, EOSE sent, delivered count.
  const subs = findDeep(body, (v) => isObj(v) && Object.values(v).includes(subId) && keyLike(v, /filter/i).length > 0) as Obj[];
  assert.equal(subs.length, 1, `expected one subscription snapshot for ${subId}: ${text.slice(0, 1500)}`);
  const sub = subs[0]!;
  const filters = sub[keyLike(sub, /filter/i)[0]!];
  assert.ok(JSON.stringify(filters).includes(keys.pk), `filters should show the authors: ${JSON.stringify(filters)}`);
  const eoseKey = keyLike(sub, /eose/i)[0];
  assert.ok(eoseKey, `subscription snapshot lacks EOSE state: ${JSON.stringify(sub)}`);
  assert.equal(sub[eoseKey], true);
  const deliveredKey = keyLike(sub, /deliver/i)[0];
  assert.ok(deliveredKey, `subscription snapshot lacks a delivered count: ${JSON.stringify(sub)}`);
  assert.ok(Number(sub[deliveredKey]) >= 1, `delivered count after one live event: ${JSON.stringify(sub)}`);
});
