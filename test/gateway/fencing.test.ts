/**
 * Commit fencing (RFC 9750 §5.2, commit_fencing = true) and the last_epoch rule: the first
 * ["mls_commit", N] 445 per (group, epoch) in relay order wins, later ones are refused
 * naming the winner, Welcomes for a Commit that did not win are refused, and the registry's
 * last_epoch moves only with winning Commits, one epoch at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import type { RelayHandle } from '../helpers/relay-process.js';
import {
  api,
  b64,
  client,
  commitMessage,
  gatewayToml,
  giftWrap,
  groupMessage,
  newKeys,
  publishOk,
  publishRejected,
  randomGroup,
  roster,
  signEvent,
  type Event,
  type Keys,
} from './helpers.js';

const admin = newKeys();
const member = newKeys();
const fenced = sharedRelay({ toml: gatewayToml([admin], 'commit_fencing = true') });
const unfenced = sharedRelay({ toml: gatewayToml([admin]) });

async function newGroup(t: Parameters<typeof client>[0], relay: RelayHandle): Promise<string> {
  const group = randomGroup();
  await publishOk(await client(t, relay, admin), roster(admin, group, 1, 'bootstrap', [member.pk]));
  return group;
}

async function lastEpoch(relay: RelayHandle, group: string): Promise<number | null> {
  const r = await api(relay, member, 'GET', `/groups/${group}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.group.last_epoch;
}

function wrapFor(recipient: Keys, group: string | undefined, commitId: string): Event {
  return signEvent(newKeys(), { kind: 1059, content: b64('sealed'), tags: [['p', recipient.pk], ...(group ? [['h', group]] : []), ['mls_commit', commitId]] });
}

test('fencing on: the second Commit for an epoch is refused naming the winner; last_epoch moves one epoch per winning Commit', async (t) => {
  const relay = fenced();
  const group = await newGroup(t, relay);
  const c = await client(t, relay, member);
  const first = commitMessage(group, 0);
  await publishOk(c, first);
  const second = commitMessage(group, 0);
  const msg = await publishRejected(c, second, 'blocked:');
  assert.equal(msg, `blocked: epoch 0 of group ${group} already has commit ${first.id}`);
  assert.equal(/already has commit ([0-9a-f]{64})$/.exec(msg)?.[1], first.id, 'the winner id can be parsed');
  assert.equal(await lastEpoch(relay, group), 1);
  // The refused Commit is not stored.
  const got = await c.req('f', { kinds: [445], '#h': [group] });
  assert.deepEqual(got.events.map((e) => e.id), [first.id]);

  await publishOk(c, commitMessage(group, 1));
  assert.equal(await lastEpoch(relay, group), 2);
  // Application messages never move it, whatever their k tag.
  await publishOk(c, groupMessage(group, 999999999999999));
  assert.equal(await lastEpoch(relay, group), 2, 'k tag of an application message ignored');
  // A Commit for an epoch that is not the current one is refused: nobody can claim a future
  // epoch in advance (and block the real Commit there) or jump the registry to it.
  assert.equal(
    await publishRejected(c, commitMessage(group, 999999999999999), 'blocked:'),
    `blocked: epoch 999999999999999 of group ${group} is not its current epoch 2`,
  );
  assert.equal(await publishRejected(c, commitMessage(group, 3), 'blocked:'), `blocked: epoch 3 of group ${group} is not its current epoch 2`);
  assert.equal(await lastEpoch(relay, group), 2, 'no jump to an epoch out of reach');
  await publishOk(c, commitMessage(group, 2));
  assert.equal(await lastEpoch(relay, group), 3);
});

test('fencing on: 8 Commits for one epoch from 8 connections at once: exactly one OK true, every refusal names it', async (t) => {
  const relay = fenced();
  const group = await newGroup(t, relay);
  const conns = await Promise.all(Array.from({ length: 8 }, () => client(t, relay, member)));
  const commits = conns.map(() => commitMessage(group, 0));
  const oks = await Promise.all(conns.map((c, i) => c.publish(commits[i]!)));
  const winners = oks.filter((o) => o[2] === true);
  assert.equal(winners.length, 1, JSON.stringify(oks.map((o) => o.slice(2))));
  const winner = winners[0]![1];
  for (const o of oks) if (o[2] !== true) assert.equal(o[3], `blocked: epoch 0 of group ${group} already has commit ${winner}`);
  assert.equal(await lastEpoch(relay, group), 1);
});

test('fencing on: a Welcome naming a losing or unknown Commit is refused, naming the winner is accepted', async (t) => {
  const relay = fenced();
  const group = await newGroup(t, relay);
  const other = await newGroup(t, relay);
  const c = await client(t, relay, member);
  const winner = commitMessage(group, 0);
  await publishOk(c, winner);
  const loser = commitMessage(group, 0);
  await publishRejected(c, loser, 'blocked:');
  const joiner = newKeys();
  assert.equal(await publishRejected(c, wrapFor(joiner, group, loser.id), 'blocked:'), `blocked: commit ${loser.id} is not an accepted commit`);
  const unknown = 'ab'.repeat(32);
  assert.equal(await publishRejected(c, wrapFor(joiner, undefined, unknown), 'blocked:'), `blocked: commit ${unknown} is not an accepted commit`);
  assert.equal(await publishRejected(c, wrapFor(joiner, other, winner.id), 'blocked:'), `blocked: commit ${winner.id} is not an accepted commit of group ${other}`);
  await publishOk(c, wrapFor(joiner, group, winner.id));
  await publishOk(c, wrapFor(newKeys(), undefined, winner.id));
  // Untagged wraps are not judged.
  await publishOk(c, giftWrap(newKeys().pk, group));
});

test('malformed mls_commit tags are invalid', async (t) => {
  const relay = fenced();
  const group = await newGroup(t, relay);
  const c = await client(t, relay, member);
  const bad445 = (tags: string[][]) => signEvent(newKeys(), { kind: 445, content: b64('c'), tags: [['h', group], ...tags] });
  for (const tags of [[['mls_commit', 'x']], [['mls_commit', '-1']], [['mls_commit', '1'], ['mls_commit', '2']], [['mls_commit', '']], [['mls_commit', '1'], ['k', '2']]]) {
    await publishRejected(c, bad445(tags), 'invalid:');
  }
  await publishOk(c, bad445([['mls_commit', '3'], ['k', '3']]));
  for (const v of ['short', 'AB'.repeat(32)]) await publishRejected(c, wrapFor(newKeys(), group, v), 'invalid:');
});

test('fencing off: both Commits are stored, nothing is refused; last_epoch still moves only with the first Commit of an epoch', async (t) => {
  const relay = unfenced();
  const group = await newGroup(t, relay);
  const c = await client(t, relay, member);
  const a = commitMessage(group, 0);
  const b = commitMessage(group, 0);
  await publishOk(c, a);
  await publishOk(c, b);
  assert.equal(await lastEpoch(relay, group), 1);
  await publishOk(c, groupMessage(group, 999999999999999));
  assert.equal(await lastEpoch(relay, group), 1, 'k tag ignored');
  await publishOk(c, commitMessage(group, 999999999999999));
  assert.equal(await lastEpoch(relay, group), 1);
  // Welcomes are not judged without fencing.
  await publishOk(c, wrapFor(newKeys(), group, b.id));
  // REST catch-up gives every member the same order: a, then b.
  const r = await api(relay, member, 'POST', '/messages/group', { group_id: group });
  assert.deepEqual(r.json.messages.slice(0, 2).map((e: Event) => e.id), [a.id, b.id]);
});
