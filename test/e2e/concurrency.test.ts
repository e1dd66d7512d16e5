/**
 * Races and durability of the gateway state: parallel KeyPackage claims, racing 450s with
 * one seq (and racing bootstraps), and roster / stock / mailboxes across a SIGTERM restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildGroupMessage,
  buildKeyPackageEvent,
  buildRosterEvent,
  giftWrapWelcome,
  toBase64,
  type NostrEvent,
} from '../../src/client/index.js';
import { assertOk, stopRelay } from '../helpers/fixture.js';
import { makeTempDir, removeDir, startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { newKeys, now, type Keys, type RawClient } from '../helpers/ws-client.js';
import { newKeyPackage } from './mls.js';
import { connectAs, gatewayToml, randomGroupId, reqOnce, rest } from './support.js';

async function publishKeyPackages(c: RawClient, owner: Keys, n: number): Promise<NostrEvent[]> {
  const out: NostrEvent[] = [];
  for (let i = 0; i < n; i++) {
    // The newest carries the last_resort extension; the others are single use.
    const lastResort = i === n - 1;
    const kp = await newKeyPackage(owner.pk, { lastResort });
    // Distinct created_at keeps "oldest first" orderings unambiguous.
    const ev = buildKeyPackageEvent(owner.sk, { keyPackage: kp.encoded, keyRef: kp.ref, expiresAt: now() + 86_400, created_at: now() - n + i, singleUse: !lastResort });
    assertOk(await c.publish(ev), true);
    out.push(ev);
  }
  return out;
}

test('50 parallel claims of 20 KeyPackages: each single-use KeyPackage at most once, the last_resort one to the rest', async (t) => {
  const relay = await startRelay({ toml: gatewayToml({ admins: [] }) });
  t.after(() => stopRelay(relay));
  const owner = newKeys();
  const ws = await connectAs(t, relay, [owner]);
  const published = await publishKeyPackages(ws, owner, 20);
  const publishedIds = new Set(published.map((e) => e.id));

  const stock = await rest(relay, owner).listKeyPackages(owner.pk);
  assert.equal(stock.status, 200, stock.text);
  assert.equal(stock.data!.keypackages.length, 20);

  const claimers = Array.from({ length: 50 }, () => newKeys());
  const results = await Promise.all(claimers.map((k) => rest(relay, k).claimKeyPackage(owner.pk)));
  for (const r of results) assert.equal(r.status, 200, `every claim gets a KeyPackage (the last resort at worst): ${r.status} ${r.text.slice(0, 200)}`);

  const consumed = results.filter((r) => !r.data!.last_resort).map((r) => r.data!.event.id);
  const lastResort = results.filter((r) => r.data!.last_resort).map((r) => r.data!.event.id);
  assert.equal(new Set(consumed).size, consumed.length, 'no single-use KeyPackage was handed to two claimers');
  assert.equal(consumed.length, 19, 'all but one are consumed');
  assert.equal(lastResort.length, 31);
  assert.equal(new Set(lastResort).size, 1, 'the last resort is always the same KeyPackage');
  assert.equal(lastResort[0], published[19]!.id, 'the one with the last_resort extension');
  assert.ok(!consumed.includes(lastResort[0]!), 'the last resort is not also handed out as single-use');
  for (const id of [...consumed, ...lastResort]) assert.ok(publishedIds.has(id), 'only published KeyPackages are handed out');
  for (const r of results) assert.equal(r.data!.event.pubkey, owner.pk);

  const after = await rest(relay, owner).listKeyPackages(owner.pk);
  assert.deepEqual(after.data!.keypackages.map((k) => k.id), [lastResort[0]], 'stock holds only the last resort');
});

test('racing 450s with the same seq from different connections: exactly one OK true per seq', async (t) => {
  const founder = newKeys();
  const admin2 = newKeys();
  const relay = await startRelay({ toml: gatewayToml({ admins: [founder.pk, admin2.pk] }) });
  t.after(() => stopRelay(relay));
  // Three connections for the founder (the owner after bootstrap), two for another relay admin.
  const conns = [
    ...(await Promise.all([0, 1, 2].map(() => connectAs(t, relay, [founder])))).map((ws) => ({ ws, keys: founder })),
    ...(await Promise.all([0, 1].map(() => connectAs(t, relay, [admin2])))).map((ws) => ({ ws, keys: admin2 })),
  ];

  // Racing bootstraps of one unknown group: one founder only.
  const G = randomGroupId();
  const boots = await Promise.all(
    conns.map(({ ws, keys }, i) => ws.publish(buildRosterEvent(keys.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [newKeys().pk], note: `b${i}` }))),
  );
  assert.equal(boots.filter((o) => o[2] === true).length, 1, `bootstrap race: ${JSON.stringify(boots.map((o) => o.slice(2)))}`);
  for (const o of boots.filter((o) => o[2] !== true)) assertOk(o, false);

  const ROUNDS = 5;
  for (let seq = 2; seq < 2 + ROUNDS; seq++) {
    const oks = await Promise.all(
      conns.map(({ ws, keys }, i) => ws.publish(buildRosterEvent(keys.sk, { groupId: G, seq, op: 'add', members: [newKeys().pk], note: `s${seq}c${i}` }))),
    );
    const winners = oks.filter((o) => o[2] === true);
    assert.equal(winners.length, 1, `seq ${seq}: ${JSON.stringify(oks.map((o) => o.slice(2)))}`);
    for (const o of oks.filter((o) => o[2] !== true)) assertOk(o, false, 'invalid: stale sequence');
  }

  const roster = await rest(relay, founder).getRoster(G);
  assert.equal(roster.status, 200, roster.text);
  assert.equal(roster.data!.last_seq, 1 + ROUNDS);
  // Bootstrap member + one per round.
  assert.equal(roster.data!.members.length, 1 + ROUNDS);
  const seqs = roster.data!.history.map((e) => Number(e.tags.find((x) => x[0] === 'seq')![1])).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: 1 + ROUNDS }, (_, i) => i + 1), 'one 450 per seq in the audit trail');
});

interface Snapshot {
  stock: string[];
  roster: { owner: string | null; admins: string[]; members: string[]; last_seq: number; history: string[] };
  group: Record<string, unknown>;
  welcomes: Record<string, Array<Record<string, unknown>>>;
  kpMailbox: Array<Record<string, unknown>>;
}

test('roster, KeyPackage stock and mailboxes survive a restart (SIGTERM, same data dir)', async (t) => {
  const dataDir = await makeTempDir('mls-relay-e2e-restart-');
  t.after(() => removeDir(dataDir));
  const admin = newKeys();
  const alice = newKeys();
  const bob = newKeys();
  const carol = newKeys();
  const stranger = newKeys();
  const toml = gatewayToml({ admins: [admin.pk] });
  const G = randomGroupId();

  const snapshot = async (relay: RelayHandle): Promise<Snapshot> => {
    const stock = await rest(relay, admin).listKeyPackages(alice.pk);
    assert.equal(stock.status, 200, stock.text);
    const roster = await rest(relay, admin).getRoster(G);
    assert.equal(roster.status, 200, roster.text);
    const group = await rest(relay, alice).getGroup(G);
    assert.equal(group.status, 200, group.text);
    const welcomes: Snapshot['welcomes'] = {};
    for (const k of [bob, carol]) {
      const w = await rest(relay, k).welcomeMailbox(k.pk);
      assert.equal(w.status, 200, w.text);
      // picked_up_at is the time of a pickup; what must survive is that it happened.
      welcomes[k.pk] = w.data!.items.map(({ picked_up_at, ...rest }) => ({ ...rest, picked_up: picked_up_at != null })).sort((a, b) => String(a.id).localeCompare(String(b.id)));
    }
    const kpm = await rest(relay, carol).keyPackageMailbox(carol.pk);
    assert.equal(kpm.status, 200, kpm.text);
    const r = roster.data!;
    return {
      stock: stock.data!.keypackages.map((k) => k.id).sort(),
      roster: { owner: r.owner, admins: [...r.admins].sort(), members: [...r.members].sort(), last_seq: r.last_seq, history: r.history.map((e) => e.id) },
      group: group.data!.group as unknown as Record<string, unknown>,
      welcomes,
      kpMailbox: kpm.data!.items.map(({ picked_up_at, ...rest }) => ({ ...rest, picked_up: picked_up_at != null })),
    };
  };

  let consumedId: string;
  let groupMsg: NostrEvent;
  let before: Snapshot;
  const first = await startRelay({ dataDir, toml });
  try {
    const adminWs = await connectAs(t, first, [admin]);
    const aliceWs = await connectAs(t, first, [alice]);
    assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [alice.pk, bob.pk] })), true);
    assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 2, op: 'promote', role: 'admin', members: [alice.pk] })), true);
    await publishKeyPackages(aliceWs, alice, 4);
    const claim = await rest(first, bob).claimKeyPackage(alice.pk);
    assert.equal(claim.status, 200, claim.text);
    consumedId = claim.data!.event.id;
    // A wrap with h from a group admin: a welcome mailbox item for Carol and her membership.
    assertOk(await aliceWs.publish(giftWrapWelcome(alice.sk, carol.pk, { welcome: new Uint8Array([1, 2, 3]), groupId: G }).wrap), true);
    // A Commit created in epoch 4: the registry's last_epoch becomes 5.
    groupMsg = buildGroupMessage({ groupId: G, epoch: 4, commitEpoch: 4, message: new Uint8Array([5, 5, 5]) });
    assertOk(await aliceWs.publish(groupMsg), true);
    const dep = await rest(first, alice).depositWelcome({ recipient: bob.pk, sender: alice.pk, group_id: G, welcome_b64: toBase64(new Uint8Array([4, 4])) });
    assert.equal(dep.status, 200, dep.text);
    const kpDep = await rest(first, alice).depositKeyPackage({ recipient: carol.pk, sender: alice.pk, content_b64: toBase64(new Uint8Array([6, 6])), tags: [['cs', '0x0001']] });
    assert.equal(kpDep.status, 200, kpDep.text);

    await snapshot(first); // the first pickup
    before = await snapshot(first);
    assert.equal(before.stock.length, 3);
    assert.ok(!before.stock.includes(consumedId));
    assert.deepEqual(before.roster.members, [alice.pk, bob.pk, carol.pk].sort());
    assert.equal(before.roster.last_seq, 2);
    assert.equal(Number(before.group.last_epoch), 5);
    assert.equal(before.welcomes[carol.pk]!.length, 1, 'the 1059 is a mailbox item for Carol');
    assert.equal(before.welcomes[bob.pk]!.length, 1, 'the REST deposit is a mailbox item for Bob');
    assert.equal(before.kpMailbox.length, 1);
    await adminWs.close();
    await aliceWs.close();
  } finally {
    await stopRelay(first);
  }

  const second = await startRelay({ dataDir, toml });
  t.after(() => stopRelay(second));
  const after = await snapshot(second);
  assert.deepEqual(after.stock, before.stock, 'KeyPackage stock');
  assert.deepEqual(after.roster, before.roster, 'roster and its audit trail');
  assert.deepEqual(after.group, before.group, 'group registry');
  assert.deepEqual(after.welcomes, before.welcomes, 'welcome mailboxes');
  assert.deepEqual(after.kpMailbox, before.kpMailbox, 'key-package mailbox');

  // The rebuilt state is live state, not just a read-back.
  const carolWs = await connectAs(t, second, [carol]);
  const strangerWs = await connectAs(t, second, [stranger]);
  const carolSees = await reqOnce(carolWs, 'carol-445', { kinds: [445], '#h': [G] });
  assert.deepEqual(carolSees.events.map((e) => e.id), [groupMsg.id], 'membership from the wrap survived');
  const strangerSees = await reqOnce(strangerWs, 'stranger-445', { kinds: [445], '#h': [G] });
  assert.deepEqual(strangerSees.events.map((e) => e.id), []);
  const adminWs = await connectAs(t, second, [admin]);
  assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 2, op: 'add', members: [stranger.pk] })), false, 'invalid: stale sequence');
  assertOk(await adminWs.publish(buildRosterEvent(admin.sk, { groupId: G, seq: 3, op: 'remove', members: [carol.pk] })), true);
  const carolAfter = await reqOnce(carolWs, 'carol-445b', { kinds: [445], '#h': [G] });
  assert.deepEqual(carolAfter.events.map((e) => e.id), [], 'removal after restart applies at once');

  const claims = [];
  for (let i = 0; i < 3; i++) claims.push(await rest(second, newKeys()).claimKeyPackage(alice.pk));
  const ids = claims.map((c) => c.data?.event.id);
  assert.ok(!ids.includes(consumedId), 'a KeyPackage consumed before the restart is not handed out again');
  assert.deepEqual(claims.map((c) => c.data?.last_resort), [false, false, true]);

  const item = before.welcomes[bob.pk]![0]!;
  const ack = await rest(second, bob).ackWelcome(String(item.id));
  assert.equal(ack.status, 200, ack.text);
  const gone = await rest(second, bob).welcomeMailbox(bob.pk);
  assert.deepEqual(gone.data!.items, [], 'an acknowledged item is deleted');
});
