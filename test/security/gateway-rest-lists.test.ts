/**
 * Issue 8, item 7: the [auth] lists apply to the REST API as they do to the WebSocket: the
 * client address (after real_ip_header / trusted_proxies) against the ip lists, the NIP-98
 * signer against the pubkey lists; GET (and the POST /messages/* queries) as reads judged by
 * [auth.req], other POSTs as writes judged by [auth.event]. Refusals are 403 JSON `blocked:`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { stopRelay } from '../helpers/fixture.js';
import { startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { api, b64, client, gatewayToml, keyPackage, newKeys, publishOk, type ApiResult } from '../gateway/helpers.js';

const admin = newKeys();

async function withRelay(t: import('node:test').TestContext, extra: string, gateway = ''): Promise<RelayHandle> {
  const relay = await startRelay({ toml: gatewayToml([admin], gateway) + extra });
  t.after(() => stopRelay(relay));
  return relay;
}

function assertBlocked(r: ApiResult, what: string): void {
  assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json.code, 'forbidden', what);
  assert.match(r.json.error, /^blocked: /, what);
}

/** NIP-42's "authenticated, still not allowed": the NIP-98 signer is known and refused. */
function assertRestricted(r: ApiResult, what: string): void {
  assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json.code, 'restricted', what);
  assert.match(r.json.error, /^restricted: /, what);
}

/** Status of a WebSocket upgrade attempt (101 when it succeeds). */
function upgradeStatus(relay: RelayHandle): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(relay.httpUrl, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': b64('0123456789abcdef') },
      timeout: 5000,
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('upgrade timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('pubkey_whitelist: a pubkey refused on the WebSocket is refused over REST too; a whitelisted one still works', async (t) => {
  const alice = newKeys();
  const bob = newKeys();
  const relay = await withRelay(t, `\n[auth]\nenabled = true\npubkey_whitelist = ["${alice.pk}"]\n`);

  // Alice publishes KeyPackages (whitelisted for writes); Bob is refused on the WebSocket.
  const a = await client(t, relay, alice);
  await publishOk(a, keyPackage(alice));
  await publishOk(a, keyPackage(alice));
  const b = await client(t, relay, bob);
  const refused = await b.publish(keyPackage(bob));
  assert.equal(refused[2], false);

  // Over REST Bob reads nothing, claims nothing, deposits nothing.
  assertRestricted(await api(relay, bob, 'GET', `/keypackages?owner=${alice.pk}`), 'stock read');
  assertRestricted(await api(relay, bob, 'POST', '/keypackages/claim', { owner: alice.pk }), 'claim');
  assertRestricted(await api(relay, bob, 'POST', '/welcome', { recipient: alice.pk, welcome_b64: b64('w') }), 'welcome deposit');
  assertRestricted(await api(relay, bob, 'POST', '/keypackages', { recipient: alice.pk, content_b64: b64('kp') }), 'key-package deposit');
  assertRestricted(await api(relay, bob, 'GET', '/groups'), 'registry');
  assertRestricted(await api(relay, bob, 'POST', '/messages/missed', { since: 0 }), 'missed messages');

  // Alice, whitelisted, uses every one of them.
  const stock = await api(relay, alice, 'GET', `/keypackages?owner=${alice.pk}`);
  assert.equal(stock.status, 200);
  assert.equal(stock.json.keypackages.length, 2);
  assert.equal((await api(relay, alice, 'POST', '/keypackages/claim', { owner: alice.pk })).status, 200);
  assert.equal((await api(relay, alice, 'POST', '/welcome', { recipient: bob.pk, welcome_b64: b64('w') })).status, 200);
  assert.equal((await api(relay, alice, 'GET', '/groups')).status, 200);
  assert.equal((await api(relay, alice, 'POST', '/messages/missed', { since: 0 })).status, 200);
});

test('ip_blacklist: the upgrade and the REST API are both refused, before any token is looked at', async (t) => {
  const alice = newKeys();
  const relay = await withRelay(t, '\n[auth]\nenabled = true\nip_blacklist = ["127.0.0.1"]\n');
  assert.equal(await upgradeStatus(relay), 403);
  assertBlocked(await api(relay, alice, 'GET', '/groups'), 'GET /groups');
  assertBlocked(await api(relay, alice, 'POST', '/welcome', { recipient: newKeys().pk, welcome_b64: b64('w') }), 'POST /welcome');
  assertBlocked(await api(relay, undefined, 'GET', `/keypackages?owner=${alice.pk}`), 'no token at all');
});

test('[auth.req] judges reads and [auth.event] writes; the address comes from real_ip_header', async (t) => {
  const alice = newKeys();
  const bob = newKeys();
  const relay = await withRelay(
    t,
    `\n[network]\nreal_ip_header = "x-forwarded-for"\ntrusted_proxies = 1\n` +
      `[auth]\nenabled = true\n[auth.event]\npubkey_whitelist = ["${alice.pk}"]\nip_blacklist = ["203.0.113.0/24"]\n`,
  );
  const proxied = { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' };
  const welcome = () => ({ recipient: newKeys().pk, welcome_b64: b64('w') });

  // Bob may read (no [auth.req] rule) but not write.
  assert.equal((await api(relay, bob, 'GET', `/keypackages?owner=${alice.pk}`)).status, 200);
  assert.equal((await api(relay, bob, 'POST', '/messages/missed', { since: 0 })).status, 200);
  assertRestricted(await api(relay, bob, 'POST', '/welcome', welcome()), 'bob writes');
  assertRestricted(await api(relay, bob, 'POST', '/keypackages/claim', { owner: alice.pk }), 'bob claims');

  // Alice writes, except from the blacklisted network as the trusted proxy reports it.
  assert.equal((await api(relay, alice, 'POST', '/welcome', welcome())).status, 200);
  assertBlocked(await api(relay, alice, 'POST', '/welcome', welcome(), proxied), 'alice behind 203.0.113.9');
  assert.equal((await api(relay, alice, 'GET', '/groups', undefined, proxied)).status, 200);
  // An address the client wrote itself, left of the proxy's entry, proves nothing.
  assert.equal((await api(relay, alice, 'POST', '/welcome', welcome(), { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' })).status, 200);
});
