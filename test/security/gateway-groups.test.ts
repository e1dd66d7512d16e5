/**
 * Issue 8, item 10 (groups): GET /groups/{id} (and its roster) answers the same 404 for an
 * unknown group and for one the caller may not read; GET /groups pages through the caller's
 * own groups from an index kept with every roster change (limit + opaque cursor), and admins
 * page through the whole registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { api, client, gatewayToml, giftWrap, newKeys, publishOk, randomGroup, roster, type Keys } from '../gateway/helpers.js';

const admin = newKeys();
const relay = sharedRelay({ toml: gatewayToml([admin]) });

/** Every page of GET /groups with `limit`; checks the paging fields on the way. */
async function listAll(k: Keys, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const r = await api(relay(), k, 'GET', `/groups?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(r.json.groups.length <= limit);
    ids.push(...r.json.groups.map((g: { group_id: string }) => g.group_id));
    cursor = r.json.next;
    if (cursor === null) return ids;
    assert.equal(typeof cursor, 'string');
    assert.equal(r.json.groups.length, limit, 'only the last page may be short');
  }
  assert.fail('GET /groups never ended');
}

test('GET /groups/{id}: an unknown group and a group the caller may not read get the same answer', async (t) => {
  const member = newKeys();
  const outsider = newKeys();
  const group = randomGroup();
  await publishOk(await client(t, relay(), admin), roster(admin, group, 1, 'bootstrap', [member.pk]));
  const unknown = randomGroup();
  for (const suffix of ['', '/roster']) {
    const existing = await api(relay(), outsider, 'GET', `/groups/${group}${suffix}`);
    const missing = await api(relay(), outsider, 'GET', `/groups/${unknown}${suffix}`);
    assert.equal(existing.status, 404, `existing group${suffix}: ${JSON.stringify(existing.json)}`);
    assert.equal(missing.status, 404);
    // Same code, and the same text apart from the id the caller sent.
    assert.deepEqual({ ...existing.json, error: existing.json.error.replace(group, 'ID') }, { ...missing.json, error: missing.json.error.replace(unknown, 'ID') });
    assert.equal(existing.json.code, 'not_found');
    assert.equal((await api(relay(), member, 'GET', `/groups/${group}${suffix}`)).status, 200);
  }
});

test('GET /groups pages through the caller\'s groups; the index follows every roster change', async (t) => {
  const [alice, bob, carol, outsider] = [newKeys(), newKeys(), newKeys(), newKeys()];
  const a = await client(t, relay(), admin);
  const groups = Array.from({ length: 5 }, () => randomGroup());
  for (const g of groups) await publishOk(a, roster(admin, g, 1, 'bootstrap', [alice.pk]));
  // Admin of a group without being a listed member: readable too.
  const adminOnly = randomGroup();
  await publishOk(a, roster(admin, adminOnly, 1, 'bootstrap', []));
  await publishOk(a, roster(admin, adminOnly, 2, 'promote', [alice.pk], [['role', 'admin']]));
  // Groups Alice has nothing to do with.
  for (let i = 0; i < 3; i++) await publishOk(a, roster(admin, randomGroup(), 1, 'bootstrap', [bob.pk]));

  const mine = [...groups, adminOnly].sort();
  const paged = await listAll(alice, 2);
  assert.deepEqual([...paged].sort(), mine, 'pages hold each of her groups once');
  assert.equal(new Set(paged).size, paged.length);
  assert.deepEqual(await listAll(outsider, 3), []);

  // remove, demote, replace and a gift-wrap join all move the index.
  await publishOk(a, roster(admin, groups[0]!, 2, 'remove', [alice.pk]));
  await publishOk(a, roster(admin, adminOnly, 3, 'demote', [alice.pk], [['role', 'admin']]));
  await publishOk(a, roster(admin, groups[1]!, 2, 'replace', [bob.pk]));
  await publishOk(a, giftWrap(carol.pk, groups[2]!));
  assert.deepEqual((await listAll(alice, 4)).sort(), [groups[2]!, groups[3]!, groups[4]!].sort());
  assert.ok((await listAll(bob, 5)).includes(groups[1]!));
  assert.deepEqual(await listAll(carol, 6), [groups[2]!]);

  // Relay admins page through the whole registry, registry-only rows included.
  const registryOnly = randomGroup();
  assert.equal((await api(relay(), admin, 'POST', '/groups', { group_id: registryOnly, display_name: 'meta only' })).status, 200);
  const all = await listAll(admin, 3);
  assert.equal(new Set(all).size, all.length);
  for (const g of [...mine, registryOnly]) assert.ok(all.includes(g), `admin listing lacks ${g}`);

  // Paging parameters are checked.
  assert.equal((await api(relay(), alice, 'GET', '/groups?limit=x')).status, 400);
  assert.equal((await api(relay(), alice, 'GET', '/groups?cursor=%21%21')).status, 400);
});
