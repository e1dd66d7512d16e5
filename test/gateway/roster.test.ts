/** Roster (kind 450): ordering, racing seqs, every op's effect on who may read and write the group. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { api, client, commitMessage, gatewayToml, giftWrap, groupMessage, newKeys, publishOk, publishRejected, randomGroup, roster } from './helpers.js';

const admin = newKeys();
const relay = sharedRelay({ toml: gatewayToml([admin]) });

test('racing 450s with one seq: exactly one wins', async (t) => {
  const group = randomGroup();
  const a = await client(t, relay(), admin);
  await publishOk(a, roster(admin, group, 1, 'bootstrap', []));
  // Eight connections race seq 2 at once; all pass the pre-check, the transaction decides.
  const conns = await Promise.all(Array.from({ length: 8 }, () => client(t, relay(), admin)));
  const racers = conns.map(() => roster(admin, group, 2, 'add', [newKeys().pk]));
  const oks = await Promise.all(conns.map((c, i) => c.publish(racers[i]!)));
  const winners = oks.filter((o) => o[2] === true);
  assert.equal(winners.length, 1, JSON.stringify(oks));
  for (const o of oks.filter((x) => x[2] === false)) assert.equal(o[3], 'invalid: stale sequence 2 (last 2)');
  const r = await api(relay(), admin, 'GET', `/groups/${group}/roster`);
  assert.equal(r.status, 200);
  assert.equal(r.json.last_seq, 2);
  assert.equal(r.json.members.length, 1);
  const winner = racers[oks.findIndex((o) => o[2] === true)]!;
  assert.deepEqual(r.json.members, [winner.tags.find((x) => x[0] === 'p')![1]]);
  // Losers are not stored: the history holds bootstrap and the winner only.
  assert.deepEqual(r.json.history.map((e: { id: string }) => e.id).sort(), [winner.id, r.json.history.find((e: any) => e.id !== winner.id).id].sort());
  assert.equal(r.json.history.length, 2);
});

test('ops: bootstrap/add/remove/replace/promote/demote and their effect on delivery', async (t) => {
  const [alice, bob, carol, dave] = [newKeys(), newKeys(), newKeys(), newKeys()];
  const group = randomGroup();
  const a = await client(t, relay(), admin);
  await publishOk(a, roster(admin, group, 1, 'bootstrap', [alice.pk, bob.pk]));
  const cb = await client(t, relay(), bob);
  const cc = await client(t, relay(), carol);
  const cal = await client(t, relay(), alice);

  // bob subscribes live; carol (not a member) too.
  await cb.req('live-b', { kinds: [445], '#h': [group] });
  await cc.req('live-c', { kinds: [445], '#h': [group] });
  const m1 = groupMessage(group, 1);
  await publishOk(cal, m1);
  assert.equal((await cb.nextEvent('live-b')).id, m1.id);
  await cc.expectNone((m) => m[0] === 'EVENT' && m[1] === 'live-c', 300, 'delivery to a non-member');
  await publishRejected(cc, groupMessage(group), 'restricted:');

  // add carol: she can write and receives live at once.
  await publishOk(a, roster(admin, group, 2, 'add', [carol.pk]));
  const m2 = groupMessage(group, 2);
  await publishOk(cc, m2);
  assert.equal((await cc.nextEvent('live-c')).id, m2.id);
  assert.equal((await cb.nextEvent('live-b')).id, m2.id);

  // remove bob: his live subscription stops receiving at once, stored reads too.
  await publishOk(a, roster(admin, group, 3, 'remove', [bob.pk]));
  const m3 = groupMessage(group, 3);
  await publishOk(cal, m3);
  assert.equal((await cc.nextEvent('live-c')).id, m3.id);
  await cb.expectNone((m) => m[0] === 'EVENT' && m[1] === 'live-b', 300, 'delivery after removal');
  const stored = await cb.req('after', { kinds: [445], '#h': [group] });
  assert.equal(stored.events.length, 0);
  await publishRejected(cb, groupMessage(group), 'restricted:');

  // promote alice: as a group admin she manages the roster; demote takes it away.
  await publishRejected(cal, roster(alice, group, 4, 'add', [dave.pk]), 'restricted:');
  await publishOk(a, roster(admin, group, 4, 'promote', [alice.pk], [['role', 'admin']]));
  await publishOk(cal, roster(alice, group, 5, 'add', [dave.pk]));
  // A group admin's gift wrap with h adds the recipient (membership_from_giftwrap).
  const erin = newKeys();
  await publishOk(cal, giftWrap(erin.pk, group));
  const ce = await client(t, relay(), erin);
  await publishOk(ce, groupMessage(group));
  await publishOk(a, roster(admin, group, 6, 'demote', [alice.pk], [['role', 'admin']]));
  await publishRejected(cal, roster(alice, group, 7, 'add', [bob.pk]), 'restricted:');
  // A plain member's gift wrap adds nobody.
  const frank = newKeys();
  await publishOk(cal, giftWrap(frank.pk, group));
  const cf = await client(t, relay(), frank);
  await publishRejected(cf, groupMessage(group), 'restricted:');

  // replace: the member list becomes exactly the p list.
  await publishOk(a, roster(admin, group, 7, 'replace', [bob.pk]));
  const r = await api(relay(), admin, 'GET', `/groups/${group}/roster?limit=3`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.members, [bob.pk]);
  assert.deepEqual(r.json.admins, [admin.pk]);
  assert.equal(r.json.owner, admin.pk);
  assert.equal(r.json.last_seq, 7);
  assert.equal(r.json.history.length, 3);
  assert.deepEqual(r.json.history.map((e: any) => e.tags.find((x: string[]) => x[0] === 'seq')[1]), ['7', '6', '5']);
  assert.equal(r.json.next, '5');
  const r2 = await api(relay(), admin, 'GET', `/groups/${group}/roster?limit=10&cursor=${r.json.next}`);
  assert.deepEqual(r2.json.history.map((e: any) => e.tags.find((x: string[]) => x[0] === 'seq')[1]), ['4', '3', '2', '1']);
  assert.equal(r2.json.next, null);
  await publishRejected(cc, groupMessage(group), 'restricted:');
  await publishOk(cb, groupMessage(group, 8));
  await publishOk(cb, commitMessage(group, 7));

  // The registry follows: epoch from accepted Commits (not k tags), owner, admins, member count.
  const g = await api(relay(), bob, 'GET', `/groups/${group}`);
  assert.equal(g.status, 200);
  assert.equal(g.json.group.last_epoch, 8);
  assert.equal(g.json.group.member_count, 1);
  assert.equal(g.json.group.owner_pubkey, admin.pk);
  // Not a member: the same 404 as an unknown group, so the answer does not tell who exists.
  const denied = await api(relay(), carol, 'GET', `/groups/${group}`);
  assert.equal(denied.status, 404);
  assert.equal(denied.json.code, 'not_found');
});

test('450 read rule: members and admins of h only', async (t) => {
  const [alice, outsider] = [newKeys(), newKeys()];
  const group = randomGroup();
  const a = await client(t, relay(), admin);
  const ev = roster(admin, group, 1, 'bootstrap', [alice.pk]);
  await publishOk(a, ev);
  const seen = async (c: Awaited<ReturnType<typeof client>>) => (await c.req('r', { kinds: [450], '#h': [group] })).events.map((e) => e.id);
  assert.deepEqual(await seen(await client(t, relay(), alice)), [ev.id]);
  assert.deepEqual(await seen(await client(t, relay(), admin)), [ev.id]);
  assert.deepEqual(await seen(await client(t, relay(), outsider)), []);
  const anon = await client(t, relay());
  const closed = await anon.req('r', { kinds: [450], '#h': [group] });
  assert.match(closed.closed ?? '', /^auth-required: /);
});
