/**
 * Kind classes against a real relay: replaceable (0, 3, 10000-19999), addressable
 * (30000-39999), ephemeral (20000-29999); NIP-09 deletion; NIP-40 expiration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from 'nostr-tools/pure';
import { assertOk, ntPool, rawClient, sharedRelay, sleep } from '../helpers/fixture.js';
import { newKeys, now, signEvent, type Keys } from '../helpers/ws-client.js';

const relay = sharedRelay();

/** Two events of the same replaceable slot with the same created_at, as [lowerId, higherId]. */
function tiePair(keys: Keys, kind: number, tags: string[][] = []): [Event, Event] {
  const ts = now() - 20;
  const x = signEvent(keys, { kind, tags, created_at: ts, content: 'tie x' });
  const y = signEvent(keys, { kind, tags, created_at: ts, content: 'tie y' });
  return x.id < y.id ? [x, y] : [y, x];
}

for (const kind of [0, 3, 10002, 19999]) {
  test(`replaceable kind ${kind}: newest kept, older arrival → OK true "duplicate:", REQ returns one`, async (t) => {
    const c = await rawClient(t, relay().url);
    const keys = newKeys();
    const older = signEvent(keys, { kind, created_at: now() - 30, content: kind === 0 ? '{"name":"old"}' : 'old' });
    const newer = signEvent(keys, { kind, created_at: now() - 10, content: kind === 0 ? '{"name":"new"}' : 'new' });
    const oldest = signEvent(keys, { kind, created_at: now() - 60, content: kind === 0 ? '{"name":"oldest"}' : 'oldest' });

    assertOk(await c.publish(older), true);
    assertOk(await c.publish(newer), true);
    let res = await c.req('r1', { kinds: [kind], authors: [keys.pk] });
    assert.deepEqual(res.events.map((e) => e.id), [newer.id]);

    const late = await c.publish(oldest);
    assertOk(late, true, 'duplicate:');
    res = await c.req('r2', { kinds: [kind], authors: [keys.pk] });
    assert.deepEqual(res.events.map((e) => e.id), [newer.id]);
    // The replaced one is gone, also by id.
    res = await c.req('r3', { ids: [older.id, oldest.id] });
    assert.deepEqual(res.events, []);
  });
}

test('replaceable tie on created_at: the lower id is kept, whatever the arrival order', async (t) => {
  const c = await rawClient(t, relay().url);
  // Higher id first, then lower: the lower replaces it.
  const k1 = newKeys();
  const [lo1, hi1] = tiePair(k1, 3);
  assertOk(await c.publish(hi1), true);
  const okLo = await c.publish(lo1);
  assertOk(okLo, true);
  assert.ok(!String(okLo[3]).startsWith('duplicate:'), `the lower id must replace, got ${JSON.stringify(okLo)}`);
  assert.deepEqual((await c.req('t1', { kinds: [3], authors: [k1.pk] })).events.map((e) => e.id), [lo1.id]);

  // Lower first, then higher: the higher is a "duplicate:".
  const k2 = newKeys();
  const [lo2, hi2] = tiePair(k2, 10002);
  assertOk(await c.publish(lo2), true);
  assertOk(await c.publish(hi2), true, 'duplicate:');
  assert.deepEqual((await c.req('t2', { kinds: [10002], authors: [k2.pk] })).events.map((e) => e.id), [lo2.id]);
});

test('addressable (d tag not first): newest per (kind, author, d); older → "duplicate:"; tie → lower id', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const kind = 30023;
  const tags = (d: string) => [['title', 'a title'], ['t', 'topic'], ['d', d]];
  const v1 = signEvent(keys, { kind, tags: tags('slug'), created_at: now() - 30, content: 'v1' });
  const v2 = signEvent(keys, { kind, tags: tags('slug'), created_at: now() - 10, content: 'v2' });
  const other = signEvent(keys, { kind, tags: tags('other-slug'), created_at: now() - 20, content: 'other' });
  const v0 = signEvent(keys, { kind, tags: tags('slug'), created_at: now() - 40, content: 'v0' });

  assertOk(await c.publish(v1), true);
  assertOk(await c.publish(v2), true);
  assertOk(await c.publish(other), true);
  assertOk(await c.publish(v0), true, 'duplicate:');

  const slug = await c.req('a1', { kinds: [kind], authors: [keys.pk], '#d': ['slug'] });
  assert.deepEqual(slug.events.map((e) => e.id), [v2.id]);
  const all = await c.req('a2', { kinds: [kind], authors: [keys.pk] });
  assert.deepEqual(all.events.map((e) => e.id), [v2.id, other.id]);

  // Same d under another kind or author is a different slot.
  const k2 = newKeys();
  const otherAuthor = signEvent(k2, { kind, tags: tags('slug'), created_at: now() - 50, content: 'other author' });
  const otherKind = signEvent(keys, { kind: 30078, tags: tags('slug'), created_at: now() - 50, content: 'other kind' });
  assertOk(await c.publish(otherAuthor), true);
  assertOk(await c.publish(otherKind), true);
  assert.equal((await c.req('a3', { '#d': ['slug'], authors: [keys.pk, k2.pk] })).events.length, 3);

  // Tie: lower id kept.
  const k3 = newKeys();
  const [lo, hi] = tiePair(k3, kind, tags('tie'));
  assertOk(await c.publish(hi), true);
  assertOk(await c.publish(lo), true);
  assert.deepEqual((await c.req('a4', { kinds: [kind], authors: [k3.pk] })).events.map((e) => e.id), [lo.id]);
  assertOk(await c.publish(hi), true); // already replaced: OK true (duplicate or not), still not served
  assert.deepEqual((await c.req('a5', { kinds: [kind], authors: [k3.pk] })).events.map((e) => e.id), [lo.id]);
});

test('addressable event without a d tag counts as d = ""', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const a = signEvent(keys, { kind: 30000, created_at: now() - 20, content: 'no d' });
  const b = signEvent(keys, { kind: 30000, tags: [['d', '']], created_at: now() - 10, content: 'empty d' });
  assertOk(await c.publish(a), true);
  assertOk(await c.publish(b), true);
  assert.deepEqual((await c.req('nod', { kinds: [30000], authors: [keys.pk] })).events.map((e) => e.id), [b.id]);
});

test('ephemeral (20000-29999): live subscribers get it, REQ never returns it', async (t) => {
  const pub = await rawClient(t, relay().url);
  const sub = await rawClient(t, relay().url);
  const keys = newKeys();
  assert.equal((await sub.req('eph', { authors: [keys.pk], kinds: [20001, 29999] })).eose, true);
  const e1 = signEvent(keys, { kind: 20001, content: 'ephemeral 1' });
  const e2 = signEvent(keys, { kind: 29999, content: 'ephemeral 2' });
  assertOk(await pub.publish(e1), true);
  assertOk(await pub.publish(e2), true);
  assert.equal((await sub.nextEvent('eph')).id, e1.id);
  assert.equal((await sub.nextEvent('eph')).id, e2.id);
  const res = await pub.req('stored', { authors: [keys.pk] });
  assert.deepEqual(res.events, []);
  const byId = await pub.req('stored-id', { ids: [e1.id, e2.id] });
  assert.deepEqual(byId.events, []);
});

test('NIP-09 deletion by e tag: same author only; deleted events are no longer served nor accepted again', async (t) => {
  const c = await rawClient(t, relay().url);
  const author = newKeys();
  const stranger = newKeys();
  const e1 = signEvent(author, { created_at: now() - 30, content: 'to delete' });
  const e2 = signEvent(author, { created_at: now() - 29, content: 'to keep' });
  const e3 = signEvent(author, { created_at: now() - 28, content: 'stranger tries to delete' });
  for (const e of [e1, e2, e3]) assertOk(await c.publish(e), true);

  const del = signEvent(author, { kind: 5, tags: [['e', e1.id], ['k', '1']], content: 'bye' });
  assertOk(await c.publish(del), true);
  const foreign = signEvent(stranger, { kind: 5, tags: [['e', e3.id]], content: 'not yours' });
  await c.publish(foreign); // may be accepted or refused; it must not delete e3

  const res = await c.req('after-del', { ids: [e1.id, e2.id, e3.id] });
  assert.deepEqual(new Set(res.events.map((e) => e.id)), new Set([e2.id, e3.id]));
  const byAuthor = await c.req('after-del-author', { authors: [author.pk], kinds: [1] });
  assert.ok(!byAuthor.events.some((e) => e.id === e1.id), 'deleted event served by an authors query');
  const deletions = await c.req('deletions', { authors: [author.pk], kinds: [5] });
  assert.deepEqual(deletions.events.map((e) => e.id), [del.id], 'the deletion request itself is served');

  const again = await c.publish(e1);
  assertOk(again, false);
  assert.deepEqual((await c.req('still-deleted', { ids: [e1.id] })).events, []);
});

test('NIP-09 deletion by a tag: same author only; versions up to the deletion are gone and not accepted again', async (t) => {
  const c = await rawClient(t, relay().url);
  const author = newKeys();
  const stranger = newKeys();
  const kind = 30023;
  const art = signEvent(author, { kind, tags: [['title', 'x'], ['d', 'doomed']], created_at: now() - 30, content: 'doomed' });
  const keep = signEvent(author, { kind, tags: [['d', 'kept']], created_at: now() - 30, content: 'kept' });
  for (const e of [art, keep]) assertOk(await c.publish(e), true);

  const del = signEvent(author, { kind: 5, tags: [['a', `${kind}:${author.pk}:doomed`]], created_at: now() - 5 });
  assertOk(await c.publish(del), true);
  const foreign = signEvent(stranger, { kind: 5, tags: [['a', `${kind}:${author.pk}:kept`]], created_at: now() - 5 });
  await c.publish(foreign);

  const res = await c.req('a-del', { kinds: [kind], authors: [author.pk] });
  assert.deepEqual(res.events.map((e) => e.id), [keep.id]);
  assertOk(await c.publish(art), false);
  // An older version of the deleted address is refused too (or at least never served).
  const older = signEvent(author, { kind, tags: [['d', 'doomed']], created_at: now() - 60, content: 'older' });
  await c.publish(older);
  assert.deepEqual((await c.req('a-del2', { kinds: [kind], authors: [author.pk], '#d': ['doomed'] })).events, []);
});

test('NIP-40: an event expiring a few seconds later is served before, not after', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const exp = now() + 2;
  const ev = signEvent(keys, { tags: [['expiration', String(exp)]], content: 'short-lived' });
  assertOk(await c.publish(ev), true);
  assert.deepEqual((await c.req('before', { ids: [ev.id] })).events.map((e) => e.id), [ev.id]);

  const pool = ntPool(t);
  const viaPool = await pool.querySync([relay().url], { authors: [keys.pk] }, { maxWait: 5_000 });
  assert.deepEqual(viaPool.map((e) => e.id), [ev.id]);

  const waitMs = (exp + 1) * 1000 - Date.now();
  assert.ok(waitMs <= 3_100, `wait ${waitMs} ms`);
  await sleep(Math.max(0, waitMs));
  assert.deepEqual((await c.req('after', { ids: [ev.id] })).events, []);
  assert.deepEqual((await c.req('after-author', { authors: [keys.pk] })).events, []);
});
