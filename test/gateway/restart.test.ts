/** Actors at /debug/actors, state rebuilt identically after a restart, and per-config behaviour. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, makeTempDir, removeDir, type RelayHandle } from '../helpers/relay-process.js';
import { stopRelay } from '../helpers/fixture.js';
import { httpGet } from '../helpers/http.js';
import { api, b64, client, gatewayToml, giftWrap, groupMessage, keyPackage, newKeys, publishOk, publishRejected, randomGroup, roster, signEvent } from './helpers.js';

const DEBUG = '[debug]\nenabled = true\nauth = "debug-token"\n';

async function gatewayActors(relay: RelayHandle): Promise<Record<string, unknown>> {
  const r = await httpGet(`${relay.httpUrl}/debug/actors`, { authorization: 'Bearer debug-token' });
  assert.equal(r.status, 200);
  const actors = (r.json as { actors: Array<{ id: string; kind: string; snapshot: Record<string, unknown> }> }).actors;
  const out: Record<string, unknown> = {};
  for (const a of actors) {
    if (!['group', 'roster', 'mailbox'].includes(a.kind)) continue;
    // `applied` counts 450s applied by this process: the only field that is per-run, not state.
    const { applied: _applied, ...rest } = a.snapshot;
    out[a.id] = rest;
  }
  return out;
}

test('group, roster and mailbox actors survive a restart identically', async (t) => {
  const admin = newKeys();
  const [alice, bob, owner] = [newKeys(), newKeys(), newKeys()];
  const group = randomGroup();
  const dir = await makeTempDir();
  t.after(() => removeDir(dir));
  const toml = gatewayToml([admin]) + DEBUG;
  let relay = await startRelay({ toml, dataDir: dir });
  try {
    const a = await client(t, relay, admin);
    await publishOk(a, roster(admin, group, 1, 'bootstrap', [alice.pk]));
    await publishOk(a, roster(admin, group, 2, 'add', [bob.pk]));
    await publishOk(a, groupMessage(group, 7));
    await publishOk(a, giftWrap(bob.pk, group));
    const o = await client(t, relay, owner);
    for (let i = 0; i < 3; i++) await publishOk(o, keyPackage(owner));
    await api(relay, admin, 'POST', '/groups', { group_id: group, display_name: 'Ops' });
    await api(relay, alice, 'POST', '/keypackages', { recipient: bob.pk, content_b64: b64('kp') });
    const claimed = await api(relay, alice, 'POST', '/keypackages/claim', { owner: owner.pk });
    assert.equal(claimed.status, 200);

    const before = await gatewayActors(relay);
    assert.ok(before[`group:${group}`]);
    assert.ok(before[`roster:${group}`]);
    assert.ok(before[`mailbox:${bob.pk}`]);
    assert.deepEqual((before[`mailbox:${bob.pk}`] as { welcome: number; keypackage: number }).welcome, 1);
    const snapshotText = JSON.stringify(before);
    assert.ok(!snapshotText.includes(b64('kp')), 'no mailbox content in snapshots');
    const registryBefore = (await api(relay, alice, 'GET', `/groups/${group}`)).json;
    const rosterBefore = (await api(relay, alice, 'GET', `/groups/${group}/roster`)).json;
    const stockBefore = (await api(relay, alice, 'GET', `/keypackages?owner=${owner.pk}`)).json;
    await stopRelay(relay);

    relay = await startRelay({ toml, dataDir: dir });
    assert.deepEqual(await gatewayActors(relay), before);
    assert.deepEqual((await api(relay, alice, 'GET', `/groups/${group}`)).json, registryBefore);
    assert.deepEqual((await api(relay, alice, 'GET', `/groups/${group}/roster`)).json, rosterBefore);
    assert.deepEqual((await api(relay, alice, 'GET', `/keypackages?owner=${owner.pk}`)).json, stockBefore);
    // The sequence and membership rules carry on from the tables.
    const a2 = await client(t, relay, admin);
    await publishRejected(a2, roster(admin, group, 2, 'remove', [bob.pk]), 'invalid: stale sequence 2 (last 2)');
    await publishOk(await client(t, relay, bob), groupMessage(group, 8));
    const items = await api(relay, bob, 'GET', `/keypackages?recipient=${bob.pk}`);
    assert.equal(items.json.items.length, 1);
  } finally {
    await stopRelay(relay);
  }
});

test('group_policy "authenticated", membership_from_giftwrap = false, enable_api = false', async (t) => {
  const admin = newKeys();
  const relay = await startRelay({ toml: gatewayToml([admin], 'group_policy = "authenticated"\nmembership_from_giftwrap = false\nenable_api = false') + DEBUG });
  t.after(() => stopRelay(relay));
  const group = randomGroup();
  const anyone = await client(t, relay, newKeys());
  const anon = await client(t, relay);
  await publishRejected(anon, groupMessage(group), 'auth-required:');
  const msg = groupMessage(group, 1);
  await publishOk(anyone, msg);
  assert.deepEqual((await (await client(t, relay, newKeys())).req('g', { kinds: [445] })).events.map((e) => e.id), [msg.id]);
  assert.match((await anon.req('g', { kinds: [445] })).closed ?? '', /^auth-required: /);
  // Gift wraps from the group owner add nobody when membership_from_giftwrap is off.
  const a = await client(t, relay, admin);
  await publishOk(a, roster(admin, group, 1, 'bootstrap', []));
  const bob = newKeys();
  await publishOk(a, giftWrap(bob.pk, group));
  const actors = await gatewayActors(relay);
  assert.equal((actors[`roster:${group}`] as { member_count: number }).member_count, 0);
  assert.equal((actors[`mailbox:${bob.pk}`] as { welcome: number }).welcome, 1);
  const r = await httpGet(`${relay.httpUrl}/api/v1/groups`);
  assert.equal(r.status, 404);
  assert.deepEqual(Object.keys(r.json as object).sort(), ['code', 'error']);
  const nip11 = (await httpGet(relay.httpUrl, { accept: 'application/nostr+json' })).json as { mls_gateway: { group_policy: string } };
  assert.equal(nip11.mls_gateway.group_policy, 'authenticated');
});

test('group_policy "open": anyone reads and writes 445; gateway off: no block, no NIP-59', async (t) => {
  const relay = await startRelay({ toml: gatewayToml([], 'group_policy = "open"') });
  t.after(() => stopRelay(relay));
  const anon = await client(t, relay);
  const msg = groupMessage(randomGroup());
  await publishOk(anon, msg);
  assert.deepEqual((await anon.req('g', { kinds: [445] })).events.map((e) => e.id), [msg.id]);
  // Other restricted kinds stay restricted.
  await publishOk(anon, signEvent(newKeys(), { kind: 446, content: 'x', tags: [['p', newKeys().pk]] }));
  assert.match((await anon.req('d', { kinds: [446] })).closed ?? '', /^auth-required: /);

  const off = await startRelay({});
  t.after(() => stopRelay(off));
  const doc = (await httpGet(off.httpUrl, { accept: 'application/nostr+json' })).json as Record<string, any>;
  assert.equal(doc.mls_gateway, undefined);
  assert.ok(!doc.supported_nips.includes(59));
});
