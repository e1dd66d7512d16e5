/**
 * Issue 10: group_policy "roster" (the shipped default), the bootstrap-over-traffic rule,
 * the bound on how far one 450 moves seq, OK for oversized EVENT frames, and mailbox
 * pickup pages (cursor, has_more, each payload once). One relay on the default policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sharedRelay, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { api, b64, client, gatewayToml, groupMessage, newKeys, publishOk, publishRejected, randomGroup, roster, signEvent } from './helpers.js';

const MAX = 131072;
const admin = newKeys();
// No group_policy line: the default is under test.
const relay = sharedRelay({ toml: `[limitation]\nmax_message_length = ${MAX}\n` + gatewayToml([admin]) });

test('a group without a roster: any authenticated pubkey reads and writes it on every path; anonymous connections do not', async (t) => {
  const [alice, bob] = [newKeys(), newKeys()];
  const G = randomGroup();
  const a = await client(t, relay(), alice);
  const b = await client(t, relay(), bob);
  const anon = await client(t, relay());
  const first = groupMessage(G);
  await publishOk(a, first);
  // Live delivery to an authenticated non-member, and a write from them.
  const live = await b.req('live', { kinds: [445], '#h': [G] });
  assert.deepEqual(live.events.map((e) => e.id), [first.id], 'REQ from an authenticated pubkey');
  const second = groupMessage(G);
  await publishOk(b, second);
  assert.equal((await b.nextEvent('live')).id, second.id, 'live delivery');
  assert.equal((await b.count('c', { kinds: [445], '#h': [G] })).count, 2, 'COUNT');
  const msgs = await api(relay(), bob, 'POST', '/messages/group', { group_id: G, since: 0 });
  assert.equal(msgs.status, 200, JSON.stringify(msgs.json));
  assert.deepEqual(msgs.json.messages.map((e: { id: string }) => e.id).sort(), [first.id, second.id].sort(), 'REST catch-up');
  const reg = await api(relay(), bob, 'GET', `/groups/${G}`);
  assert.equal(reg.status, 200, 'the registry row follows the 445 read rule');
  assert.equal(reg.json.group.owner_pubkey, null);
  // Anonymous: refused on write, CLOSED on a 445-only REQ, nothing from a broad REQ or COUNT.
  await publishRejected(anon, groupMessage(G), 'auth-required: kind 445 needs a connection authenticated as any pubkey');
  const closed = await anon.req('anon445', { kinds: [445], '#h': [G] });
  assert.ok(String(closed.closed).startsWith('auth-required:'), `CLOSED: ${JSON.stringify(closed)}`);
  const broad = await anon.req('anonAll', { '#h': [G] });
  assert.deepEqual(broad.events, [], 'no 445 for an anonymous REQ without kinds');
  assert.equal((await anon.count('anonCount', { '#h': [G] })).count, 0);
});

test('a group with a roster: members only, on every path', async (t) => {
  const [member, outsider] = [newKeys(), newKeys()];
  const G = randomGroup();
  const ad = await client(t, relay(), admin);
  await publishOk(ad, roster(admin, G, 1, 'bootstrap', [member.pk]));
  const m = await client(t, relay(), member);
  const o = await client(t, relay(), outsider);
  const msg = groupMessage(G);
  await publishOk(m, msg);
  await publishRejected(o, groupMessage(G), `restricted: not a member of group ${G}`);
  assert.deepEqual((await o.req('o', { kinds: [445], '#h': [G] })).events, []);
  assert.equal((await o.count('oc', { kinds: [445], '#h': [G] })).count, 0);
  assert.deepEqual((await m.req('m', { kinds: [445], '#h': [G] })).events.map((e) => e.id), [msg.id]);
  assert.equal((await api(relay(), outsider, 'POST', '/messages/group', { group_id: G, since: 0 })).status, 403);
  assert.equal((await api(relay(), outsider, 'GET', `/groups/${G}`)).status, 404);
  assert.equal((await api(relay(), member, 'POST', '/messages/group', { group_id: G, since: 0 })).status, 200);
});

test('a roster cannot be bootstrapped over a group with traffic, except by a relay admin', async (t) => {
  const [alice, mallory] = [newKeys(), newKeys()];
  const G = randomGroup();
  const a = await client(t, relay(), alice);
  const x = await client(t, relay(), mallory);
  await publishOk(a, groupMessage(G));
  // Whoever bootstraps becomes owner: Mallory would seize the group and lock Alice out.
  const refusal = `restricted: group ${G} already has traffic; only a relay admin may bootstrap its roster`;
  assert.equal(await publishRejected(x, roster(mallory, G, 1, 'bootstrap', [mallory.pk]), 'restricted:'), refusal);
  assert.equal(await publishRejected(a, roster(alice, G, 1, 'bootstrap'), 'restricted:'), refusal);
  await publishOk(x, groupMessage(G)); // still an open group
  // A fresh group: bootstrap by anyone (the first writer defines it).
  const fresh = randomGroup();
  await publishOk(x, roster(mallory, fresh, 1, 'bootstrap'));
  // A relay admin may give the used group a roster; from then on it is members only.
  const ad = await client(t, relay(), admin);
  await publishOk(ad, roster(admin, G, 1, 'bootstrap', [alice.pk]));
  await publishOk(a, groupMessage(G));
  await publishRejected(x, groupMessage(G), `restricted: not a member of group ${G}`);
});

test('group_policy "members": relay admins provision groups, as before; NIP-11 names the policy', async (t) => {
  const members = await startRelay({ toml: gatewayToml([admin], 'group_policy = "members"') });
  t.after(() => stopRelay(members));
  const alice = newKeys();
  const G = randomGroup();
  const a = await client(t, members, alice);
  await publishRejected(a, roster(alice, G, 1, 'bootstrap'), `restricted: only the owner, an admin of group ${G} or a relay admin may change its roster`);
  await publishRejected(a, groupMessage(G), `restricted: not a member of group ${G}`);
  await publishOk(await client(t, members, admin), roster(admin, G, 1, 'bootstrap', [alice.pk]));
  await publishOk(a, groupMessage(G));
  const doc = (await fetch(members.httpUrl, { headers: { accept: 'application/nostr+json' } }).then((r) => r.json())) as { mls_gateway: { group_policy: string } };
  assert.equal(doc.mls_gateway.group_policy, 'members');
});

test('roster seq: one 450 cannot freeze the roster (bounded step, safe integers)', async (t) => {
  const groupAdmin = newKeys();
  const G = randomGroup();
  const ad = await client(t, relay(), admin);
  const g = await client(t, relay(), groupAdmin);
  await publishOk(ad, roster(admin, G, 1, 'bootstrap', [groupAdmin.pk]));
  // The freeze of the issue: before, this was accepted and no later seq ever was, not even a relay admin's.
  assert.equal(
    await publishRejected(ad, roster(admin, G, 999999999999999, 'add', [newKeys().pk]), 'invalid:'),
    'invalid: sequence 999999999999999 jumps too far (last 1, max step 1000)',
  );
  await publishOk(ad, roster(admin, G, 2, 'promote', [groupAdmin.pk], [['role', 'admin']]));
  await publishRejected(g, roster(groupAdmin, G, 1003, 'add', [newKeys().pk]), 'invalid: sequence 1003 jumps too far (last 2, max step 1000)');
  for (const bad of ['9007199254740992', '1e3', '-2', '2.0', '+3', '00000000000000003']) {
    const e = signEvent(groupAdmin, { kind: 450, tags: [['h', G], ['seq', bad], ['op', 'add'], ['p', newKeys().pk]] });
    await publishRejected(g, e, 'invalid: kind 450 needs exactly one seq tag with a decimal integer of at most 9007199254740991');
  }
  // Normal operation goes on: the next seq, then exactly one full step, from the group admin.
  await publishOk(g, roster(groupAdmin, G, 3, 'add', [newKeys().pk]));
  await publishOk(g, roster(groupAdmin, G, 1003, 'add', [newKeys().pk]));
  await publishRejected(g, roster(groupAdmin, G, 1003, 'add', [newKeys().pk]), 'invalid: stale sequence 1003 (last 1003)');
  assert.equal((await api(relay(), admin, 'GET', `/groups/${G}/roster`)).json.last_seq, 1003);
  // A bootstrap starts within one step of 0.
  assert.equal(
    await publishRejected(ad, roster(admin, randomGroup(), 5000, 'bootstrap'), 'invalid:'),
    'invalid: sequence 5000 jumps too far (last 0, max step 1000)',
  );
});

test('an EVENT frame over max_message_length gets OK false with its id; frames without one a NOTICE', async (t) => {
  const c = await client(t, relay());
  const big = signEvent(newKeys(), { kind: 1, content: 'x'.repeat(MAX + 10) });
  const frame = JSON.stringify(['EVENT', big]);
  c.send(frame);
  const ok = await c.nextMatching((m) => m[0] === 'OK' || m[0] === 'NOTICE', 5000, 'answer to an oversized EVENT');
  assert.deepEqual(ok, ['OK', big.id, false, `invalid: event too large (${Buffer.byteLength(frame)} bytes, max ${MAX})`]);
  // An id inside a tag or the content is not the event's: no OK for it.
  const decoy = 'ab'.repeat(32);
  const noId = JSON.stringify(['EVENT', { tags: [['e', decoy], ['id', decoy]], content: `"id":"${decoy}"` + 'y'.repeat(MAX) }]);
  c.send(noId);
  const n = await c.nextMatching((m) => m[0] === 'OK' || m[0] === 'NOTICE', 5000, 'answer to an oversized EVENT without id');
  assert.deepEqual(n, ['NOTICE', `invalid: message too large (${Buffer.byteLength(noId)} bytes, max ${MAX})`]);
  c.send(JSON.stringify(['REQ', 'big', { '#t': ['z'.repeat(MAX)] }]));
  const r = await c.nextMatching((m) => m[0] === 'OK' || m[0] === 'NOTICE', 5000, 'answer to an oversized REQ');
  assert.equal(r[0], 'NOTICE');
  // The connection stays usable.
  await publishOk(c, signEvent(newKeys(), { kind: 1, content: 'small' }));
});

test('mailbox pickup: cursor pages reach every pending item once; a 1059 item carries its wrap once', async (t) => {
  const [sender, recipient] = [newKeys(), newKeys()];
  const c = await client(t, relay(), sender);
  const wraps = [];
  for (let i = 0; i < 6; i++) {
    // Large wraps, as real Welcomes with a ratchet tree are.
    const w = signEvent(newKeys(), { kind: 1059, content: randomBytes(45_000).toString('base64'), tags: [['p', recipient.pk]] });
    await publishOk(c, w);
    wraps.push(w);
  }
  const rest: string[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await api(relay(), sender, 'POST', '/welcome', { recipient: recipient.pk, welcome_b64: b64(`welcome ${i}`) });
    assert.equal(d.status, 200);
    rest.push(d.json.id);
  }
  // Page by 4: 11 items in 3 pages, each item exactly once, the last page says so.
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let bytes = 0;
  for (; pages < 10; ) {
    const q: string = `/welcome?recipient=${recipient.pk}&limit=4${cursor ? `&cursor=${cursor}` : ''}`;
    const p = await api(relay(), recipient, 'GET', q);
    assert.equal(p.status, 200, JSON.stringify(p.json));
    bytes += Buffer.byteLength(JSON.stringify(p.json));
    pages++;
    for (const item of p.json.items) {
      seen.push(item.id);
      if (item.event) {
        assert.deepEqual(Object.keys(item).sort(), ['created_at', 'device', 'event', 'expires_at', 'group_id', 'id', 'picked_up_at', 'recipient_pubkey', 'sender_pubkey', 'tags']);
      } else {
        assert.deepEqual(Object.keys(item).sort(), ['created_at', 'device', 'expires_at', 'group_id', 'id', 'picked_up_at', 'ratchet_tree_b64', 'recipient_pubkey', 'sender_pubkey', 'tags', 'welcome_b64']);
      }
    }
    assert.equal(p.json.has_more, p.json.next !== null);
    if (!p.json.has_more) break;
    cursor = p.json.next;
  }
  assert.equal(pages, 3);
  assert.deepEqual([...seen].sort(), [...wraps.map((w) => w.id), ...rest].sort(), 'every pending item once');
  assert.equal(new Set(seen).size, seen.length);
  // The payload once: the whole pickup is barely more than the wraps themselves.
  const wrapBytes = wraps.reduce((n, w) => n + Buffer.byteLength(JSON.stringify(w)), 0);
  assert.ok(bytes < wrapBytes * 1.1, `pickup of ${wraps.length} wraps: ${bytes} bytes for ${wrapBytes} bytes of events`);
  t.diagnostic(`pickup bytes ${bytes} for ${wrapBytes} bytes of gift wraps (${(bytes / wrapBytes).toFixed(2)}x)`);
  // A cursor this relay did not write is a 400; an acked item leaves the pages.
  const badCursor = await api(relay(), recipient, 'GET', `/welcome?recipient=${recipient.pk}&cursor=bm90LWEtY3Vyc29y`);
  assert.equal(badCursor.status, 400);
  assert.equal(badCursor.json.code, 'bad_request');
  assert.equal((await api(relay(), recipient, 'POST', `/welcome/${wraps[0]!.id}/ack`)).status, 200);
  const all = await api(relay(), recipient, 'GET', `/welcome?recipient=${recipient.pk}&limit=100`);
  assert.equal(all.json.items.length, 10);
  assert.equal(all.json.has_more, false);
  assert.equal(all.json.next, null);
  // Key-package box: the same paging; items carry content_b64.
  for (let i = 0; i < 3; i++) {
    assert.equal((await api(relay(), sender, 'POST', '/keypackages', { recipient: recipient.pk, content_b64: b64(`kp ${i}`) })).status, 200);
  }
  const k1 = await api(relay(), recipient, 'GET', `/keypackages?recipient=${recipient.pk}&limit=2`);
  assert.equal(k1.json.items.length, 2);
  assert.equal(k1.json.has_more, true);
  const k2 = await api(relay(), recipient, 'GET', `/keypackages?recipient=${recipient.pk}&limit=2&cursor=${k1.json.next}`);
  assert.equal(k2.json.items.length, 1);
  assert.equal(k2.json.has_more, false);
  assert.deepEqual(
    [...k1.json.items, ...k2.json.items].map((i: { content_b64: string }) => Buffer.from(i.content_b64, 'base64').toString()).sort(),
    ['kp 0', 'kp 1', 'kp 2'],
  );
});
