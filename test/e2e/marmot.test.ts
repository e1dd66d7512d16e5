/**
 * A Marmot-style group on the shipped default (group_policy "roster"), with genuine ts-mls:
 * 30443 KeyPackages in the Marmot vocabulary, 445s with only `h`, a Welcome in a 1059 with
 * only `p`, and no 450 at all. Then the rule that keeps such a group from being seized: a
 * roster cannot be bootstrapped over its traffic, except by a relay admin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCommit, createGroup, encodeMlsMessage } from 'ts-mls';
import {
  buildAddressableKeyPackageEvent,
  buildGroupMessage,
  buildRosterEvent,
  fromHex,
  giftWrapWelcome,
  groupMessageBytes,
  keyPackageBytes,
  tagValue,
  unwrapGift,
  welcomeBytes,
  type NostrEvent,
} from '../../src/client/index.js';
import { assertOk, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { newKeys, now } from '../helpers/ws-client.js';
import { decodeKeyPackage, encryptText, epochOf, impl, joinFromWelcome, memberIdentities, newKeyPackage, processMessage } from './mls.js';
import { connectAs, randomGroupId, reqOnce, rest, subId } from './support.js';

test('Marmot group on the default config: 30443, 445 with only h, 1059 with only p, no 450; bootstrap over it only by a relay admin', async (t) => {
  const admin = newKeys();
  // Nothing but the gateway switched on and an admin named: group_policy is the shipped default.
  const relay = await startRelay({ toml: `[extensions.mls_gateway]\nenabled = true\nadmin_pubkeys = ["${admin.pk}"]\n` });
  t.after(() => stopRelay(relay));
  const [alice, bob, mallory] = [newKeys(), newKeys(), newKeys()];
  const aws = await connectAs(t, relay, [alice]);
  const bws = await connectAs(t, relay, [bob]);
  const mws = await connectAs(t, relay, [mallory]);
  const anon = await connectAs(t, relay, []);

  // 1. Bob publishes a genuine KeyPackage as a Marmot 30443 (mls_* tags, `i` key ref).
  const bobKp = await newKeyPackage(bob.pk);
  const kpEvent = buildAddressableKeyPackageEvent(bob.sk, 'slot-0', { keyPackage: bobKp.encoded, keyRef: bobKp.ref, vocabulary: 'marmot', expiresAt: now() + 86_400 });
  assertOk(await bws.publish(kpEvent), true);
  const aliceKp = await newKeyPackage(alice.pk);

  // 2. Alice finds it by REQ, as Marmot clients do, and creates the group with a Commit adding Bob.
  const found = await reqOnce(aws, 'kp', { kinds: [30443], authors: [bob.pk] });
  assert.deepEqual(found.events.map((e) => e.id), [kpEvent.id]);
  const G = randomGroupId();
  const initial = await createGroup(fromHex(G), aliceKp.publicPackage, aliceKp.privatePackage, [], impl);
  const added = await createCommit(
    { state: initial, cipherSuite: impl },
    { extraProposals: [{ proposalType: 'add', add: { keyPackage: decodeKeyPackage(keyPackageBytes(found.events[0] as NostrEvent)) } }], ratchetTreeExtension: true },
  );
  let aliceState = added.newState;
  const commit = buildGroupMessage({ groupId: G, message: encodeMlsMessage(added.commit) });
  assert.deepEqual(commit.tags, [['h', G]], 'a Marmot 445: only h');
  assertOk(await aws.publish(commit), true);

  // 3. The Welcome goes to Bob in a gift wrap tagged only with p.
  const welcome = encodeMlsMessage({ welcome: added.welcome!, wireformat: 'mls_welcome', version: 'mls10' });
  const { wrap } = giftWrapWelcome(alice.sk, bob.pk, { welcome, keyPackageEventId: kpEvent.id, version: null });
  assert.deepEqual(wrap.tags.map((x) => x[0]), ['p'], 'a Marmot 1059: only p');
  assertOk(await aws.publish(wrap), true);

  // 4. Bob picks it up from his mailbox (the wrap itself, once), unwraps it and joins.
  const box = await rest(relay, bob).welcomeMailbox(bob.pk);
  assert.equal(box.status, 200, box.text);
  assert.equal(box.data!.items.length, 1);
  const item = box.data!.items[0]!;
  assert.equal(item.welcome_b64, undefined);
  const opened = unwrapGift(item.event as NostrEvent, bob.sk);
  assert.equal(tagValue(opened.rumor, 'e'), kpEvent.id);
  let bobState = await joinFromWelcome(welcomeBytes(opened.rumor), bobKp);
  assert.equal(epochOf(bobState), epochOf(aliceState));
  assert.deepEqual(memberIdentities(bobState), [alice.pk, bob.pk].sort());
  assert.equal((await rest(relay, bob).ackWelcome(item.id)).status, 200);

  // 5. Application messages both ways, live, decrypted by the other member.
  const aSub = subId('alice-445');
  const bSub = subId('bob-445');
  assert.equal((await aws.req(aSub, { kinds: [445], '#h': [G] })).eose, true);
  assert.equal((await bws.req(bSub, { kinds: [445], '#h': [G] })).eose, true);
  const send = async (ws: typeof aws, state: typeof aliceState, text: string) => {
    const enc = await encryptText(state, text);
    const ev = buildGroupMessage({ groupId: G, message: enc.message });
    assertOk(await ws.publish(ev), true);
    return { state: enc.state, ev };
  };
  const recv = async (ws: typeof aws, sub: string, id: string) =>
    (await ws.nextMatching((m) => m[0] === 'EVENT' && m[1] === sub && (m[2] as NostrEvent).id === id, 5_000, `445 ${id.slice(0, 8)}`))[2] as NostrEvent;
  const hello = await send(aws, aliceState, 'hello bob');
  aliceState = hello.state;
  const atBob = await processMessage(bobState, groupMessageBytes(await recv(bws, bSub, hello.ev.id)));
  bobState = atBob.state;
  assert.equal(atBob.text, 'hello bob');
  const reply = await send(bws, bobState, 'hello alice');
  bobState = reply.state;
  const atAlice = await processMessage(aliceState, groupMessageBytes(await recv(aws, aSub, reply.ev.id)));
  aliceState = atAlice.state;
  assert.equal(atAlice.text, 'hello alice');

  // 6. Unauthenticated connections read nothing of it and may not write to it.
  const closed = await anon.req(subId('anon'), { kinds: [445], '#h': [G] });
  assert.ok(String(closed.closed).startsWith('auth-required:'), JSON.stringify(closed));
  const closedWraps = await anon.req(subId('anon-wraps'), { kinds: [1059], '#p': [bob.pk] });
  assert.ok(String(closedWraps.closed).startsWith('auth-required:'), JSON.stringify(closedWraps));
  const broad = await reqOnce(anon, 'anon-broad', { since: 0 });
  assert.deepEqual(broad.events.filter((e) => e.kind === 445 || e.kind === 1059), []);
  assertOk(await anon.publish(buildGroupMessage({ groupId: G, message: new Uint8Array([1]) })), false, 'auth-required:');

  // 7. Mallory cannot seize the group by bootstrapping a roster over its traffic...
  const seize = buildRosterEvent(mallory.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [mallory.pk] });
  assertOk(await mws.publish(seize), false, `restricted: group ${G} already has traffic; only a relay admin may bootstrap its roster`);
  // ...while a relay admin may, after which the group is members only.
  const adminWs = await connectAs(t, relay, [admin]);
  assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [alice.pk, bob.pk] })), true);
  assertOk(await mws.publish(buildGroupMessage({ groupId: G, message: new Uint8Array([2]) })), false, `restricted: not a member of group ${G}`);
  const more = await send(aws, aliceState, 'still here');
  const last = await processMessage(bobState, groupMessageBytes(await recv(bws, bSub, more.ev.id)));
  assert.equal(last.text, 'still here');
  const hist = await rest(relay, mallory).groupMessages({ group_id: G, since: 0 });
  assert.equal(hist.status, 403, 'REST catch-up is members only once the group has a roster');
});
