/**
 * Onboarding with genuine MLS over a real relay process: KeyPackages (443) → REST claim →
 * ts-mls group + Welcome → gift wrap (444 → 13 → 1059) → join → 445 traffic → removal by
 * 450 plus an MLS commit, after which the removed member neither receives nor can read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildGroupMessage,
  buildKeyPackageEvent,
  buildRosterEvent,
  fromHex,
  giftWrapWelcome,
  groupMessageBytes,
  groupMessageEpoch,
  keyPackageBytes,
  tagValue,
  unwrapGift,
  welcomeBytes,
  type NostrEvent,
} from '../../src/client/index.js';
import { assertOk, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { newKeys, now, type Keys, type RawClient } from '../helpers/ws-client.js';
import { verifySignedEvent } from '../helpers/events.js';
import {
  commitRemove,
  createGroupWith,
  decodeKeyPackage,
  encryptText,
  epochOf,
  joinFromWelcome,
  memberIdentities,
  newKeyPackage,
  processMessage,
  type OwnKeyPackage,
} from './mls.js';
import { connectAs, deliveredIds, gatewayToml, randomGroupId, reqOnce, rest, subId } from './support.js';
import type { ClientState } from 'ts-mls';

interface User {
  name: string;
  keys: Keys;
  ws: RawClient;
  /** KeyPackage event id → its private half, so a Welcome naming it (`e`) can be opened. */
  keyPackages: Map<string, OwnKeyPackage>;
  state?: ClientState;
}

const SILENCE_MS = 800;

test('onboarding: three users, KeyPackages, REST claim, gift-wrapped Welcomes, MLS traffic, removal', async (t) => {
  const admin = newKeys();
  const relay = await startRelay({ toml: gatewayToml({ admins: [admin.pk] }) });
  t.after(() => stopRelay(relay));

  const mk = async (name: string): Promise<User> => {
    const keys = newKeys();
    return { name, keys, ws: await connectAs(t, relay, [keys]), keyPackages: new Map() };
  };
  const alice = await mk('alice');
  const bob = await mk('bob');
  const carol = await mk('carol');
  const adminWs = await connectAs(t, relay, [admin]);

  // 1. Everyone publishes two real ts-mls KeyPackages as 443s.
  for (const u of [alice, bob, carol]) {
    for (let i = 0; i < 2; i++) {
      const kp = await newKeyPackage(u.keys.pk);
      const ev = buildKeyPackageEvent(u.keys.sk, { keyPackage: kp.encoded, keyRef: kp.ref, expiresAt: now() + 86_400 });
      assertOk(await u.ws.publish(ev), true);
      u.keyPackages.set(ev.id, kp);
    }
  }

  // 2. An admin bootstraps the roster with Alice as a member, then makes her a group admin,
  //    so her gift wraps carrying `h` enrol the people she invites (membership_from_giftwrap).
  const G = randomGroupId();
  assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [alice.keys.pk] })), true);
  assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 2, op: 'promote', role: 'admin', members: [alice.keys.pk] })), true);

  // 3. Alice claims one KeyPackage each of Bob and Carol over REST (NIP-98).
  const aliceApi = rest(relay, alice.keys);
  const claimed: Record<string, NostrEvent> = {};
  for (const u of [bob, carol]) {
    const r = await aliceApi.claimKeyPackage(u.keys.pk);
    assert.equal(r.status, 200, `claim of ${u.name}'s KeyPackage: ${r.text}`);
    const ev = r.data!.event;
    assert.equal(r.data!.ok, true);
    assert.equal(r.data!.last_resort, false, 'two were published; the first claim is not the last resort');
    assert.equal(r.data!.remaining, 1);
    assert.equal(ev.pubkey, u.keys.pk);
    assert.ok(u.keyPackages.has(ev.id), 'the claim returns one of the events the owner signed');
    assert.ok(verifySignedEvent(ev as never), 'the claimed event is the original signed event');
    claimed[u.name] = ev;
  }
  const again = await aliceApi.claimKeyPackage(bob.keys.pk);
  assert.equal(again.status, 200, again.text);
  assert.notEqual(again.data!.event.id, claimed.bob!.id, 'a consumed single-use KeyPackage is never handed out twice');
  assert.equal(again.data!.last_resort, false, "Bob marked every KeyPackage single use: his last one is consumed too");
  assert.equal(again.data!.remaining, 0);
  assert.equal((await aliceApi.claimKeyPackage(bob.keys.pk)).status, 404, 'nothing is left of a stock of single-use KeyPackages');

  // 4. Alice creates the MLS group, adding both with one commit.
  const aliceKp = [...alice.keyPackages.values()][0]!;
  const bobKp = decodeKeyPackage(keyPackageBytes(claimed.bob!));
  const carolKp = decodeKeyPackage(keyPackageBytes(claimed.carol!));
  const created = await createGroupWith(fromHex(G), aliceKp, [bobKp, carolKp]);
  alice.state = created.state;

  // Bob listens live for wraps; Carol will fetch hers from storage afterwards.
  const bobWraps = subId('bob-wraps');
  const bobPre = await bob.ws.req(bobWraps, { kinds: [1059], '#p': [bob.keys.pk] });
  assert.equal(bobPre.eose, true, `Bob's REQ for his wraps: ${bobPre.closed}`);

  // 5. Gift-wrap the Welcome for each (444 → 13 → 1059 with h) and publish.
  for (const u of [bob, carol]) {
    const { wrap } = giftWrapWelcome(alice.keys.sk, u.keys.pk, { welcome: created.welcome, groupId: G, keyPackageEventId: claimed[u.name]!.id });
    assertOk(await alice.ws.publish(wrap), true);
  }

  // 6. Bob (live) and Carol (stored REQ) unwrap and join.
  const bobWrap = await bob.ws.nextEvent(bobWraps, 5_000);
  const carolRes = await reqOnce(carol.ws, 'carol-wraps', { kinds: [1059], '#p': [carol.keys.pk] });
  assert.equal(carolRes.eose, true, `Carol's REQ: ${carolRes.closed}`);
  assert.equal(carolRes.events.length, 1, 'Carol sees exactly her own wrap');
  for (const [u, wrap] of [[bob, bobWrap], [carol, carolRes.events[0]!]] as const) {
    assert.equal(tagValue(wrap, 'p'), u.keys.pk);
    const opened = unwrapGift(wrap as NostrEvent, u.keys.sk);
    assert.equal(opened.sender, alice.keys.pk);
    const kpId = tagValue(opened.rumor, 'e')!;
    const own = u.keyPackages.get(kpId);
    assert.ok(own, `${u.name}'s Welcome names one of ${u.name}'s KeyPackages`);
    u.state = await joinFromWelcome(welcomeBytes(opened.rumor), own);
    assert.equal(epochOf(u.state), epochOf(alice.state), `${u.name} joined at Alice's epoch`);
  }
  assert.deepEqual(memberIdentities(bob.state!), [alice.keys.pk, bob.keys.pk, carol.keys.pk].sort());

  // The gift wraps made Bob and Carol members of the relay's roster.
  const roster = await rest(relay, admin).getRoster(G);
  assert.equal(roster.status, 200, roster.text);
  assert.deepEqual([...roster.data!.members].sort(), [alice.keys.pk, bob.keys.pk, carol.keys.pk].sort(), 'roster after the wraps');

  // 7. Group traffic: everyone subscribes to 445 #h, messages decrypt on every other member.
  const subs = new Map<User, string>();
  for (const u of [alice, bob, carol]) {
    const id = subId(`${u.name}-445`);
    const r = await u.ws.req(id, { kinds: [445], '#h': [G] });
    assert.equal(r.eose, true, `${u.name}'s 445 REQ: ${r.closed}`);
    subs.set(u, id);
  }
  const send = async (from: User, text: string): Promise<NostrEvent> => {
    const enc = await encryptText(from.state!, text);
    from.state = enc.state;
    const ev = buildGroupMessage({ groupId: G, epoch: enc.epoch, message: enc.message });
    assert.notEqual(ev.pubkey, from.keys.pk);
    assertOk(await from.ws.publish(ev), true);
    return ev;
  };
  const receive = async (u: User, ev: NostrEvent): Promise<string | undefined> => {
    const got = await u.ws.nextMatching((m) => m[0] === 'EVENT' && m[1] === subs.get(u) && (m[2] as NostrEvent).id === ev.id, 5_000, `${u.name} receives 445 ${ev.id.slice(0, 8)}`);
    const e = got[2] as NostrEvent;
    assert.equal(groupMessageEpoch(e), epochOf(u.state!));
    const r = await processMessage(u.state!, groupMessageBytes(e));
    u.state = r.state;
    return r.text;
  };

  const hello = await send(alice, 'hello from alice');
  assert.equal(await receive(bob, hello), 'hello from alice');
  assert.equal(await receive(carol, hello), 'hello from alice');
  const reply = await send(bob, 'hi, bob here');
  assert.equal(await receive(alice, reply), 'hi, bob here');
  assert.equal(await receive(carol, reply), 'hi, bob here');

  // 8. Removal: the roster first (Alice is a group admin), then the MLS commit.
  assertOk(await alice.ws.publish(buildRosterEvent(alice.keys.sk, { groupId: G, seq: 3, op: 'remove', members: [carol.keys.pk] })), true);
  const removal = await commitRemove(alice.state!, carol.keys.pk);
  alice.state = removal.state;
  const commitEv = buildGroupMessage({ groupId: G, epoch: removal.epoch, commitEpoch: removal.epoch, message: removal.commit });
  assertOk(await alice.ws.publish(commitEv), true);
  const bc = await bob.ws.nextMatching((m) => m[0] === 'EVENT' && (m[2] as NostrEvent).id === commitEv.id, 5_000, 'Bob receives the removal commit');
  const processed = await processMessage(bob.state!, groupMessageBytes(bc[2] as NostrEvent));
  assert.equal(processed.kind, 'commit');
  bob.state = processed.state;
  assert.equal(epochOf(bob.state), epochOf(alice.state));
  assert.deepEqual(memberIdentities(bob.state), [alice.keys.pk, bob.keys.pk].sort());

  const secret = await send(alice, 'carol must not read this');
  assert.equal(await receive(bob, secret), 'carol must not read this');
  const bobSecret = await send(bob, 'nor this');
  assert.equal(await receive(alice, bobSecret), 'nor this');

  // Carol: nothing live, nothing stored, nothing counted, nothing over REST...
  await carol.ws.expectNone((m) => m[0] === 'EVENT' && m[1] === subs.get(carol), SILENCE_MS, 'a live 445 after the removal');
  const after = [commitEv.id, secret.id, bobSecret.id];
  const leaked = [...deliveredIds(carol.ws)].filter((id) => after.includes(id));
  assert.deepEqual(leaked, [], 'Carol got no post-removal event on any subscription');
  const stored = await reqOnce(carol.ws, 'carol-after', { kinds: [445], '#h': [G] });
  assert.deepEqual(stored.events.filter((e) => after.includes(e.id)).map((e) => e.id), [], 'REQ after removal');
  const byId = await reqOnce(carol.ws, 'carol-ids', { ids: after });
  assert.deepEqual(byId.events.map((e) => e.id), [], 'REQ by ids after removal');
  const cnt = await carol.ws.count(subId('carol-count'), { kinds: [445], '#h': [G] });
  assert.ok(cnt.count === undefined || cnt.count === 0, `COUNT after removal: ${JSON.stringify(cnt)}`);
  const carolApi = await rest(relay, carol.keys).groupMessages({ group_id: G, since: 0 });
  assert.ok(!carolApi.ok || carolApi.data!.messages.every((m) => !after.includes(m.id)), `REST after removal: ${carolApi.status} ${carolApi.text.slice(0, 200)}`);
  assertOk(await carol.ws.publish(buildGroupMessage({ groupId: G, epoch: 2, message: new Uint8Array([1]) })), false, 'restricted:');

  // ...and even with the ciphertext in hand, her MLS state cannot decrypt it.
  await assert.rejects(processMessage(carol.state!, groupMessageBytes(secret)), 'Carol cannot decrypt a message of the next epoch');
  const carolSawCommit = await processMessage(carol.state!, groupMessageBytes(commitEv));
  await assert.rejects(processMessage(carolSawCommit.state, groupMessageBytes(secret)), 'even after processing her own removal');

  // Bob is still a full member: REST history and the registry agree.
  const hist = await rest(relay, bob.keys).groupMessages({ group_id: G, since: 0 });
  assert.equal(hist.status, 200, hist.text);
  const histIds = hist.data!.messages.map((m) => m.id);
  for (const id of [hello.id, reply.id, commitEv.id, secret.id, bobSecret.id]) assert.ok(histIds.includes(id), `REST group history has ${id.slice(0, 8)}`);
  const reg = await rest(relay, bob.keys).getGroup(G);
  assert.equal(reg.status, 200, reg.text);
  assert.equal(Number(reg.data!.group.last_epoch), Number(epochOf(alice.state)), 'registry last_epoch follows the accepted Commits');
  const finalRoster = await rest(relay, admin).getRoster(G);
  assert.deepEqual([...finalRoster.data!.members].sort(), [alice.keys.pk, bob.keys.pk].sort());
  assert.equal(finalRoster.data!.last_seq, 3);
});
