/**
 * The same-epoch Commit race with genuine ts-mls groups (RFC 9750 §5.2). Two members
 * create Commits for the same epoch and publish them at the same moment. With
 * commit_fencing on, exactly one gets OK true; every member, including one that catches up
 * later over REST (/messages/group, paged), ends in the same epoch with the same key
 * schedule. With fencing off both are stored, and REST catch-up in relay order gives every
 * member the same order, hence the same state.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { buildGroupMessage, buildRosterEvent, groupMessageBytes, type NostrEvent } from '../../src/client/index.js';
import { assertOk, stopRelay } from '../helpers/fixture.js';
import { startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { newKeys, type Keys, type RawClient } from '../helpers/ws-client.js';
import type { ClientState } from 'ts-mls';
import { commitUpdate, createGroupWith, encryptText, epochAuthenticator, epochOf, joinFromWelcome, newKeyPackage, processMessage } from './mls.js';
import { connectAs, gatewayToml, randomGroupId, rest } from './support.js';

interface Member {
  name: string;
  keys: Keys;
  state: ClientState;
  ws: RawClient;
}

async function setUp(t: TestContext, fencing: boolean): Promise<{ relay: RelayHandle; G: string; members: Member[] }> {
  const [alice, bob, carol, dave] = [newKeys(), newKeys(), newKeys(), newKeys()];
  const relay = await startRelay({ toml: gatewayToml({ admins: [alice.pk], gatewayExtra: `commit_fencing = ${fencing}` }) });
  t.after(() => stopRelay(relay));
  const G = randomGroupId();
  const aliceWs = await connectAs(t, relay, [alice]);
  assertOk(await aliceWs.publish(buildRosterEvent(alice.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [bob.pk, carol.pk, dave.pk] })), true);
  const own = await Promise.all([alice, bob, carol, dave].map((k) => newKeyPackage(k.pk)));
  const created = await createGroupWith(new TextEncoder().encode(G), own[0]!, own.slice(1).map((k) => k.publicPackage));
  const states = [created.state, ...(await Promise.all(own.slice(1).map((k) => joinFromWelcome(created.welcome, k))))];
  const names = ['alice', 'bob', 'carol', 'dave'];
  const keys = [alice, bob, carol, dave];
  const members: Member[] = [];
  for (let i = 0; i < 4; i++) members.push({ name: names[i]!, keys: keys[i]!, state: states[i]!, ws: i === 0 ? aliceWs : await connectAs(t, relay, [keys[i]!]) });
  return { relay, G, members };
}

/**
 * What a member does with the group's messages in relay order: its own Commit (it kept the
 * pending state) is adopted, another member's is processed, and a Commit for an epoch it
 * has already left is dropped (it lost the race in relay order).
 */
async function applyInOrder(m: Member, events: NostrEvent[], pending: Map<string, ClientState>): Promise<void> {
  for (const e of events) {
    const mine = pending.get(e.id);
    if (mine !== undefined) {
      if (epochOf(mine) === epochOf(m.state) + 1n) m.state = mine;
      continue;
    }
    const declared = e.tags.find((x) => x[0] === 'mls_commit')?.[1];
    if (declared !== undefined && BigInt(declared) !== epochOf(m.state)) continue;
    m.state = (await processMessage(m.state, groupMessageBytes(e))).state;
  }
}

async function catchUp(relay: RelayHandle, m: Member, G: string, cursor: string | null, limit: number): Promise<{ events: NostrEvent[]; cursor: string | null }> {
  const r = await rest(relay, m.keys).groupCatchUp(G, cursor, limit);
  return { events: r.messages, cursor: r.cursor };
}

function assertSameState(members: Member[], label: string): void {
  const [first, ...others] = members;
  for (const m of others) {
    assert.equal(epochOf(m.state), epochOf(first!.state), `${label}: ${m.name} in ${first!.name}'s epoch`);
    assert.equal(epochAuthenticator(m.state), epochAuthenticator(first!.state), `${label}: ${m.name} has ${first!.name}'s key schedule`);
  }
}

test('fencing on: 20 same-epoch Commit races, exactly one OK true each; all members, one catching up later by REST, end in one state', async (t) => {
  const t0 = Date.now();
  const { relay, G, members } = await setUp(t, true);
  const [alice, bob, carol, dave] = members as [Member, Member, Member, Member];
  const TRIALS = 20;
  const winners: string[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const epoch = epochOf(alice.state);
    assert.equal(epochOf(bob.state), epoch);
    // Alternate who is first in the array so neither always sends first.
    const racers = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const commits = await Promise.all(racers.map((m) => commitUpdate(m.state)));
    const events = commits.map((c) => buildGroupMessage({ groupId: G, epoch: c.epoch, commitEpoch: c.epoch, message: c.commit }));
    const oks = await Promise.all(racers.map((m, j) => m.ws.publish(events[j]!)));
    const won = oks.map((o) => o[2] === true);
    assert.equal(won.filter(Boolean).length, 1, `trial ${i}: ${JSON.stringify(oks.map((o) => o.slice(2)))}`);
    const w = won.indexOf(true);
    const l = 1 - w;
    assert.equal(oks[l]![3], `blocked: epoch ${epoch} of group ${G} already has commit ${events[w]!.id}`);
    winners.push(events[w]!.id);
    // The winner adopts its pending state; the loser drops its own and applies the winner's.
    racers[w]!.state = commits[w]!.state;
    racers[l]!.state = (await processMessage(racers[l]!.state, commits[w]!.commit)).state;
    carol.state = (await processMessage(carol.state, commits[w]!.commit)).state;
    assertSameState([alice, bob, carol], `trial ${i}`);
  }
  // Dave was away: REST paging (7 per page) from the start gives the winners, in order.
  const caught = await catchUp(relay, dave, G, null, 7);
  assert.deepEqual(caught.events.map((e) => e.id), winners, 'only the winners are stored, in relay order');
  await applyInOrder(dave, caught.events, new Map());
  assertSameState([alice, bob, carol, dave], 'after catch-up');
  assert.equal(epochOf(dave.state), 1n + BigInt(TRIALS));
  const reg = await rest(relay, dave.keys).getGroup(G);
  assert.equal(Number(reg.data!.group.last_epoch), Number(epochOf(alice.state)), 'registry last_epoch follows the winners');

  // And they can talk: a message from Dave decrypts for everyone else.
  const hello = await encryptText(dave.state, 'back in sync');
  dave.state = hello.state;
  for (const m of [alice, bob, carol]) assert.equal((await processMessage(m.state, hello.message)).text, 'back in sync');
  t.diagnostic(`${TRIALS} races in ${Date.now() - t0} ms`);
});

test('fencing off: both racing Commits are stored; REST catch-up in relay order gives every member the same order and state', async (t) => {
  const { relay, G, members } = await setUp(t, false);
  const [alice, bob] = members as [Member, Member, Member, Member];
  const TRIALS = 3;
  let cursor: string | null = null;
  const pending = new Map<string, ClientState>();
  const perMember = new Map<string, string[]>();
  for (let i = 0; i < TRIALS; i++) {
    const commits = await Promise.all([alice, bob].map((m) => commitUpdate(m.state)));
    const events = commits.map((c) => buildGroupMessage({ groupId: G, epoch: c.epoch, commitEpoch: c.epoch, message: c.commit }));
    events.forEach((e, j) => pending.set(e.id, commits[j]!.state));
    const oks = await Promise.all([alice, bob].map((m, j) => m.ws.publish(events[j]!)));
    for (const o of oks) assertOk(o, true);
    // Every member, the racers included, takes the order from the relay.
    let next: string | null = cursor;
    for (const m of members) {
      const got = await catchUp(relay, m, G, cursor, 500);
      assert.equal(got.events.length, 2, `${m.name} gets both Commits`);
      perMember.set(m.name, [...(perMember.get(m.name) ?? []), ...got.events.map((e) => e.id)]);
      await applyInOrder(m, got.events, pending);
      next = got.cursor;
    }
    cursor = next;
    assertSameState(members, `trial ${i}`);
  }
  const orders = [...perMember.values()];
  for (const o of orders) assert.deepEqual(o, orders[0], 'one order for every member');
  assert.equal(epochOf(alice.state), 1n + BigInt(TRIALS));
});
