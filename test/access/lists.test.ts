/**
 * [auth.req] / [auth.event] pubkey lists against a real relay: the matrix of identities (none,
 * allowed, blacklisted, unlisted, several) for EVENT, REQ and COUNT, and the event-author lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { npubEncode } from 'nostr-tools/nip19';
import { assertOk, rawClient, sharedRelay } from '../helpers/fixture.js';
import { newKeys, signEvent, type Keys, type RawClient } from '../helpers/ws-client.js';
import { authAs } from './helpers.js';

const A = newKeys(); // whitelisted reader and writer
const B = newKeys(); // whitelisted but also blacklisted: the blacklist wins
const C = newKeys(); // whitelisted
const D = newKeys(); // on no list
const W = newKeys(); // whitelisted event author, mentioned by others
const X = newKeys(); // blacklisted event author
const Y = newKeys(); // author on no list
const list = (...ks: Keys[]) => JSON.stringify(ks.map((k) => k.pk));

const relay = sharedRelay({
  toml: `
[auth]
enabled = true
[auth.req]
pubkey_whitelist = ["${npubEncode(A.pk)}", "${B.pk.toUpperCase()}", "${C.pk}"]
pubkey_blacklist = ${list(B)}
[auth.event]
pubkey_whitelist = ${list(A, B, C)}
pubkey_blacklist = ${list(B)}
event_pubkey_whitelist = ${list(A, C, W)}
event_pubkey_blacklist = ${list(X)}
allow_mentioning_whitelisted_pubkeys = true
`,
});

interface Outcome {
  event: string;
  req: string;
  count: string;
}

/** What EVENT, REQ and COUNT give on one connection: "ok" or the rejection's prefix. */
async function probe(c: RawClient, tag: string): Promise<Outcome> {
  const ok = await c.publish(signEvent(A, { content: tag, tags: [['t', 'matrix']] }));
  const req = await c.req(`r-${tag}`, { kinds: [1], '#t': ['matrix'] });
  const count = await c.count(`c-${tag}`, { kinds: [1], '#t': ['matrix'] });
  const prefix = (s: string | undefined) => (s ?? '').split(':')[0]!;
  return {
    event: ok[2] ? 'ok' : prefix(ok[3]),
    req: req.eose ? 'ok' : prefix(req.closed),
    count: count.count !== undefined ? 'ok' : prefix(count.closed ?? count.notice),
  };
}

const all = (v: string): Outcome => ({ event: v, req: v, count: v });

const matrix: Array<[string, Keys[], Outcome]> = [
  ['unauthenticated', [], all('auth-required')],
  ['authenticated as a whitelisted key', [A], all('ok')],
  ['authenticated as a blacklisted key', [B], all('blocked')],
  ['authenticated as a key on no list', [D], all('restricted')],
  ['an unlisted key, then a whitelisted one (any key qualifies)', [D, A], all('ok')],
  ['a whitelisted key, then a blacklisted one (any blacklisted key blocks)', [A, B], all('blocked')],
];

for (const [name, keys, expected] of matrix) {
  test(`EVENT / REQ / COUNT ${name}`, async (t) => {
    const c = await rawClient(t, relay().url);
    if (keys.length > 0) await authAs(c, relay().url, ...keys);
    assert.deepEqual(await probe(c, name.replace(/\W+/g, '-')), expected);
  });
}

test('rejection texts say which rule and what to do', async (t) => {
  const anon = await rawClient(t, relay().url);
  const ok = await anon.publish(signEvent(A, { content: 'x' }));
  assertOk(ok, false, /^auth-required: .*authenticate/);
  const blocked = await rawClient(t, relay().url);
  await authAs(blocked, relay().url, B);
  const req = await blocked.req('b', { kinds: [1] });
  assert.match(req.closed ?? '', /^blocked: .*pubkey/);
});

test('event author lists: blacklist, whitelist, and mentioning a whitelisted pubkey', async (t) => {
  const c = await rawClient(t, relay().url);
  await authAs(c, relay().url, A);
  assertOk(await c.publish(signEvent(C, { content: 'whitelisted author' })), true);
  assertOk(await c.publish(signEvent(Y, { content: 'unlisted author' })), false, /^blocked: /);
  const mention = signEvent(Y, { content: 'hello W', tags: [['p', W.pk]] });
  assertOk(await c.publish(mention), true);
  assertOk(await c.publish(signEvent(Y, { content: 'hello D', tags: [['p', D.pk]] })), false, /^blocked: /);
  assertOk(await c.publish(signEvent(X, { content: 'blacklisted author' })), false, /^blocked: /);
  assertOk(await c.publish(signEvent(X, { content: 'blacklisted, mentioning W', tags: [['p', W.pk]] })), false, /^blocked: /);
  const got = await c.req('m', { ids: [mention.id] });
  assert.equal(got.events.length, 1);
});

test('a blacklisted author is refused without being asked to authenticate first', async (t) => {
  const anon = await rawClient(t, relay().url);
  assertOk(await anon.publish(signEvent(X, { content: 'x' })), false, /^blocked: /);
});
