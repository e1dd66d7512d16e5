/**
 * NIP-01 REQ / CLOSE against a real relay: stored then EOSE then live, ordering,
 * limits, since/until, OR-ed filters, multi-letter tags, subscription ids and
 * subscription limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from 'nostr-tools/pure';
import { assertOk, ntPool, ntRelay, rawClient, sharedRelay, sleep } from '../helpers/fixture.js';
import { eventSeries, newKeys, nip01Order, now, publishAll, signEvent, type RawClient } from '../helpers/ws-client.js';

const MAX_LIMIT = 20;
const MAX_SUBS = 5;
const MAX_FILTERS = 3;
const MAX_SUBID = 64;

const relay = sharedRelay({
  toml: `
[limitation]
max_limit = ${MAX_LIMIT}
max_subscriptions = ${MAX_SUBS}
max_filters = ${MAX_FILTERS}
max_subid_length = ${MAX_SUBID}
`,
});

function shuffled<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function publishOk(c: RawClient, events: Event[]): Promise<void> {
  const oks = await publishAll(c, events);
  for (const ok of oks) assertOk(ok, true);
}

const isEventFor = (sub: string) => (m: unknown[]) => m[0] === 'EVENT' && m[1] === sub;

test('REQ: stored matches, then EOSE, then live events until CLOSE', async (t) => {
  const pub = await rawClient(t, relay().url);
  const sub = await rawClient(t, relay().url);
  const keys = newKeys();
  const stored = eventSeries(keys, 3);
  await publishOk(pub, stored);

  const res = await sub.req('live', { authors: [keys.pk] });
  assert.equal(res.eose, true);
  assert.deepEqual(res.events.map((e) => e.id), stored.map((e) => e.id));

  const live1 = signEvent(keys, { content: 'live 1' });
  assertOk(await pub.publish(live1), true);
  assert.equal((await sub.nextEvent('live')).id, live1.id);

  // A control subscription on the same connection proves later events were fanned out.
  assert.equal((await sub.req('control', { authors: [keys.pk], limit: 0 })).eose, true);
  sub.closeSub('live');
  await sleep(100);
  const live2 = signEvent(keys, { content: 'live 2' });
  assertOk(await pub.publish(live2), true);
  assert.equal((await sub.nextEvent('control')).id, live2.id);
  await sub.expectNone(isEventFor('live'), 300, 'EVENT on a CLOSEd subscription');
});

test('nostr-tools Relay.subscribe: stored events, EOSE, then a live event', async (t) => {
  const r = await ntRelay(t, relay().url);
  const keys = newKeys();
  const stored = eventSeries(keys, 2);
  for (const e of stored) await r.publish(e);
  const got: string[] = [];
  let eosed = false;
  const live = signEvent(keys, { content: 'live via nostr-tools' });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout; got ${got.length} events, eose=${eosed}`)), 5_000);
    const s = r.subscribe([{ authors: [keys.pk] }], {
      onevent(e) {
        got.push(e.id);
        if (e.id === live.id) {
          clearTimeout(timer);
          s.close();
          resolve();
        }
      },
      oneose() {
        eosed = true;
        const want = stored.map((e) => e.id);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          reject(new Error(`stored events before EOSE: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`));
          return;
        }
        r.publish(live).catch(reject);
      },
      onclose(reason) {
        if (!eosed) reject(new Error(`subscription closed: ${reason}`));
      },
    });
  });
  assert.deepEqual(got, [...stored.map((e) => e.id), live.id]);
});

test('REQ returns newest first (ties: lower id first), with and without limit', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const base = now() - 100;
  const events = [
    ...eventSeries(keys, 8, { base }),
    // ties on created_at
    signEvent(keys, { created_at: base - 3, content: 'tie a' }),
    signEvent(keys, { created_at: base - 3, content: 'tie b' }),
  ];
  await publishOk(c, shuffled(events));
  const expected = [...events].sort(nip01Order).map((e) => e.id);

  const all = await c.req('order', { authors: [keys.pk] });
  assert.deepEqual(all.events.map((e) => e.id), expected);
  const four = await c.req('order4', { authors: [keys.pk], limit: 4 });
  assert.deepEqual(four.events.map((e) => e.id), expected.slice(0, 4));
});

test(`missing limit = max_limit (${MAX_LIMIT}); larger limits are clamped`, async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const events = eventSeries(keys, MAX_LIMIT + 5);
  await publishOk(c, events);
  const expected = events.map((e) => e.id); // eventSeries is already newest first

  const noLimit = await c.req('nolimit', { authors: [keys.pk] });
  assert.deepEqual(noLimit.events.map((e) => e.id), expected.slice(0, MAX_LIMIT));
  const big = await c.req('biglimit', { authors: [keys.pk], limit: 1000 });
  assert.deepEqual(big.events.map((e) => e.id), expected.slice(0, MAX_LIMIT));
  const small = await c.req('small', { authors: [keys.pk], limit: 5 });
  assert.deepEqual(small.events.map((e) => e.id), expected.slice(0, 5));
});

test('limit 0: EOSE at once with no stored events, then live events', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  await publishOk(c, eventSeries(keys, 3));
  const res = await c.req('zero', { authors: [keys.pk], limit: 0 });
  assert.equal(res.eose, true);
  assert.deepEqual(res.events, []);
  const live = signEvent(keys, { content: 'live after limit 0' });
  assertOk(await c.publish(live), true);
  assert.equal((await c.nextEvent('zero')).id, live.id);
});

test('since and until are inclusive (raw REQ and SimplePool.querySync)', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const T = now() - 50;
  const events = [1, 2, 3, 4, 5].map((i) => signEvent(keys, { created_at: T - i, content: `at -${i}` }));
  await publishOk(c, events);
  const want = [2, 3, 4].map((i) => events[i - 1]!.id);

  const res = await c.req('window', { authors: [keys.pk], since: T - 4, until: T - 2 });
  assert.deepEqual(res.events.map((e) => e.id), want);

  const pool = ntPool(t);
  const viaPool = await pool.querySync([relay().url], { authors: [keys.pk], since: T - 4, until: T - 2 }, { maxWait: 5_000 });
  assert.deepEqual(viaPool.map((e) => e.id).sort(), [...want].sort());

  const exact = await c.req('exact', { authors: [keys.pk], since: T - 3, until: T - 3 });
  assert.deepEqual(exact.events.map((e) => e.id), [events[2]!.id]);
});

test('several filters are OR-ed, without duplicates', async (t) => {
  const c = await rawClient(t, relay().url);
  const a = newKeys();
  const b = newKeys();
  const ea = eventSeries(a, 4, { kind: 1 });
  const eb = eventSeries(b, 2, { kind: 7, base: now() - 30 });
  await publishOk(c, [...ea, ...eb]);
  const res = await c.req(
    'or',
    { authors: [a.pk] }, // all of a
    { ids: [ea[0]!.id, ea[1]!.id, eb[0]!.id] }, // overlaps a, plus one of b
    { authors: [b.pk], kinds: [7], limit: 1 }, // the newest of b (also in the previous filter)
  );
  const got = res.events.map((e) => e.id);
  assert.equal(new Set(got).size, got.length, `duplicates in ${JSON.stringify(got)}`);
  assert.deepEqual(new Set(got), new Set([...ea.map((e) => e.id), eb[0]!.id]));

  // Same through nostr-tools (multiple filters in one subscription).
  const r = await ntRelay(t, relay().url);
  const ntGot: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no EOSE')), 5_000);
    const s = r.subscribe([{ authors: [a.pk] }, { ids: [ea[0]!.id, eb[1]!.id] }], {
      onevent: (e) => ntGot.push(e.id),
      oneose: () => {
        clearTimeout(timer);
        s.close();
        resolve();
      },
    });
  });
  assert.equal(new Set(ntGot).size, ntGot.length);
  assert.deepEqual(new Set(ntGot), new Set([...ea.map((e) => e.id), eb[1]!.id]));
});

test('multi-letter tag filter (#mls_ciphersuite) is honoured, stored and live', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const suite1 = signEvent(keys, { created_at: now() - 3, tags: [['mls_ciphersuite', '0x0001']], content: 'suite 1' });
  const suite2 = signEvent(keys, { created_at: now() - 2, tags: [['mls_ciphersuite', '0x0002']], content: 'suite 2' });
  const plain = signEvent(keys, { created_at: now() - 1, tags: [['t', '0x0001']], content: 'no suite tag' });
  await publishOk(c, [suite1, suite2, plain]);

  const res = await c.req('cs', { authors: [keys.pk], '#mls_ciphersuite': ['0x0001'] });
  assert.deepEqual(res.events.map((e) => e.id), [suite1.id]);
  const both = await c.req('cs2', { '#mls_ciphersuite': ['0x0001', '0x0002'], authors: [keys.pk] });
  assert.deepEqual(both.events.map((e) => e.id), [suite2.id, suite1.id]);

  const liveMatch = signEvent(keys, { tags: [['mls_ciphersuite', '0x0001']], content: 'live suite 1' });
  const liveOther = signEvent(keys, { tags: [['mls_ciphersuite', '0x0003']], content: 'live suite 3' });
  assertOk(await c.publish(liveOther), true);
  assertOk(await c.publish(liveMatch), true);
  assert.equal((await c.nextEvent('cs')).id, liveMatch.id);
  await c.expectNone((m) => m[0] === 'EVENT' && m[1] === 'cs' && (m[2] as Event).id === liveOther.id, 200, 'non-matching live event');
});

test('subscription ids with quotes, backslashes and unicode are echoed exactly', async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  const ev = signEvent(keys, { content: 'for odd ids' });
  assertOk(await c.publish(ev), true);
  const ids = ['a"b', 'back\\slash', '"]', 'ünïcödé-✓-🎉', 'tab\tnew\nline', '{"json":[1]}', ' '];
  for (const id of ids) {
    const res = await c.req(id, { ids: [ev.id] });
    assert.equal(res.eose, true, `EOSE for ${JSON.stringify(id)}`);
    assert.deepEqual(res.events.map((e) => e.id), [ev.id]);
    c.closeSub(id);
  }
  // The raw EOSE frames carried the exact ids (parsed back equal).
  const eoseIds = c.messages.filter((m) => m[0] === 'EOSE').map((m) => m[1]);
  for (const id of ids) assert.ok(eoseIds.includes(id), `EOSE id ${JSON.stringify(id)} not echoed`);
});

test(`more than max_subscriptions (${MAX_SUBS}) → CLOSED with a reason; freeing one allows a new one`, async (t) => {
  const c = await rawClient(t, relay().url);
  const keys = newKeys();
  for (let i = 0; i < MAX_SUBS; i++) {
    const r = await c.req(`s${i}`, { authors: [keys.pk] });
    assert.equal(r.eose, true, `sub s${i} should be accepted`);
  }
  const over = await c.req('one-too-many', { authors: [keys.pk] });
  assert.equal(over.eose, false);
  assert.ok(over.closed && over.closed.length > 0, 'CLOSED must carry a reason');
  c.closeSub('s0');
  await sleep(50);
  const again = await c.req('replacement', { authors: [keys.pk] });
  assert.equal(again.eose, true, `a new subscription after CLOSE should be accepted (got ${JSON.stringify(again)})`);
});

test(`more than max_filters (${MAX_FILTERS}) → CLOSED with a reason`, async (t) => {
  const c = await rawClient(t, relay().url);
  const filters = Array.from({ length: MAX_FILTERS + 1 }, (_, i) => ({ kinds: [i + 1] }));
  const res = await c.req('filters', ...filters);
  assert.equal(res.eose, false);
  assert.ok(res.closed && res.closed.length > 0);
  const ok = await c.req('filters-ok', ...filters.slice(0, MAX_FILTERS));
  assert.equal(ok.eose, true);
});

test(`sub id longer than max_subid_length (${MAX_SUBID}) or empty → CLOSED or NOTICE; connection still usable`, async (t) => {
  const c = await rawClient(t, relay().url);
  for (const id of ['x'.repeat(MAX_SUBID + 1), '']) {
    c.send(['REQ', id, { limit: 1 }]);
    const m = await c.nextMatching(
      (x) => x[0] === 'NOTICE' || ((x[0] === 'CLOSED' || x[0] === 'EOSE' || x[0] === 'EVENT') && x[1] === id),
      5_000,
      `CLOSED/NOTICE for sub id of length ${id.length}`,
    );
    assert.ok(m[0] === 'NOTICE' || m[0] === 'CLOSED', `expected CLOSED or NOTICE, got ${JSON.stringify(m)}`);
  }
  const okLen = await c.req('y'.repeat(MAX_SUBID), { limit: 1 });
  assert.equal(okLen.eose, true, 'a sub id of exactly max_subid_length is accepted');
});

test('a REQ reusing an id replaces the old subscription', async (t) => {
  const pub = await rawClient(t, relay().url);
  const c = await rawClient(t, relay().url);
  const a = newKeys();
  const b = newKeys();
  const oldStored = signEvent(a, { content: 'a stored' });
  const newStored = signEvent(b, { content: 'b stored' });
  await publishOk(pub, [oldStored, newStored]);

  assert.deepEqual((await c.req('same', { authors: [a.pk] })).events.map((e) => e.id), [oldStored.id]);
  const replaced = await c.req('same', { authors: [b.pk] });
  assert.deepEqual(replaced.events.map((e) => e.id), [newStored.id]);

  const evA = signEvent(a, { content: 'a live' });
  const evB = signEvent(b, { content: 'b live' });
  assertOk(await pub.publish(evA), true);
  assertOk(await pub.publish(evB), true);
  assert.equal((await c.nextEvent('same')).id, evB.id, "the new filter's live event arrives (and the old filter's did not come first)");
  await c.expectNone(isEventFor('same'), 300, "a live event for the replaced subscription's old filter");
});

test('CLOSE of an unknown subscription is harmless', async (t) => {
  const c = await rawClient(t, relay().url);
  c.closeSub('never-opened');
  const res = await c.req('after-close', { limit: 1 });
  assert.equal(res.eose, true);
  assert.equal(c.closed, false);
});
