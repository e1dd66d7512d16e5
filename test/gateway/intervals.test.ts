/**
 * Membership intervals: stored 445s of a roster group are served (REQ, COUNT, REST) to a
 * member only from the periods, in relay order, in which it was a member; live delivery
 * follows the roster at delivery time, as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { api, client, gatewayToml, giftWrap, groupMessage, newKeys, publishOk, randomGroup, roster, type Event, type Keys } from './helpers.js';

const admin = newKeys();
const relay = sharedRelay({ toml: gatewayToml([admin], 'group_policy = "members"') });

async function stored(t: Parameters<typeof client>[0], keys: Keys, group: string): Promise<{ req: string[]; count: number; rest: string[] }> {
  const c = await client(t, relay(), keys);
  const req = (await c.req('iv', { kinds: [445], '#h': [group] })).events.map((e) => e.id).sort();
  const count = (await c.count('ivc', { kinds: [445], '#h': [group] })).count ?? -1;
  const r = await api(relay(), keys, 'POST', '/messages/group', { group_id: group });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await c.close();
  return { req, count, rest: r.json.messages.map((e: Event) => e.id) };
}

test('a member removed and re-added reads stored messages of its membership periods only; live delivery as today', async (t) => {
  const [alice, bob, carol] = [newKeys(), newKeys(), newKeys()];
  const group = randomGroup();
  const a = await client(t, relay(), admin);
  const ca = await client(t, relay(), alice);
  await publishOk(a, roster(admin, group, 1, 'bootstrap', [alice.pk, bob.pk]));
  const live = await client(t, relay(), bob);
  const sub = await live.req('live', { kinds: [445], '#h': [group], limit: 0 });
  assert.ok(sub.eose);

  const m1 = groupMessage(group);
  await publishOk(ca, m1);
  await publishOk(a, roster(admin, group, 2, 'remove', [bob.pk]));
  const m2 = groupMessage(group);
  await publishOk(ca, m2);
  await publishOk(a, roster(admin, group, 3, 'add', [bob.pk]));
  const m3 = groupMessage(group);
  await publishOk(ca, m3);
  // Carol joins through the owner's gift wrap (membership_from_giftwrap) after m3.
  await publishOk(a, giftWrap(carol.pk, group));
  const m4 = groupMessage(group);
  await publishOk(ca, m4);

  const bobSees = await stored(t, bob, group);
  assert.deepEqual(bobSees.req, [m1.id, m3.id, m4.id].sort(), 'REQ: not m2, sent while Bob was out');
  assert.equal(bobSees.count, 3, 'COUNT agrees');
  assert.deepEqual(bobSees.rest, [m1.id, m3.id, m4.id], 'REST agrees, in relay order');

  const carolSees = await stored(t, carol, group);
  assert.deepEqual(carolSees.rest, [m4.id], 'Carol: only what came after she joined');
  assert.equal(carolSees.count, 1);

  const aliceSees = await stored(t, alice, group);
  assert.deepEqual(aliceSees.rest, [m1.id, m2.id, m3.id, m4.id], 'a member throughout reads everything');
  const ownerSees = await stored(t, admin, group);
  assert.deepEqual(ownerSees.rest, [m1.id, m2.id, m3.id, m4.id], 'the owner is a member since bootstrap');

  // Live delivery followed the roster at delivery time: m1, m3, m4 but not m2.
  await live.nextMatching((m) => m[0] === 'EVENT' && (m[2] as Event).id === m4.id, 5000, 'm4 live');
  const liveIds = live.messages.filter((m) => m[0] === 'EVENT' && m[1] === 'live').map((m) => (m[2] as Event).id);
  assert.ok(!liveIds.includes(m2.id), 'm2 was not delivered live while Bob was out');

  // Removed again: nothing stored is served to a non-member.
  await publishOk(a, roster(admin, group, 4, 'replace', [alice.pk]));
  const refused = await api(relay(), bob, 'POST', '/messages/group', { group_id: group });
  assert.equal(refused.status, 403, 'REST refuses a non-member');
  const cb = await client(t, relay(), bob);
  assert.deepEqual((await cb.req('iv2', { kinds: [445], '#h': [group] })).events, []);
});
