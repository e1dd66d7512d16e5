/** NIP-42 against a real relay: the AUTH checks, several pubkeys per connection, NIP-70 with real AUTH. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, rawClient, sharedRelay } from '../helpers/fixture.js';
import { flipHex, newKeys, now, signEvent } from '../helpers/ws-client.js';
import { authAs, authEvent, challengeOf, sendAuth } from './helpers.js';

const relay = sharedRelay();
const PUBLIC_URL = 'wss://relay.example.com';
const behindProxy = sharedRelay({ toml: `[information]\nrelay_url = "${PUBLIC_URL}"\n` });

test('a valid AUTH is answered OK true and may be repeated', async (t) => {
  const c = await rawClient(t, relay().url);
  const ch = await challengeOf(c);
  assert.match(ch, /^[0-9a-f]{32}$/);
  const k = newKeys();
  const ok = await sendAuth(c, authEvent(k, ch, relay().url));
  assert.deepEqual(ok.slice(2), [true, '']);
  assertOk(await sendAuth(c, authEvent(k, ch, relay().url)), true);
});

test('refused AUTHs: each NIP-42 rule, answered OK false "invalid: ...", and the connection stays unauthenticated', async (t) => {
  const c = await rawClient(t, relay().url);
  const other = await rawClient(t, relay().url);
  const ch = await challengeOf(c);
  const url = relay().url;
  const k = newKeys();
  const good = authEvent(k, ch, url);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['wrong challenge', authEvent(k, 'f'.repeat(32), url), /^invalid: challenge/],
    ["another connection's challenge", authEvent(k, await challengeOf(other), url), /^invalid: challenge/],
    ['wrong relay', authEvent(k, ch, 'wss://other-relay.example.net'), /^invalid: relay tag/],
    ['wrong port', authEvent(k, ch, url.replace(/:(\d+)$/, (_m, p) => `:${Number(p) + 1}`)), /^invalid: relay tag/],
    ['no relay tag', authEvent(k, ch, url, { relay: null }), /^invalid: missing relay tag/],
    ['created_at 11 minutes ago', authEvent(k, ch, url, { created_at: now() - 660 }), /^invalid: AUTH event created_at/],
    ['created_at 11 minutes ahead', authEvent(k, ch, url, { created_at: now() + 660 }), /^invalid: AUTH event created_at/],
    ['wrong kind', authEvent(k, ch, url, { kind: 1 }), /^invalid: AUTH event must be kind 22242/],
    ['bad signature', { ...good, sig: flipHex(good.sig, 5) }, /^invalid: bad signature/],
    ['id not matching the content', { ...good, id: flipHex(good.id, 3) }, /^invalid: bad event id/],
  ];
  for (const [name, event, expected] of cases) {
    const ok = await sendAuth(c, event);
    assertOk(ok, false, expected);
    t.diagnostic(`${name}: ${ok[3]}`);
  }
  c.send(['AUTH', 'not an event']);
  const notice = await c.nextMatching((m) => m[0] === 'NOTICE', 5_000, 'NOTICE for a malformed AUTH');
  assert.match(String(notice[1]), /^invalid:/);

  // None of the above authenticated the connection: a protected event still needs AUTH.
  assertOk(await c.publish(signEvent(k, { tags: [['-']], content: 'protected' })), false, /^auth-required:/);
  // A 10-minute-old AUTH is still inside the window.
  assertOk(await sendAuth(c, authEvent(k, ch, url, { created_at: now() - 540 })), true);
});

test('NIP-70: a protected event needs AUTH as its author', async (t) => {
  const author = newKeys();
  const someoneElse = newKeys();
  const anon = await rawClient(t, relay().url);
  assertOk(await anon.publish(signEvent(author, { tags: [['-']], content: 'p1' })), false, /^auth-required:/);

  const wrong = await rawClient(t, relay().url);
  await authAs(wrong, relay().url, someoneElse);
  assertOk(await wrong.publish(signEvent(author, { tags: [['-']], content: 'p2' })), false, /^restricted:/);

  const right = await rawClient(t, relay().url);
  await authAs(right, relay().url, author);
  const ev = signEvent(author, { tags: [['-']], content: 'p3' });
  assertOk(await right.publish(ev), true);
  const got = await anon.req('p', { ids: [ev.id] });
  assert.deepEqual(got.events.map((e) => e.id), [ev.id]);
  // Unprotected events need no AUTH at all with [auth] disabled.
  assertOk(await anon.publish(signEvent(author, { content: 'public' })), true);
});

test('a connection may authenticate several pubkeys; each one counts', async (t) => {
  const [k1, k2, k3] = [newKeys(), newKeys(), newKeys()];
  const c = await rawClient(t, relay().url);
  await authAs(c, relay().url, k1, k2);
  assertOk(await c.publish(signEvent(k1, { tags: [['-']], content: 'k1' })), true);
  assertOk(await c.publish(signEvent(k2, { tags: [['-']], content: 'k2' })), true);
  assertOk(await c.publish(signEvent(k3, { tags: [['-']], content: 'k3' })), false, /^restricted:/);
});

test('the number of pubkeys per connection is capped; a pubkey already held can re-authenticate', async (t) => {
  const c = await rawClient(t, relay().url);
  const ch = await challengeOf(c);
  const keys = Array.from({ length: 16 }, () => newKeys());
  // Sent at once: the cap must hold even while the AUTHs are verified concurrently.
  const extra = Array.from({ length: 4 }, () => newKeys());
  const events = [...keys, ...extra].map((k) => authEvent(k, ch, relay().url));
  const waits = events.map((e) => c.nextMatching((m) => m[0] === 'OK' && m[1] === e.id, 5_000, 'AUTH OK'));
  for (const e of events) c.send(['AUTH', e]);
  const oks = await Promise.all(waits);
  const accepted = oks.filter((m) => m[2] === true).length;
  assert.equal(accepted, 16);
  for (const m of oks.filter((x) => x[2] !== true)) assert.match(String(m[3]), /^blocked: too many pubkeys/);
  assertOk(await sendAuth(c, authEvent(keys[0]!, ch, relay().url)), true);
});

test('kind 22242 is refused as an EVENT (a stored AUTH would be a replayable credential)', async (t) => {
  const c = await rawClient(t, relay().url);
  const ev = authEvent(newKeys(), await challengeOf(c), relay().url);
  assertOk(await c.publish(ev), false, /^invalid:/);
});

test('with relay_url set, the relay tag must name the public URL, not the Host header', async (t) => {
  const c = await rawClient(t, behindProxy().url);
  const ch = await challengeOf(c);
  const k = newKeys();
  assertOk(await sendAuth(c, authEvent(k, ch, behindProxy().url)), false, /^invalid: relay tag/);
  assertOk(await sendAuth(c, authEvent(k, ch, 'wss://evil.example.com')), false, /^invalid: relay tag/);
  assertOk(await sendAuth(c, authEvent(k, ch, `${PUBLIC_URL}/`)), true);
  assertOk(await c.publish(signEvent(k, { tags: [['-']] })), true);
});
