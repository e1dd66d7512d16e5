/**
 * NIP-01 EVENT handling against a real relay: acceptance, duplicates, invalid
 * events, limits, malformed and oversized frames, NIP-70 and NIP-40 on arrival.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, ntRelay, rawClient, sharedRelay } from '../helpers/fixture.js';
import { flipHex, newKeys, now, plain, signEvent } from '../helpers/ws-client.js';

const MAX_MESSAGE_LENGTH = 8192;
const MAX_TAGS = 20;
const OLDER_SEC = 3600;
const NEWER_SEC = 600;

const relay = sharedRelay({
  toml: `
[limitation]
max_message_length = ${MAX_MESSAGE_LENGTH}
max_event_tags = ${MAX_TAGS}
max_event_time_older_than_now = ${OLDER_SEC}
max_event_time_newer_than_now = ${NEWER_SEC}
`,
});

test('EVENT → OK true (nostr-tools Relay.publish), then served unchanged', async (t) => {
  const r = await ntRelay(t, relay().url);
  const ev = signEvent(newKeys(), { content: 'hello', tags: [['t', 'greeting']] });
  await r.publish(ev); // rejects on OK false
  const c = await rawClient(t, relay().url);
  const res = await c.req('by-id', { ids: [ev.id] });
  assert.equal(res.eose, true);
  assert.deepEqual(res.events, [plain(ev)]);
});

test('EVENT → OK true on a raw connection; duplicate → OK true "duplicate:"', async (t) => {
  const c = await rawClient(t, relay().url);
  const ev = signEvent(newKeys(), { content: 'dup me' });
  assertOk(await c.publish(ev), true);
  const again = await c.publish(ev);
  assertOk(again, true, 'duplicate:');
  // The same duplicate on another connection.
  const c2 = await rawClient(t, relay().url);
  assertOk(await c2.publish(ev), true, 'duplicate:');
});

test('id that does not match the content → OK false "invalid:"', async (t) => {
  const c = await rawClient(t, relay().url);
  const ev = signEvent(newKeys(), { content: 'original' });
  const tampered = { ...ev, content: 'tampered' };
  assertOk(await c.publish(tampered), false, 'invalid:');
  const otherId = { ...ev, id: flipHex(ev.id, 5) };
  assertOk(await c.publish(otherId), false, 'invalid:');
  const res = await c.req('check', { ids: [ev.id, otherId.id] });
  assert.deepEqual(res.events, [], 'tampered events must not be stored');
});

test('bad signature → OK false "invalid:"', async (t) => {
  const c = await rawClient(t, relay().url);
  const ev = signEvent(newKeys(), { content: 'sig' });
  const bad = { ...ev, sig: flipHex(ev.sig, 10) };
  assertOk(await c.publish(bad), false, 'invalid:');
  // Signature of another event (valid hex, valid shape).
  const other = signEvent(newKeys(), { content: 'other' });
  assertOk(await c.publish({ ...ev, sig: other.sig }), false, 'invalid:');
  const res = await c.req('check', { ids: [ev.id] });
  assert.deepEqual(res.events, []);
});

test('malformed fields (with a valid id) → OK false "invalid:"', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const cases: Array<[string, (e: Record<string, unknown>) => void]> = [
    ['kind as a string', (e) => (e.kind = '1')],
    ['negative kind', (e) => (e.kind = -1)],
    ['kind above 65535', (e) => (e.kind = 70000)],
    ['fractional kind', (e) => (e.kind = 1.5)],
    ['created_at as a string', (e) => (e.created_at = String(e.created_at))],
    ['fractional created_at', (e) => (e.created_at = (e.created_at as number) + 0.5)],
    ['content as a number', (e) => (e.content = 42)],
    ['missing content', (e) => delete e.content],
    ['tags not an array', (e) => (e.tags = 'nope')],
    ['tag not an array', (e) => (e.tags = ['e'])],
    ['tag with a non-string element', (e) => (e.tags = [['t', 1]])],
    ['pubkey not hex', (e) => (e.pubkey = 'z'.repeat(64))],
    ['pubkey too short', (e) => (e.pubkey = (e.pubkey as string).slice(2))],
    ['uppercase pubkey', (e) => (e.pubkey = (e.pubkey as string).toUpperCase())],
    ['sig too short', (e) => (e.sig = (e.sig as string).slice(4))],
    ['sig not hex', (e) => (e.sig = 'x'.repeat(128))],
    ['missing sig', (e) => delete e.sig],
  ];
  for (const [name, mutate] of cases) {
    await t.test(name, async () => {
      const ev = signEvent(keys, { content: name }) as unknown as Record<string, unknown>;
      const copy: Record<string, unknown> = { ...ev };
      mutate(copy);
      const ok = await c.publish(copy);
      assertOk(ok, false, 'invalid:');
    });
  }
  // The connection is still fine after all that.
  assertOk(await c.publish(signEvent(keys, { content: 'after malformed' })), true);
});

test(`more than max_event_tags (${MAX_TAGS}) tags → OK false "invalid:"; exactly the max is accepted`, async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const tags = (n: number) => Array.from({ length: n }, (_, i) => ['t', `tag${i}`]);
  assertOk(await c.publish(signEvent(keys, { tags: tags(MAX_TAGS + 1) })), false, 'invalid:');
  assertOk(await c.publish(signEvent(keys, { tags: tags(MAX_TAGS) })), true);
});

test('created_at too old / too new → OK false "invalid:"; inside the window → OK true', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const n = now();
  assertOk(await c.publish(signEvent(keys, { created_at: n - OLDER_SEC - 600 })), false, 'invalid:');
  assertOk(await c.publish(signEvent(keys, { created_at: n + NEWER_SEC + 600 })), false, 'invalid:');
  assertOk(await c.publish(signEvent(keys, { created_at: n - OLDER_SEC + 600 })), true);
  assertOk(await c.publish(signEvent(keys, { created_at: n + NEWER_SEC - 300 })), true);
});

test('unparseable or malformed frames → NOTICE, and the connection keeps working', async (t) => {
  const c = await rawClient(t, relay().url);
  const frames = [
    'this is not json',
    '["EVENT", {"id": ',
    '{"kind": 1}',
    '[]',
    '[1, 2, 3]',
    '["EVENT"]',
    '["FOO", "bar"]',
    '"just a string"',
  ];
  for (const f of frames) {
    c.send(f);
    const notice = await c.nextMatching((m) => m[0] === 'NOTICE', 5_000, `NOTICE for frame ${f}`);
    assert.equal(typeof notice[1], 'string');
    assert.ok((notice[1] as string).length > 0, 'NOTICE text must not be empty');
  }
  assert.equal(c.closed, false);
  assertOk(await c.publish(signEvent(newKeys(), { content: 'still alive' })), true);
  const res = await c.req('alive', { limit: 1 });
  assert.equal(res.eose, true);
});

test(`frame larger than max_message_length (${MAX_MESSAGE_LENGTH}): an EVENT gets OK false with its id, other frames a NOTICE; connection still usable`, async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const big = signEvent(keys, { content: 'x'.repeat(MAX_MESSAGE_LENGTH + 100) });
  c.send(['EVENT', big]);
  const ok = await c.nextMatching((m) => m[0] === 'NOTICE' || (m[0] === 'OK' && m[1] === big.id), 5_000, 'OK for oversized EVENT');
  assert.equal(ok[0], 'OK', `expected OK, got ${JSON.stringify(ok)}`);
  assert.equal(ok[2], false);
  assert.match(String(ok[3]), /^invalid: event too large \(\d+ bytes, max 8192\)$/);
  c.send(['REQ', 'huge', { '#t': ['y'.repeat(MAX_MESSAGE_LENGTH)] }]);
  const notice = await c.nextMatching((m) => m[0] === 'NOTICE' || m[0] === 'CLOSED' || m[0] === 'EOSE', 5_000, 'NOTICE for oversized REQ');
  assert.equal(notice[0], 'NOTICE', `expected NOTICE, got ${JSON.stringify(notice)}`);
  assert.equal(c.closed, false, 'connection must stay open');
  const small = signEvent(keys, { content: 'small' });
  assertOk(await c.publish(small), true);
  const res = await c.req('check', { ids: [big.id, small.id] });
  assert.deepEqual(res.events.map((e) => e.id), [small.id], 'the oversized event must not be stored');
});

test('NIP-70: protected event ["-"] from an unauthenticated connection → OK false "auth-required:"', async (t) => {
  const c = await rawClient(t, relay().url);
  const ev = signEvent(newKeys(), { tags: [['-']], content: 'protected' });
  assertOk(await c.publish(ev), false, 'auth-required:');
  const res = await c.req('check', { ids: [ev.id] });
  assert.deepEqual(res.events, []);
});

test('NIP-40: an event already expired on arrival → OK false "invalid:"', async (t) => {
  const c = await rawClient(t, relay().url);
  const ev = signEvent(newKeys(), { tags: [['expiration', String(now() - 10)]], content: 'expired' });
  assertOk(await c.publish(ev), false, 'invalid:');
  const res = await c.req('check', { ids: [ev.id] });
  assert.deepEqual(res.events, []);
});
