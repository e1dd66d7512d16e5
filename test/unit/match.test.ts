import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Filter, NostrEvent } from '../../src/protocol/types.js';
import { matchFilters } from '../../src/protocol/filter-match.js';
import { SubscriptionIndex } from '../../src/match/sub-index.js';
import { MatchPool } from '../../src/match/match-pool.js';
import type { MatchResult } from '../../workers/match.js';
import { prng } from '../helpers/prng.js';

// ---------- a seeded corpus: small value pools so that filters and events actually meet ----------

const hex = (n: number, tag: string) => (tag + n.toString(16)).padStart(64, '0');
const IDS = Array.from({ length: 60 }, (_, i) => hex(i, 'e'));
const AUTHORS = Array.from({ length: 30 }, (_, i) => hex(i, 'a'));
const KINDS = [0, 1, 3, 7, 443, 445, 1059, 10051, 30000];
const TAG_NAMES = ['p', 'e', 'h', 't', 'P', 'client', 'expiration'];
const TAG_VALUES = Array.from({ length: 15 }, (_, i) => `v${i}`);

function corpus(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
  // Length 0 now and then: an empty list is a filter that matches nothing.
  const some = <T>(xs: readonly T[]) => Array.from({ length: rnd() < 0.04 ? 0 : 1 + int(4) }, () => pick(xs));

  function filter(): Filter {
    const f: Filter = {};
    if (rnd() < 0.1) f.ids = some(IDS);
    if (rnd() < 0.35) f.authors = some(AUTHORS);
    if (rnd() < 0.5) f.kinds = some(KINDS);
    if (rnd() < 0.45) {
      f.tags = {};
      const n = 1 + int(2);
      for (let i = 0; i < n; i++) f.tags[pick(TAG_NAMES)] = some(TAG_VALUES);
    }
    if (rnd() < 0.25) f.since = 1000 + int(100);
    if (rnd() < 0.25) f.until = 1000 + int(100);
    if (rnd() < 0.2) f.limit = int(50); // irrelevant for live matching; must not change anything
    return f;
  }

  function event(): NostrEvent {
    const tags: string[][] = [];
    const n = int(5);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      // Includes a bare ['p'] (no value) and a long tag, to exercise the edge cases of tag matching.
      if (r < 0.05) tags.push([pick(TAG_NAMES)]);
      else if (r < 0.15) tags.push([pick(TAG_NAMES), pick(TAG_VALUES), 'wss://relay', 'mention']);
      else tags.push([pick(TAG_NAMES), pick(TAG_VALUES)]);
    }
    return {
      id: pick(IDS),
      pubkey: pick(AUTHORS),
      kind: pick(KINDS),
      created_at: 1000 + int(100),
      tags,
      content: 'x'.repeat(int(20)),
      sig: '0'.repeat(128),
    };
  }

  return { rnd, int, filter, event, filters: () => Array.from({ length: 1 + int(3) }, filter) };
}

/** The reference: every subscription checked against every event. */
class NaiveSubs {
  readonly subs = new Map<string, { connId: number; subId: string; filters: Filter[] }>();
  add(connId: number, subId: string, filters: Filter[]) {
    this.subs.set(`${connId}:${subId}`, { connId, subId, filters });
  }
  remove(connId: number, subId: string) {
    this.subs.delete(`${connId}:${subId}`);
  }
  removeConnection(connId: number) {
    for (const [k, s] of this.subs) if (s.connId === connId) this.subs.delete(k);
  }
  match(e: NostrEvent): string[] {
    const out: string[] = [];
    for (const [k, s] of this.subs) if (matchFilters(s.filters, e)) out.push(k);
    return out.sort();
  }
}

const keysOf = (subs: ReadonlyArray<{ connId: number; subId: string }>) =>
  subs.map((s) => `${s.connId}:${s.subId}`).sort();
const keysOfPairs = (pairs: ReadonlyArray<readonly [number, string]>) => pairs.map(([c, s]) => `${c}:${s}`).sort();

function compare(index: SubscriptionIndex, naive: NaiveSubs, events: NostrEvent[]): number {
  let total = 0;
  for (const e of events) {
    const want = naive.match(e);
    // Arrays, not sets: a subscription reported twice makes them differ.
    assert.deepEqual(keysOf(index.match(e)), want, `event ${JSON.stringify(e)}`);
    total += want.length;
  }
  return total;
}

// ---------------------------------------------- SubscriptionIndex ----------------------------------------------

test('index agrees with a naive scan on a random corpus, through adds, replacements and removals', () => {
  const c = corpus(0xc0ffee);
  const index = new SubscriptionIndex();
  const naive = new NaiveSubs();
  for (let i = 0; i < 2000; i++) {
    const connId = 1 + c.int(200);
    const subId = `s${c.int(15)}`; // collisions: some adds replace an existing subscription
    const filters = c.filters();
    index.add(connId, subId, filters);
    naive.add(connId, subId, filters);
  }
  assert.equal(index.size, naive.subs.size);
  const events = Array.from({ length: 2000 }, c.event);
  const total = compare(index, naive, events);
  // Guards the test itself: a corpus where nothing (or everything) matches would prove nothing.
  assert.ok(total > 20_000, `matches: ${total}`);
  assert.ok(total < (events.length * naive.subs.size) / 2, `matches: ${total}`);

  for (const [, s] of [...naive.subs].filter(() => c.rnd() < 0.3)) {
    index.remove(s.connId, s.subId);
    naive.remove(s.connId, s.subId);
  }
  for (let connId = 1; connId <= 200; connId += 7) {
    index.removeConnection(connId);
    naive.removeConnection(connId);
  }
  for (let i = 0; i < 300; i++) {
    const [, s] = [...naive.subs][c.int(naive.subs.size)]!;
    const filters = c.filters();
    index.add(s.connId, s.subId, filters);
    naive.add(s.connId, s.subId, filters);
  }
  assert.equal(index.size, naive.subs.size);
  compare(index, naive, events.slice(0, 1000));
});

test('removing everything leaves no bucket behind', () => {
  const c = corpus(7);
  const index = new SubscriptionIndex();
  const added: Array<[number, string]> = [];
  for (let i = 0; i < 500; i++) {
    const connId = 1 + c.int(20);
    const subId = `s${i}`;
    index.add(connId, subId, c.filters());
    added.push([connId, subId]);
  }
  assert.ok(index.stats().byTag.entries > 0 && index.stats().matchAll >= 0);
  for (const [connId, subId] of added.slice(0, 250)) assert.equal(index.remove(connId, subId), true);
  for (let connId = 1; connId <= 20; connId++) index.removeConnection(connId);
  assert.equal(index.size, 0);
  assert.deepEqual(index.stats(), {
    subscriptions: 0,
    connections: 0,
    filters: 0,
    neverMatch: 0,
    byId: { keys: 0, entries: 0 },
    byAuthor: { keys: 0, entries: 0 },
    byTag: { names: 0, keys: 0, entries: 0 },
    byKind: { keys: 0, entries: 0 },
    matchAll: 0,
  });
});

const ev = (over: Partial<NostrEvent> = {}): NostrEvent => ({
  id: IDS[0]!,
  pubkey: AUTHORS[0]!,
  kind: 1,
  created_at: 1050,
  tags: [],
  content: '',
  sig: '',
  ...over,
});

test('each filter is filed under its most selective field; empty lists are not filed', () => {
  const index = new SubscriptionIndex();
  index.add(1, 'ids', [{ ids: [IDS[0]!, IDS[1]!], authors: [AUTHORS[0]!], kinds: [1] }]);
  index.add(1, 'authors', [{ authors: [AUTHORS[0]!], kinds: [1], tags: { p: ['x'] } }]);
  index.add(1, 'tag', [{ kinds: [1], tags: { t: ['a', 'b', 'c'], client: ['x'], h: ['a', 'b'] } }]);
  index.add(1, 'kind', [{ kinds: [1, 7] }]);
  index.add(1, 'all', [{ since: 1000 }]);
  index.add(1, 'never', [{ kinds: [] }, { tags: { p: [] } }, { ids: [] }, { since: 10, until: 5 }]);
  const s = index.stats();
  assert.deepEqual(
    [s.byId, s.byAuthor, s.byTag, s.byKind, s.matchAll, s.neverMatch, s.filters],
    [
      { keys: 2, entries: 2 },
      { keys: 1, entries: 1 },
      { names: 1, keys: 1, entries: 1 }, // 'client' (one value) beats 't' (three)
      { keys: 2, entries: 2 },
      1,
      4,
      9,
    ],
  );
  assert.deepEqual(keysOf(index.match(ev({ kind: 1 }))), ['1:all', '1:ids', '1:kind']);
  assert.deepEqual(keysOf(index.match(ev({ kind: 1, tags: [['client', 'x'], ['t', 'b'], ['h', 'a'], ['p', 'x']] }))), [
    '1:all',
    '1:authors',
    '1:ids',
    '1:kind',
    '1:tag',
  ]);
  assert.deepEqual(keysOf(index.match(ev({ kind: 7, created_at: 999, id: IDS[5]! }))), ['1:kind']);
});

test('since/until are inclusive bounds; multi-letter tags and tags without a value', () => {
  const index = new SubscriptionIndex();
  index.add(2, 'window', [{ kinds: [1], since: 100, until: 200 }]);
  index.add(2, 'multi', [{ tags: { expiration: ['5'] } }]);
  index.add(2, 'bare', [{ tags: { p: ['p'] } }]);
  assert.deepEqual(keysOf(index.match(ev({ created_at: 100 }))), ['2:window']);
  assert.deepEqual(keysOf(index.match(ev({ created_at: 200 }))), ['2:window']);
  assert.deepEqual(keysOf(index.match(ev({ created_at: 201 }))), []);
  assert.deepEqual(keysOf(index.match(ev({ created_at: 99 }))), []);
  assert.deepEqual(keysOf(index.match(ev({ tags: [['expiration', '5']] }))), ['2:multi']);
  assert.deepEqual(keysOf(index.match(ev({ tags: [['e', 'expiration'], ['expiration']] }))), []);
  assert.deepEqual(keysOf(index.match(ev({ tags: [['p']] }))), []);
  assert.deepEqual(keysOf(index.match(ev({ tags: [['p', 'p']] }))), ['2:bare']);
});

test('a subscription is reported once per event even when several filters and buckets hit', () => {
  const index = new SubscriptionIndex();
  index.add(3, 'x', [{ ids: [IDS[0]!] }, { authors: [AUTHORS[0]!, AUTHORS[0]!] }, { tags: { p: ['a', 'b'] } }, {}]);
  const got = index.match(ev({ tags: [['p', 'a'], ['p', 'b'], ['p', 'a']] }));
  assert.deepEqual(keysOf(got), ['3:x']);
  // And a second event is not suppressed by the first one's bookkeeping.
  assert.deepEqual(keysOf(index.match(ev())), ['3:x']);
});

test('add replaces, remove and removeConnection drop only their own', () => {
  const index = new SubscriptionIndex();
  index.add(4, 'a', [{ kinds: [1] }]);
  index.add(4, 'b', [{ kinds: [1] }]);
  index.add(5, 'a', [{ kinds: [1] }]);
  index.add(4, 'a', [{ kinds: [7] }]); // replaces: kind 1 no longer wanted by 4:a
  assert.equal(index.size, 3);
  assert.deepEqual(keysOf(index.match(ev())), ['4:b', '5:a']);
  assert.deepEqual(keysOf(index.match(ev({ kind: 7 }))), ['4:a']);
  assert.equal(index.remove(4, 'b'), true);
  assert.equal(index.remove(4, 'b'), false);
  assert.deepEqual(keysOf(index.match(ev())), ['5:a']);
  assert.equal(index.removeConnection(4), 1);
  assert.equal(index.removeConnection(4), 0);
  assert.deepEqual(keysOf(index.match(ev({ kind: 7 }))), []);
  assert.deepEqual(keysOf(index.match(ev())), ['5:a']);
  assert.equal(index.size, 1);
});

// ------------------------------------------------- worker + pool -------------------------------------------------

const workerFile = fileURLToPath(new URL('../../workers/match.js', import.meta.url));

// Piscina 5.3 does NOT keep submission order by default even with one thread: a task that finds
// the worker busy is put back at the tail of the queue (1,11,2,16,3,... observed). stricterFIFO
// puts it back at the head. MatchPool sets it (and never has two tasks queued anyway).
test('Piscina with one thread and stricterFIFO runs a stateful worker’s tasks in submission order', async () => {
  const piscina = new Piscina({
    filename: workerFile,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    stricterFIFO: true,
  });
  try {
    const e = { id: IDS[0]!, pubkey: AUTHORS[0]!, kind: 1, created_at: 1, tags: [] };
    // 300 single-op tasks submitted without waiting: every match must see exactly the
    // subscriptions whose add came before it and whose remove did not.
    const expected: number[] = [];
    const pending: Array<Promise<unknown>> = [];
    const live = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const subId = `s${i % 17}`;
      if (i % 3 === 2) {
        pending.push(piscina.run({ op: 'match', events: [e] }));
        expected.push(live.size);
      } else if (i % 5 === 0) {
        pending.push(piscina.run({ op: 'remove', connId: 1, subId }));
        live.delete(subId);
      } else {
        pending.push(piscina.run({ op: 'add', connId: 1, subId, filters: [{ kinds: [1] }], handle: i }));
        live.add(subId);
      }
    }
    const results = await Promise.all(pending);
    // A one-event MatchResult is [0, count, ...handles].
    const counts = results.filter((r): r is MatchResult => r instanceof Float64Array).map((r) => r[1]);
    assert.deepEqual(counts, expected);
    assert.ok(new Set(expected).size > 3, 'the sequence must actually vary');
  } finally {
    await piscina.destroy();
  }
});

test('MatchPool: add then match in the same tick sees it; remove then match does not', async () => {
  const pool = await MatchPool.create();
  try {
    pool.add(1, 'sub', [{ kinds: [1] }]);
    assert.deepEqual(await pool.match([ev()]), [[[1, 'sub']]]);
    pool.remove(1, 'sub');
    assert.deepEqual(await pool.match([ev()]), [[]]);

    // All in one tick, without awaiting in between: each match sees exactly what preceded it.
    pool.add(2, 'a', [{ kinds: [1] }]);
    const p1 = pool.match([ev({ tags: [['h', 'g']] })]);
    pool.add(2, 'b', [{ tags: { h: ['g'] } }]);
    const p2 = pool.match([ev({ tags: [['h', 'g']] }), ev({ kind: 3 })]);
    pool.add(2, 'c', [{ kinds: [3] }]);
    pool.remove(1, 'none'); // unknown: a no-op, must not disturb anything
    const p3 = pool.match([ev({ kind: 3 })]);
    assert.deepEqual(await p1, [[[2, 'a']]]);
    assert.deepEqual((await p2).map(keysOfPairs), [['2:a', '2:b'], []]);
    assert.deepEqual(await p3, [[[2, 'c']]]);
    pool.remove(2, 'a');
    assert.deepEqual(await pool.match([ev({ tags: [['h', 'g']] })]), [[[2, 'b']]]);

    // A match answered after its subscription was removed or replaced leaves it out: the owner has
    // moved on, and a reused subId must not receive what only the old filters wanted.
    const p4 = pool.match([ev()]);
    pool.removeConnection(2);
    pool.add(3, 'r', [{ kinds: [1] }]);
    const p5 = pool.match([ev()]);
    pool.add(3, 'r', [{ kinds: [7] }]);
    assert.deepEqual(await p4, [[]]);
    assert.deepEqual(await p5, [[]]);
    assert.deepEqual(await pool.match([ev({ kind: 7 }), ev()]), [[[3, 'r']], []]);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.match([ev()]), /closed/);
});

test('MatchPool: concurrent match() calls coalesce into one task and each gets its own slice', async () => {
  const pool = await MatchPool.create();
  try {
    pool.add(1, 'k1', [{ kinds: [1] }]);
    pool.add(1, 'k7', [{ kinds: [7] }]);
    pool.add(2, 'big', [{ authors: [AUTHORS[1]!] }]);
    await pool.match([ev()]);
    const before = pool.stats().tasks;
    const big = 'y'.repeat(5_000_000); // content never crosses to the worker
    const calls = Array.from({ length: 50 }, (_, i) =>
      pool.match([ev({ kind: i % 2 ? 7 : 1 }), ev({ kind: 3, pubkey: AUTHORS[1]!, content: big })]),
    );
    const results = await Promise.all(calls);
    results.forEach((r, i) => assert.deepEqual(r, [[[1, i % 2 ? 'k7' : 'k1']], [[2, 'big']]]));
    const st = pool.stats();
    assert.ok(st.tasks - before <= 2, `tasks: ${st.tasks - before}`);
    assert.equal(st.maxTaskEvents, 100);
    assert.equal(st.subscriptions, 3);
    assert.equal((await pool.indexStats()).subscriptions, 3);
  } finally {
    await pool.close();
  }
});

test('MatchPool agrees with the naive scan on a random corpus', async () => {
  const c = corpus(42);
  const naive = new NaiveSubs();
  const pool = await MatchPool.create();
  try {
    for (let i = 0; i < 1000; i++) {
      const connId = 1 + c.int(100);
      const subId = `s${c.int(12)}`;
      const filters = c.filters();
      pool.add(connId, subId, filters);
      naive.add(connId, subId, filters);
    }
    const events = Array.from({ length: 1000 }, c.event);
    const results = await Promise.all([pool.match(events.slice(0, 400)), pool.match(events.slice(400))]);
    const got = results.flat();
    let total = 0;
    events.forEach((e, i) => {
      const want = naive.match(e);
      total += want.length;
      assert.deepEqual(keysOfPairs(got[i]!), want);
    });
    assert.ok(total > 1000);
  } finally {
    await pool.close();
  }
});

test('MatchPool rebuilds the index when Piscina replaces a dead worker thread', async () => {
  const pool = await MatchPool.create();
  try {
    pool.add(9, 'keep', [{ kinds: [1] }]);
    pool.add(9, 'gone', [{ kinds: [1] }]);
    pool.remove(9, 'gone');
    assert.deepEqual(await pool.match([ev()]), [[[9, 'keep']]]);
    const [thread] = pool.threadsForTest;
    assert.ok(thread);
    await thread.terminate();
    pool.add(9, 'late', [{ kinds: [1] }]);
    const got = await pool.match([ev()]);
    assert.deepEqual(keysOfPairs(got[0]!), ['9:keep', '9:late']);
    assert.equal(pool.stats().resets, 1);
    assert.equal((await pool.indexStats()).subscriptions, 2);
  } finally {
    await pool.close();
  }
});
