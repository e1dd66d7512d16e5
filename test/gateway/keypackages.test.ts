/** KeyPackage stock: claims (atomic, last resort), expiry clamp, NIP-09, 30443, low-stock 447s (the cap: keypackage-mls.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@noble/hashes/utils.js';
import { getPublicKey } from 'nostr-tools/pure';
import { sharedRelay } from '../helpers/fixture.js';
import { api, client, gatewayToml, keyPackage, newKeys, now, publishOk, signEvent, type Event } from './helpers.js';

const system = newKeys();
const relay = sharedRelay({
  toml: gatewayToml([], `
system_secret_key = "${bytesToHex(system.sk)}"
max_keypackages_per_user = 5
keypackage_ttl = 3600
keypackage_low_water = 2
[extensions.mls_gateway.rate_limits]
max_claims_per_hour = 40
`),
});

test('claims hand out each KeyPackage once; the last one is a last resort', async (t) => {
  const [owner, claimer] = [newKeys(), newKeys()];
  const c = await client(t, relay(), owner);
  const kps: Event[] = [];
  for (let i = 0; i < 3; i++) {
    const kp = keyPackage(owner, [], { created_at: now() - 10 + i });
    kps.push(kp);
    await publishOk(c, kp);
  }
  const stock = await api(relay(), claimer, 'GET', `/keypackages?owner=${owner.pk}`);
  assert.equal(stock.status, 200);
  assert.deepEqual(stock.json.keypackages.map((k: { id: string }) => k.id), kps.map((k) => k.id));
  assert.deepEqual(Object.keys(stock.json.keypackages[0]).sort(), ['ciphersuite', 'created_at', 'device', 'expires_at', 'id', 'key_ref', 'kind', 'last_resort', 'owner']);
  assert.equal(stock.json.keypackages[0].ciphersuite, '0x0001');

  const c1 = await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: owner.pk });
  assert.equal(c1.status, 200);
  assert.deepEqual(c1.json.event, JSON.parse(JSON.stringify(kps[0])));
  assert.equal(c1.json.last_resort, false);
  assert.equal(c1.json.remaining, 2);
  const c2 = await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: owner.pk });
  assert.equal(c2.json.event.id, kps[1]!.id);
  assert.equal(c2.json.remaining, 1);
  for (let i = 0; i < 2; i++) {
    const last = await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: owner.pk });
    assert.equal(last.json.event.id, kps[2]!.id);
    assert.equal(last.json.last_resort, true);
    assert.equal(last.json.remaining, 1);
  }
  // A claimed KeyPackage is no longer served through REQ to others; its owner still sees it.
  const other = await client(t, relay(), newKeys());
  const seen = (await other.req('kp', { kinds: [443], authors: [owner.pk] })).events.map((e) => e.id);
  assert.deepEqual(seen, [kps[2]!.id]);
  const mine = (await c.req('kp', { kinds: [443], authors: [owner.pk] })).events.length;
  assert.equal(mine, 3);

  const none = await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: newKeys().pk });
  assert.equal(none.status, 404);
  assert.deepEqual(none.json, { error: 'no KeyPackage available', code: 'not_found' });
  const bad = await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: 'bob' });
  assert.equal(bad.status, 400);
});

test('concurrent claims never hand out one KeyPackage twice', async (t) => {
  const owner = newKeys();
  const c = await client(t, relay(), owner);
  const kps: string[] = [];
  for (let i = 0; i < 5; i++) {
    const kp = keyPackage(owner);
    kps.push(kp.id);
    await publishOk(c, kp);
  }
  const claimers = Array.from({ length: 20 }, () => newKeys());
  const results = await Promise.all(claimers.map((k) => api(relay(), k, 'POST', '/keypackages/claim', { owner: owner.pk })));
  const consumed = results.filter((r) => r.status === 200 && !r.json.last_resort).map((r) => r.json.event.id);
  assert.equal(consumed.length, 4);
  assert.equal(new Set(consumed).size, 4);
  const lastResort = results.filter((r) => r.status === 200 && r.json.last_resort);
  assert.equal(lastResort.length, 16);
  assert.equal(new Set(lastResort.map((r) => r.json.event.id)).size, 1);
  assert.ok(!consumed.includes(lastResort[0]!.json.event.id));
});

test('claims are rate limited per (caller, owner)', async (t) => {
  const [owner, claimer] = [newKeys(), newKeys()];
  await publishOk(await client(t, relay(), owner), keyPackage(owner));
  for (let i = 0; i < 40; i++) assert.equal((await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: owner.pk })).status, 200);
  const limited = await api(relay(), claimer, 'POST', '/keypackages/claim', { owner: owner.pk });
  assert.equal(limited.status, 429);
  assert.equal(limited.json.code, 'rate_limited');
  assert.match(limited.json.error, /^rate-limited: /);
  assert.equal((await api(relay(), newKeys(), 'POST', '/keypackages/claim', { owner: owner.pk })).status, 200);
});

test('exp is clamped to keypackage_ttl; NIP-09 removes from stock at once; 30443 replaces per d', async (t) => {
  const owner = newKeys();
  const c = await client(t, relay(), owner);
  const far = keyPackage(owner, [['exp', String(now() + 10 * 86400)]]);
  await publishOk(c, far);
  const near = keyPackage(owner, [['exp', String(now() + 600)]]);
  await publishOk(c, near);
  let stock = (await api(relay(), owner, 'GET', `/keypackages?owner=${owner.pk}`)).json.keypackages;
  const exp = Object.fromEntries(stock.map((k: { id: string; expires_at: number }) => [k.id, k.expires_at]));
  assert.ok(exp[far.id] <= now() + 3600 && exp[far.id] >= now() + 3590, `clamped ${exp[far.id]}`);
  assert.equal(exp[near.id], Number(near.tags.find((x) => x[0] === 'exp')![1]));

  await publishOk(c, signEvent(owner, { kind: 5, tags: [['e', far.id]] }));
  stock = (await api(relay(), owner, 'GET', `/keypackages?owner=${owner.pk}`)).json.keypackages;
  assert.deepEqual(stock.map((k: { id: string }) => k.id), [near.id]);

  // 30443: replacement per d, deletion by coordinate.
  const a1 = keyPackage(owner, [['d', 'slot']], { kind: 30443, created_at: now() - 5 });
  const a2 = keyPackage(owner, [['d', 'slot']], { kind: 30443 });
  await publishOk(c, a1);
  await publishOk(c, a2);
  stock = (await api(relay(), owner, 'GET', `/keypackages?owner=${owner.pk}`)).json.keypackages;
  assert.deepEqual(stock.map((k: { id: string }) => k.id).sort(), [near.id, a2.id].sort());
  await publishOk(c, signEvent(owner, { kind: 5, tags: [['a', `30443:${owner.pk}:slot`]] }));
  stock = (await api(relay(), owner, 'GET', `/keypackages?owner=${owner.pk}`)).json.keypackages;
  assert.deepEqual(stock.map((k: { id: string }) => k.id), [near.id]);

});

test('low stock makes the system key publish one 447 to the owner', async (t) => {
  const owner = newKeys();
  const c = await client(t, relay(), owner);
  await c.req('requests', { kinds: [447], '#p': [owner.pk] });
  for (let i = 0; i < 3; i++) await publishOk(c, keyPackage(owner));
  // 3 → 2: not below low water (2).
  await api(relay(), newKeys(), 'POST', '/keypackages/claim', { owner: owner.pk });
  await c.expectNone((m) => m[0] === 'EVENT' && m[1] === 'requests', 300, '447 above low water');
  // 2 → 1: below, one request.
  await api(relay(), newKeys(), 'POST', '/keypackages/claim', { owner: owner.pk });
  const req = await c.nextEvent('requests', 3000);
  assert.equal(req.kind, 447);
  assert.equal(req.pubkey, getPublicKey(system.sk));
  assert.deepEqual(req.tags.find((x) => x[0] === 'p'), ['p', owner.pk]);
  // Still low, but at most once per keypackage_request_ttl.
  await api(relay(), newKeys(), 'POST', '/keypackages/claim', { owner: owner.pk });
  await c.expectNone((m) => m[0] === 'EVENT' && m[1] === 'requests', 400, 'second 447 within the request ttl');
  const stored = await c.req('stored', { kinds: [447], '#p': [owner.pk] });
  assert.equal(stored.events.length, 1);
});
