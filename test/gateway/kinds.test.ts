/** Kind rules of PROTOCOL.md: every rejection path with its exact prefix, and the NIP-11 block. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { httpGet } from '../helpers/http.js';
import { pooledKeyPackage } from '../helpers/mls-keypackages.js';
import {
  b64,
  client,
  gatewayToml,
  giftWrap,
  groupMessage,
  keyPackage,
  newKeys,
  now,
  publishOk,
  publishRejected,
  randomGroup,
  roster,
  signEvent,
} from './helpers.js';

const admin = newKeys();
const relay = sharedRelay({
  toml: gatewayToml([admin], `
[extensions.mls_gateway.rate_limits]
max_group_messages_per_minute = 5
max_keypackages_per_hour = 6
`),
});

test('NIP-11 advertises the gateway and NIP-59', async () => {
  const r = await httpGet(relay().httpUrl, { accept: 'application/nostr+json' });
  const doc = r.json as Record<string, any>;
  assert.ok(doc.supported_nips.includes(59));
  assert.deepEqual(doc.mls_gateway.group_policy, 'roster');
  assert.equal(doc.mls_gateway.roster_max_seq_step, 1000);
  assert.equal(doc.mls_gateway.welcome, 'gift-wrapped-444');
  assert.deepEqual(doc.mls_gateway.noise_dm, { kind: 446, version: 'noise.1' });
  for (const k of [443, 445, 446, 447, 450, 1059, 30443]) assert.ok(doc.mls_gateway.kinds.includes(k), `kind ${k}`);
});

test('kind 444 is never accepted top-level', async (t) => {
  const alice = newKeys();
  const c = await client(t, relay(), alice);
  const m = await publishRejected(c, signEvent(alice, { kind: 444, content: 'welcome' }), 'invalid:');
  assert.equal(m, 'invalid: kind 444 must be sealed and gift-wrapped (kind 1059)');
});

test('443 validation: content, p, exp, encoding, duplicate key ref, 30443 d', async (t) => {
  const alice = newKeys();
  const c = await client(t, relay(), alice);
  await publishRejected(c, keyPackage(alice, [], { content: '' }), 'invalid: KeyPackage content must be non-empty base64');
  await publishRejected(c, keyPackage(alice, [], { content: 'not base64 at all!' }), 'invalid: KeyPackage content must be non-empty base64');
  await publishRejected(c, keyPackage(alice, [['encoding', 'hex']], { content: 'zz' }), 'invalid: KeyPackage content must be non-empty hex');
  await publishRejected(c, keyPackage(alice, [['encoding', 'hex']], { content: 'abcdef01' }), 'invalid: content is not an MLS KeyPackage');
  await publishOk(c, keyPackage(alice, [['encoding', 'hex']], { content: Buffer.from(pooledKeyPackage(), 'base64').toString('hex') }));
  await publishRejected(c, keyPackage(alice, [['encoding', 'utf8']]), 'invalid: encoding');
  await publishRejected(c, keyPackage(alice, [['p', newKeys().pk]]), 'invalid: the p tag of a kind 443 KeyPackage must equal its author');
  await publishOk(c, keyPackage(alice, [['p', alice.pk]]));
  await publishRejected(c, keyPackage(alice, [['exp', String(now() - 10)]]), 'invalid: KeyPackage exp is in the past');
  await publishRejected(c, keyPackage(alice, [['exp', 'soon']]), 'invalid: exp must be a unix timestamp');
  const ref = `dup-${Math.random()}`;
  await publishOk(c, keyPackage(alice, [['kpr', ref]]));
  await publishRejected(c, keyPackage(alice, [['kpr', ref]]), 'duplicate:');
  await publishRejected(c, keyPackage(alice, [['i', ref]]), 'duplicate:');
  // Another owner may use the same key ref.
  const bob = newKeys();
  await publishOk(await client(t, relay(), bob), keyPackage(bob, [['kpr', ref]]));
  await publishRejected(c, keyPackage(alice, [], { kind: 30443 }), 'invalid: kind 30443 needs a d tag');
});

test('443 rate limit per owner', async (t) => {
  const carol = newKeys();
  const c = await client(t, relay(), carol);
  for (let i = 0; i < 6; i++) await publishOk(c, keyPackage(carol));
  await publishRejected(c, keyPackage(carol), 'rate-limited:');
});

test('445 validation and the members write rule', async (t) => {
  const member = newKeys();
  const outsider = newKeys();
  const group = randomGroup();
  const a = await client(t, relay(), admin);
  await publishOk(a, roster(admin, group, 1, 'bootstrap', [member.pk]));
  const anon = await client(t, relay());
  const m = await client(t, relay(), member);
  const o = await client(t, relay(), outsider);
  await publishRejected(m, signEvent(newKeys(), { kind: 445, content: b64('x') }), 'invalid: kind 445 needs exactly one h tag');
  await publishRejected(m, signEvent(newKeys(), { kind: 445, content: b64('x'), tags: [['h', group], ['h', group]] }), 'invalid: kind 445 needs exactly one h tag');
  await publishRejected(m, signEvent(newKeys(), { kind: 445, content: b64('x'), tags: [['h', group], ['k', 'one']] }), 'invalid: kind 445 k tag');
  await publishRejected(anon, groupMessage(group), 'auth-required:');
  await publishRejected(o, groupMessage(group), `restricted: not a member of group ${group}`);
  await publishOk(m, groupMessage(group, 1));
  // The group's owner (the bootstrapping admin) is a member too.
  await publishOk(a, groupMessage(group, 1));
  // Rate limit per group: 5 per minute.
  for (let i = 0; i < 3; i++) await publishOk(m, groupMessage(group, 2));
  await publishRejected(m, groupMessage(group, 2), 'rate-limited:');
});

test('446 validation', async (t) => {
  const alice = newKeys();
  const c = await client(t, relay(), alice);
  await publishRejected(c, signEvent(alice, { kind: 446, content: 'x' }), 'invalid: kind 446 needs exactly one p tag');
  await publishRejected(c, signEvent(alice, { kind: 446, content: 'x', tags: [['p', newKeys().pk], ['p', newKeys().pk]] }), 'invalid: kind 446 needs exactly one p tag');
  await publishRejected(c, signEvent(alice, { kind: 446, content: 'x', tags: [['p', newKeys().pk], ['v', 'noise.2']] }), 'invalid: kind 446 v tag');
  await publishOk(c, signEvent(alice, { kind: 446, content: 'x', tags: [['p', newKeys().pk], ['v', 'noise.1']] }));
});

test('447 validation: admin author, ttl, p', async (t) => {
  const alice = newKeys();
  const target = newKeys().pk;
  const c = await client(t, relay(), alice);
  await publishRejected(c, signEvent(alice, { kind: 447, tags: [['p', target]] }), 'restricted: only relay admins');
  await publishRejected(c, signEvent(admin, { kind: 447, tags: [] }), 'invalid: kind 447 needs exactly one p tag');
  await publishRejected(c, signEvent(admin, { kind: 447, tags: [['p', target], ['ttl', '60']], created_at: now() - 120 }), 'invalid: KeyPackage request expired');
  await publishRejected(c, signEvent(admin, { kind: 447, tags: [['p', target], ['ttl', 'x']] }), 'invalid: kind 447 ttl');
  await publishRejected(c, signEvent(admin, { kind: 447, tags: [['p', target], ['min', '-1']] }), 'invalid: kind 447 min');
  await publishOk(c, signEvent(admin, { kind: 447, tags: [['p', target], ['ttl', '600'], ['min', '3'], ['cs', '0x0001']] }));
  for (let i = 0; i < 9; i++) await publishOk(c, signEvent(admin, { kind: 447, tags: [['p', target]], content: String(i) }));
  await publishRejected(c, signEvent(admin, { kind: 447, tags: [['p', target]], content: 'one too many' }), 'rate-limited:');
});

test('1059 validation', async (t) => {
  const c = await client(t, relay());
  await publishRejected(c, signEvent(newKeys(), { kind: 1059, content: 'x' }), 'invalid: kind 1059 needs exactly one p tag');
  await publishRejected(c, signEvent(newKeys(), { kind: 1059, content: 'x', tags: [['p', 'abc']] }), 'invalid: kind 1059 needs exactly one p tag');
  await publishRejected(c, signEvent(newKeys(), { kind: 1059, content: 'x', tags: [['p', newKeys().pk], ['h', 'a'], ['h', 'b']] }), 'invalid: kind 1059 takes at most one h tag');
  await publishOk(c, giftWrap(newKeys().pk));
});

test('450 validation and permissions', async (t) => {
  const alice = newKeys();
  const group = randomGroup();
  const anon = await client(t, relay());
  const c = await client(t, relay(), alice);
  const a = await client(t, relay(), admin);
  await publishRejected(c, signEvent(alice, { kind: 450, tags: [['seq', '1'], ['op', 'add']] }), 'invalid: kind 450 needs exactly one h tag');
  await publishRejected(c, signEvent(alice, { kind: 450, tags: [['h', group], ['op', 'add']] }), 'invalid: kind 450 needs exactly one seq tag');
  await publishRejected(c, signEvent(alice, { kind: 450, tags: [['h', group], ['seq', '-1'], ['op', 'add']] }), 'invalid: kind 450 needs exactly one seq tag');
  await publishRejected(c, roster(alice, group, 1, 'explode'), 'invalid: kind 450 needs one op tag');
  await publishRejected(c, roster(alice, group, 1, 'add'), 'invalid: op add needs at least one p tag');
  await publishRejected(c, roster(alice, group, 1, 'add', ['nothex']), 'invalid: p tags of kind 450');
  await publishRejected(c, roster(alice, group, 1, 'promote', [alice.pk]), 'invalid: op promote needs ["role","admin"]');
  await publishRejected(c, roster(alice, group, 1, 'add', [alice.pk], [['role', 'king']]), 'invalid: role must be');
  // group_policy "roster" (the default): an authenticated client may bootstrap a group the relay
  // has never seen, but only a relay admin one that already has traffic (policy.test.ts has more).
  await publishRejected(anon, roster(alice, group, 1, 'bootstrap', [alice.pk]), 'auth-required:');
  await publishOk(c, groupMessage(group));
  await publishRejected(c, roster(alice, group, 1, 'bootstrap', [alice.pk]), `restricted: group ${group} already has traffic`);
  await publishRejected(a, roster(admin, group, 1, 'add', [alice.pk]), `invalid: unknown group ${group}`);
  await publishOk(a, roster(admin, group, 1, 'bootstrap', [alice.pk]));
  await publishRejected(a, roster(admin, group, 2, 'bootstrap', [alice.pk]), 'invalid: group');
  // A plain member may not change the roster.
  await publishRejected(c, roster(alice, group, 2, 'add', [newKeys().pk]), 'restricted:');
  await publishRejected(a, roster(admin, group, 1, 'add', [newKeys().pk]), 'invalid: stale sequence 1 (last 1)');
  await publishOk(a, roster(admin, group, 5, 'add', [newKeys().pk]));
  const m = await publishRejected(a, roster(admin, group, 3, 'add', [newKeys().pk]), 'invalid: stale sequence');
  assert.equal(m, 'invalid: stale sequence 3 (last 5)');
});
