/**
 * Issue 8, item 8: every accepted 450 is kept for roster_policy_ttl_days (the audit
 * trail). NIP-09 may not remove one: a kind 5 from a group's admin naming its 450s is
 * refused with `blocked:` (nothing of it is applied), the REST history still holds both,
 * and a tombstone written before a 450 arrived does not keep that 450 out. Nor may a 450
 * carry a NIP-40 expiration (the expiry sweep would erase it). Deletion of other kinds
 * works as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { api, client, gatewayToml, newKeys, publishOk, publishRejected, randomGroup, roster, signEvent } from '../gateway/helpers.js';

const relayAdmin = newKeys();
const relay = sharedRelay({ toml: gatewayToml([relayAdmin]) });

test('a kind 5 naming the group\'s 450s is refused and the history stays 2', async (t) => {
  const group = randomGroup();
  const c = await client(t, relay(), relayAdmin);
  const boot = roster(relayAdmin, group, 1, 'bootstrap', []);
  const add = roster(relayAdmin, group, 2, 'add', [newKeys().pk]);
  await publishOk(c, boot);
  await publishOk(c, add);
  const before = await api(relay(), relayAdmin, 'GET', `/groups/${group}/roster`);
  assert.equal(before.status, 200);
  assert.equal(before.json.history.length, 2);

  const note = signEvent(relayAdmin, { content: 'unrelated note' });
  await publishOk(c, note);
  const del = signEvent(relayAdmin, { kind: 5, tags: [['e', boot.id], ['e', add.id], ['e', note.id]] });
  const reason = await publishRejected(c, del, 'blocked:');
  assert.match(reason, /450/);
  assert.match(reason, /audit trail/);

  const after = await api(relay(), relayAdmin, 'GET', `/groups/${group}/roster`);
  assert.equal(after.status, 200);
  assert.equal(after.json.history.length, 2, JSON.stringify(after.json.history.map((e: { id: string }) => e.id)));
  assert.deepEqual(after.json.history.map((e: { id: string }) => e.id).sort(), [boot.id, add.id].sort());
  // Refused as a whole: the kind 5 is not stored and its other target is still there.
  const stored = await c.req('s', { ids: [boot.id, add.id, note.id, del.id] });
  assert.deepEqual(stored.events.map((e) => e.id).sort(), [boot.id, add.id, note.id].sort());

  // Deleting only the note still works.
  const delNote = signEvent(relayAdmin, { kind: 5, tags: [['e', note.id]] });
  await publishOk(c, delNote);
  const left = await c.req('s2', { ids: [note.id] });
  assert.equal(left.events.length, 0);
});

test('a group admin (not a relay admin) cannot delete its own 450 either', async (t) => {
  const groupAdmin = newKeys();
  const group = randomGroup();
  const a = await client(t, relay(), relayAdmin);
  await publishOk(a, roster(relayAdmin, group, 1, 'bootstrap', [groupAdmin.pk]));
  await publishOk(a, roster(relayAdmin, group, 2, 'promote', [groupAdmin.pk], [['role', 'admin']]));
  const g = await client(t, relay(), groupAdmin);
  const own = roster(groupAdmin, group, 3, 'add', [newKeys().pk]);
  await publishOk(g, own);
  await publishRejected(g, signEvent(groupAdmin, { kind: 5, tags: [['e', own.id]] }), 'blocked:');
  const r = await api(relay(), groupAdmin, 'GET', `/groups/${group}/roster`);
  assert.equal(r.status, 200);
  assert.equal(r.json.history.length, 3);
});

test('a tombstone written before a 450 arrived does not keep it out', async (t) => {
  const group = randomGroup();
  const c = await client(t, relay(), relayAdmin);
  await publishOk(c, roster(relayAdmin, group, 1, 'bootstrap', []));
  const next = roster(relayAdmin, group, 2, 'add', [newKeys().pk]);
  // Its id is unknown to the relay yet, so the deletion is accepted (NIP-09 remembers it).
  await publishOk(c, signEvent(relayAdmin, { kind: 5, tags: [['e', next.id]] }));
  await publishOk(c, next);
  const r = await api(relay(), relayAdmin, 'GET', `/groups/${group}/roster`);
  assert.equal(r.status, 200);
  assert.equal(r.json.history.length, 2);
  assert.equal(r.json.last_seq, 2);
});

test('a 450 may not carry a NIP-40 expiration tag (the sweep would erase it early)', async (t) => {
  const group = randomGroup();
  const c = await client(t, relay(), relayAdmin);
  await publishOk(c, roster(relayAdmin, group, 1, 'bootstrap', []));
  const expiring = roster(relayAdmin, group, 2, 'add', [newKeys().pk], [['expiration', String(Math.floor(Date.now() / 1000) + 60)]]);
  const reason = await publishRejected(c, expiring, 'invalid:');
  assert.match(reason, /expiration/);
  const r = await api(relay(), relayAdmin, 'GET', `/groups/${group}/roster`);
  assert.equal(r.json.history.length, 1);
  assert.equal(r.json.last_seq, 1);
});
