import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { Filter, NostrEvent } from '../../src/protocol/types.js';
import { EventStore } from '../../src/storage/event-store.js';
import { Writer, WriteRejection, type WriteOutcome } from '../../src/storage/writer.js';

const T0 = 1_700_000_000;
const Q = { limitDefault: 500, limitMax: 1000, deadline: 0, now: T0 + 10_000 };
const q = (store: EventStore, filters: Filter[], over: Partial<typeof Q> = {}) =>
  store.query(filters, { ...Q, deadline: Date.now() + 10_000, ...over });

type Over = Partial<Pick<NostrEvent, 'kind' | 'tags' | 'content' | 'created_at'>>;
function ev(sk: Uint8Array, over: Over = {}): NostrEvent {
  // Through JSON: nostr-tools marks events with a Symbol(verified) that deepEqual would see.
  return JSON.parse(JSON.stringify(finalizeEvent({ kind: 1, created_at: T0, tags: [], content: '', ...over }, sk))) as NostrEvent;
}
const byNewest = (a: NostrEvent, b: NostrEvent) => b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const ids = (es: NostrEvent[]) => es.map((e) => e.id);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mls-relay-storage-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function fresh(): EventStore {
  return EventStore.open({ path: join(dir, `db${n++}`) });
}

/** A stored outcome also carries the stored JSON bytes (for fan-out): check them, compare the rest. */
function outcomeOf(o: WriteOutcome, e: NostrEvent): Omit<WriteOutcome, 'json'> {
  const { json, ...rest } = o;
  if (o.stored) assert.equal(json?.toString('utf8'), JSON.stringify({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig }));
  else assert.equal(json, undefined);
  return rest;
}

async function put(store: EventStore, e: NostrEvent) {
  const o = await store.writer.submit(e);
  assert.equal(o.ok, true, o.message);
  return o;
}

describe('event store: indexes and queries', () => {
  const alice = generateSecretKey();
  const bob = generateSecretKey();
  const A = getPublicKey(alice);
  const B = getPublicKey(bob);
  let store: EventStore;
  const all: NostrEvent[] = [];

  before(async () => {
    store = fresh();
    const specs: [Uint8Array, Over][] = [
      [alice, { kind: 1, created_at: T0 + 1, tags: [['t', 'nostr']] }],
      [alice, { kind: 7, created_at: T0 + 2, tags: [['e', 'f'.repeat(64)], ['p', B]] }],
      [bob, { kind: 1, created_at: T0 + 3, tags: [['t', 'mls'], ['t', 'nostr']] }],
      [bob, { kind: 1059, created_at: T0 + 4, tags: [['p', A]] }],
      [alice, { kind: 443, created_at: T0 + 5, tags: [['mls_ciphersuite', '0x0001'], ['t', 'kp']] }],
      [bob, { kind: 443, created_at: T0 + 6, tags: [['mls_ciphersuite', '0x0002'], ['t', 'kp']] }],
    ];
    for (const [sk, over] of specs) {
      const e = ev(sk, over);
      const o = await put(store, e);
      assert.equal(o.stored, true);
      all.push(e);
    }
  });
  after(() => store.close());

  it('stores and returns an event by id (get, has, ids filter)', () => {
    const e = all[0]!;
    assert.equal(store.has(e.id), true);
    assert.deepEqual(store.get(e.id), e);
    assert.equal(store.has('0'.repeat(64)), false);
    assert.equal(store.explain({ ids: [e.id] }), 'ids');
    assert.deepEqual(q(store, [{ ids: [e.id, '0'.repeat(64)] }]).events, [e]);
  });

  it('serves every index newest first', () => {
    const cases: [Filter, string, NostrEvent[]][] = [
      [{ kinds: [1] }, 'kind', all.filter((e) => e.kind === 1)],
      [{ authors: [A] }, 'author', all.filter((e) => e.pubkey === A)],
      [{ authors: [B], kinds: [443, 1] }, 'author_kind', all.filter((e) => e.pubkey === B && (e.kind === 443 || e.kind === 1))],
      [{ tags: { t: ['nostr'] } }, 'tag', all.filter((e) => e.tags.some((t) => t[0] === 't' && t[1] === 'nostr'))],
      [{ tags: { p: [A, B] } }, 'tag', all.filter((e) => e.tags.some((t) => t[0] === 'p'))],
      [{}, 'created_at', all],
    ];
    for (const [filter, index, expected] of cases) {
      assert.equal(store.explain(filter), index, JSON.stringify(filter));
      assert.ok(expected.length > 0);
      assert.deepEqual(ids(q(store, [filter]).events), ids([...expected].sort(byNewest)), JSON.stringify(filter));
    }
  });

  it('honours since/until inclusively', () => {
    const r = q(store, [{ since: T0 + 2, until: T0 + 4 }]).events;
    assert.deepEqual(r.map((e) => e.created_at), [T0 + 4, T0 + 3, T0 + 2]);
    assert.deepEqual(q(store, [{ kinds: [1], since: T0 + 3, until: T0 + 3 }]).events.map((e) => e.created_at), [T0 + 3]);
    assert.equal(q(store, [{ since: T0 + 5, until: T0 + 4 }]).events.length, 0);
  });

  it('applies limit per filter, clamps it, and limit 0 returns nothing stored', () => {
    assert.deepEqual(q(store, [{ limit: 2 }]).events.map((e) => e.created_at), [T0 + 6, T0 + 5]);
    assert.equal(q(store, [{ limit: 0 }]).events.length, 0);
    assert.equal(q(store, [{ limit: 100 }], { limitMax: 3 }).events.length, 3);
    assert.equal(q(store, [{}], { limitDefault: 4 }).events.length, 4);
  });

  it('ORs several filters without duplicates, each with its own limit', () => {
    const r = q(store, [{ kinds: [1], limit: 1 }, { authors: [B] }, { kinds: [443], limit: 1 }]).events;
    const expected = new Set([all[2]!.id, ...all.filter((e) => e.pubkey === B).map((e) => e.id), all[5]!.id]);
    assert.deepEqual(new Set(ids(r)), expected);
    assert.equal(r.length, expected.size);
    assert.deepEqual(ids(r), ids([...r].sort(byNewest)));
  });

  it('post-filters multi-letter tag conditions', () => {
    const r = q(store, [{ kinds: [443], tags: { mls_ciphersuite: ['0x0002'] } }]).events;
    assert.deepEqual(ids(r), [all[5]!.id]);
    assert.deepEqual(ids(q(store, [{ tags: { mls_ciphersuite: ['0x0001'] } }]).events), [all[4]!.id]);
    assert.deepEqual(ids(q(store, [{ tags: { t: ['kp'], mls_ciphersuite: ['0x0001'] } }]).events), [all[4]!.id]);
  });

  it('counts distinct events across filters, ignoring limits', () => {
    const c = store.count([{ kinds: [1], limit: 1 }, { authors: [B] }], { deadline: Date.now() + 10_000, now: Q.now });
    assert.deepEqual(c, { count: 4, timedOut: false });
    assert.equal(store.count([{ tags: { t: ['nostr'] } }], { deadline: Date.now() + 1000 }).count, 2);
    assert.equal(store.count([{ tags: { mls_ciphersuite: ['0x0002'] } }], { deadline: Date.now() + 1000 }).count, 1);
  });

  it('exports oldest first, optionally filtered', () => {
    assert.deepEqual(ids([...store.exportEvents()]), ids(all));
    assert.deepEqual(ids([...store.exportEvents({ kinds: [443] })]), [all[4]!.id, all[5]!.id]);
  });

  it('refuses a second writer for the same store', () => {
    assert.equal(store.writer, store.writer);
    assert.throws(() => new Writer(store), /already has a writer/);
  });
});

describe('event store: ordering ties and limits', () => {
  it('breaks created_at ties by lower id, also at the limit cut', async () => {
    const store = fresh();
    try {
      const same: NostrEvent[] = [];
      for (let i = 0; i < 8; i++) same.push(ev(generateSecretKey(), { created_at: T0, content: String(i) }));
      const newer = ev(generateSecretKey(), { created_at: T0 + 1 });
      for (const e of [...same, newer]) await put(store, e);
      const sorted = [...same].sort(byNewest);
      assert.deepEqual(ids(q(store, [{ kinds: [1] }]).events), [newer.id, ...ids(sorted)]);
      // The cut falls inside the tie: the lowest ids must be the ones kept, whatever the insert order.
      assert.deepEqual(ids(q(store, [{ kinds: [1], limit: 4 }]).events), [newer.id, ...ids(sorted.slice(0, 3))]);
      assert.deepEqual(ids(q(store, [{ limit: 3 }]).events), [newer.id, ...ids(sorted.slice(0, 2))]);
    } finally {
      await store.close();
    }
  });

  it('finds events carrying long tag values (indexed truncated, matched exactly)', async () => {
    const store = fresh();
    try {
      const long1 = 'x'.repeat(300) + '1';
      const long2 = 'x'.repeat(300) + '2';
      const e1 = ev(generateSecretKey(), { tags: [['r', long1]] });
      const e2 = ev(generateSecretKey(), { tags: [['r', long2]] });
      await put(store, e1);
      await put(store, e2);
      assert.deepEqual(ids(q(store, [{ tags: { r: [long2] } }]).events), [e2.id]);
      assert.equal(store.count([{ tags: { r: [long1] } }], { deadline: Date.now() + 1000 }).count, 1);
    } finally {
      await store.close();
    }
  });
});

describe('event store: replaceable and addressable events', () => {
  it('keeps only the newest replaceable event per (kind, pubkey)', async () => {
    const store = fresh();
    const sk = generateSecretKey();
    try {
      const v1 = ev(sk, { kind: 0, created_at: T0, content: 'v1' });
      const v2 = ev(sk, { kind: 0, created_at: T0 + 10, content: 'v2' });
      const old = ev(sk, { kind: 0, created_at: T0 + 5, content: 'old' });
      assert.equal((await put(store, v1)).stored, true);
      const o2 = await put(store, v2);
      assert.deepEqual(outcomeOf(o2, v2), { ok: true, stored: true, message: '', removed: [v1.id] });
      assert.equal(store.has(v1.id), false);
      assert.deepEqual(await store.writer.submit(old), { ok: true, stored: false, message: 'duplicate: have newer event', removed: [] });
      assert.deepEqual(ids(q(store, [{ kinds: [0] }]).events), [v2.id]);
      assert.deepEqual(ids(q(store, [{ authors: [v1.pubkey] }]).events), [v2.id]);
      assert.equal(store.count([{ kinds: [0] }], { deadline: Date.now() + 1000 }).count, 1);
      // Kind 3 and 10000-19999 follow the same rule.
      const l1 = ev(sk, { kind: 10002, created_at: T0 });
      const l2 = ev(sk, { kind: 10002, created_at: T0 + 1 });
      await put(store, l1);
      assert.deepEqual((await put(store, l2)).removed, [l1.id]);
    } finally {
      await store.close();
    }
  });

  it('breaks a created_at tie by the lower id, in either arrival order', async () => {
    const sk = generateSecretKey();
    const a = ev(sk, { kind: 3, created_at: T0, content: 'a' });
    const b = ev(sk, { kind: 3, created_at: T0, content: 'b' });
    const [low, high] = a.id < b.id ? [a, b] : [b, a];
    for (const order of [
      [low, high],
      [high, low],
    ]) {
      const store = fresh();
      try {
        await put(store, order[0]!);
        const second = await put(store, order[1]!);
        assert.deepEqual(ids(q(store, [{ kinds: [3] }]).events), [low.id]);
        if (order[1] === high) assert.equal(second.message, 'duplicate: have newer event');
        else assert.deepEqual(second.removed, [high.id]);
      } finally {
        await store.close();
      }
    }
  });

  it('keys addressable events by the first d tag, wherever it is', async () => {
    const store = fresh();
    const sk = generateSecretKey();
    try {
      const x1 = ev(sk, { kind: 30023, created_at: T0, tags: [['t', 'a'], ['d', 'x'], ['d', 'y']] });
      const y1 = ev(sk, { kind: 30023, created_at: T0, tags: [['d', 'y']] });
      const none = ev(sk, { kind: 30023, created_at: T0, tags: [] });
      const x2 = ev(sk, { kind: 30023, created_at: T0 + 1, tags: [['title', 't'], ['d', 'x']] });
      const emptyD = ev(sk, { kind: 30023, created_at: T0 + 1, tags: [['d', '']] });
      for (const e of [x1, y1, none]) assert.equal((await put(store, e)).stored, true);
      assert.deepEqual((await put(store, x2)).removed, [x1.id]);
      assert.deepEqual((await put(store, emptyD)).removed, [none.id]);
      assert.deepEqual(new Set(ids(q(store, [{ kinds: [30023] }]).events)), new Set([x2.id, y1.id, emptyD.id]));
      const older = ev(sk, { kind: 30023, created_at: T0 - 1, tags: [['d', 'y']] });
      assert.equal((await store.writer.submit(older)).message, 'duplicate: have newer event');
    } finally {
      await store.close();
    }
  });

  it('never stores ephemeral events', async () => {
    const store = fresh();
    try {
      const e = ev(generateSecretKey(), { kind: 20001 });
      assert.deepEqual(await store.writer.submit(e), { ok: true, stored: false, message: '', removed: [] });
      assert.equal(store.has(e.id), false);
      assert.equal(q(store, [{}]).events.length, 0);
    } finally {
      await store.close();
    }
  });

  it('answers a re-sent event as a duplicate', async () => {
    const store = fresh();
    try {
      const e = ev(generateSecretKey());
      await put(store, e);
      assert.deepEqual(await store.writer.submit(e), { ok: true, stored: false, message: 'duplicate: already have this event', removed: [] });
      // Twice in the same batch: the second sees the first's write inside the transaction.
      const f = ev(generateSecretKey());
      const [o1, o2] = await Promise.all([store.writer.submit(f), store.writer.submit(f)]);
      assert.equal(o1.stored, true);
      assert.equal(o2.message, 'duplicate: already have this event');
    } finally {
      await store.close();
    }
  });
});

describe('event store: NIP-09 deletions', () => {
  it('deletes by e tag only for the same author and blocks republishing', async () => {
    const store = fresh();
    const alice = generateSecretKey();
    const mallory = generateSecretKey();
    try {
      const note = ev(alice, { content: 'oops' });
      const other = ev(alice, { content: 'keep' });
      await put(store, note);
      await put(store, other);
      const forged = ev(mallory, { kind: 5, tags: [['e', other.id]] });
      assert.deepEqual((await put(store, forged)).removed, []);
      assert.equal(store.has(other.id), true);
      assert.equal(store.isTombstoned(other), false);

      const del = ev(alice, { kind: 5, created_at: T0 + 1, tags: [['e', note.id]] });
      const o = await put(store, del);
      assert.deepEqual(outcomeOf(o, del), { ok: true, stored: true, message: '', removed: [note.id] });
      assert.equal(store.has(note.id), false);
      assert.equal(store.isTombstoned(note), true);
      assert.deepEqual(ids(q(store, [{ kinds: [1] }]).events), [other.id]);
      assert.deepEqual(ids(q(store, [{ kinds: [5] }]).events), [del.id, forged.id], 'deletions themselves are stored');
      assert.deepEqual(await store.writer.submit(note), { ok: false, stored: false, message: 'blocked: this event has been deleted', removed: [] });
    } finally {
      await store.close();
    }
  });

  it('remembers deletions of ids not seen yet, for that author only', async () => {
    const store = fresh();
    const alice = generateSecretKey();
    try {
      const later = ev(alice, { content: 'arrives after its deletion' });
      await put(store, ev(alice, { kind: 5, created_at: T0 + 1, tags: [['e', later.id]] }));
      assert.equal(store.isTombstoned(later), true);
      assert.equal((await store.writer.submit(later)).message, 'blocked: this event has been deleted');
      // A tombstone is (id, deleter): the same id claimed by another author is not blocked.
      assert.equal(store.isTombstoned({ ...later, pubkey: getPublicKey(generateSecretKey()) }), false);
    } finally {
      await store.close();
    }
  });

  it('does nothing when a deletion targets a deletion', async () => {
    const store = fresh();
    const alice = generateSecretKey();
    try {
      const del1 = ev(alice, { kind: 5, created_at: T0, tags: [['e', 'a'.repeat(64)]] });
      await put(store, del1);
      const del2 = ev(alice, { kind: 5, created_at: T0 + 1, tags: [['e', del1.id]] });
      assert.deepEqual((await put(store, del2)).removed, []);
      assert.equal(store.has(del1.id), true);
      assert.equal(store.isTombstoned(del1), false);
    } finally {
      await store.close();
    }
  });

  it('deletes addressable events by a coordinate up to the deletion time', async () => {
    const store = fresh();
    const alice = generateSecretKey();
    const mallory = generateSecretKey();
    const A = getPublicKey(alice);
    try {
      const art = ev(alice, { kind: 30023, created_at: T0, tags: [['d', 'post:1']] });
      const other = ev(alice, { kind: 30023, created_at: T0, tags: [['d', 'post:2']] });
      await put(store, art);
      await put(store, other);
      const forged = ev(mallory, { kind: 5, created_at: T0 + 5, tags: [['a', `30023:${A}:post:1`]] });
      assert.deepEqual((await put(store, forged)).removed, []);
      assert.equal(store.has(art.id), true);

      const del = ev(alice, { kind: 5, created_at: T0 + 5, tags: [['a', `30023:${A}:post:1`]] });
      assert.deepEqual((await put(store, del)).removed, [art.id]);
      assert.equal(store.has(art.id), false);
      assert.equal(store.has(other.id), true);
      // Versions up to the deletion's created_at stay deleted; newer ones are welcome.
      const stale = ev(alice, { kind: 30023, created_at: T0 + 5, tags: [['d', 'post:1']] });
      assert.equal((await store.writer.submit(stale)).message, 'blocked: this event has been deleted');
      assert.equal((await store.writer.submit(art)).message, 'blocked: this event has been deleted');
      const fresher = ev(alice, { kind: 30023, created_at: T0 + 6, tags: [['d', 'post:1']] });
      assert.equal((await put(store, fresher)).stored, true);
      assert.deepEqual(new Set(ids(q(store, [{ kinds: [30023] }]).events)), new Set([fresher.id, other.id]));
    } finally {
      await store.close();
    }
  });

  it('does not delete an addressable event newer than the deletion', async () => {
    const store = fresh();
    const alice = generateSecretKey();
    try {
      const art = ev(alice, { kind: 30000, created_at: T0 + 10, tags: [['d', 'x']] });
      await put(store, art);
      const del = ev(alice, { kind: 5, created_at: T0 + 5, tags: [['a', `30000:${art.pubkey}:x`]] });
      assert.deepEqual((await put(store, del)).removed, []);
      assert.equal(store.has(art.id), true);
    } finally {
      await store.close();
    }
  });
});

describe('event store: NIP-40 expiration', () => {
  it('never serves expired events and sweeps them', async () => {
    const store = fresh();
    const sk = generateSecretKey();
    try {
      const now = T0 + 100;
      const gone = ev(sk, { tags: [['expiration', String(now - 1)]] });
      const edge = ev(sk, { tags: [['expiration', String(now)]] });
      const live = ev(sk, { tags: [['expiration', String(now + 1)]] });
      const plain = ev(sk, { content: 'forever' });
      for (const e of [gone, edge, live, plain]) await put(store, e);
      const served = ids(store.query([{ kinds: [1] }], { ...Q, deadline: Date.now() + 1000, now }).events);
      assert.deepEqual(new Set(served), new Set([live.id, plain.id]));
      assert.deepEqual(ids(store.query([{ ids: [gone.id, live.id] }], { ...Q, deadline: Date.now() + 1000, now }).events), [live.id]);
      assert.equal(store.count([{ kinds: [1] }], { deadline: Date.now() + 1000, now }).count, 2);
      assert.equal(store.count([{ authors: [gone.pubkey], kinds: [1], tags: { expiration: [String(now)] } }], { deadline: Date.now() + 1000, now }).count, 0);
      assert.equal(store.has(gone.id), true, 'still stored until swept');

      assert.equal(await store.sweepExpired(now, 1), 1, 'bounded batch');
      assert.equal(await store.sweepExpired(now), 1);
      assert.equal(await store.sweepExpired(now), 0);
      assert.equal(store.has(gone.id), false);
      assert.equal(store.has(edge.id), false);
      assert.equal(store.has(live.id), true);
      assert.equal(store.stats().events, 2);
      assert.equal(await store.sweepExpired(now + 1), 1);
      assert.equal(store.has(live.id), false);
    } finally {
      await store.close();
    }
  });

  it('decides a kinds + one-tag filter from the record header (kinds, since, until, expiry) in queries and counts', async () => {
    const store = fresh();
    const sk = generateSecretKey();
    try {
      const now = T0 + 100;
      const note = ev(sk, { created_at: T0 + 1, tags: [['t', 'x']] });
      const reaction = ev(sk, { kind: 7, created_at: T0 + 2, tags: [['t', 'x']] });
      const expired = ev(sk, { created_at: T0 + 3, tags: [['t', 'x'], ['expiration', String(now - 1)]] });
      const newer = ev(sk, { created_at: T0 + 4, tags: [['t', 'x']] });
      const other = ev(sk, { created_at: T0 + 5, tags: [['t', 'y']] });
      for (const e of [note, reaction, expired, newer, other]) await put(store, e);
      const opts = { ...Q, deadline: Date.now() + 1000, now };
      const cOpts = { deadline: Date.now() + 1000, now };
      const notes: Filter = { kinds: [1], tags: { t: ['x'] } };
      assert.deepEqual(ids(store.query([notes], opts).events), [newer.id, note.id]);
      assert.equal(store.count([notes], cOpts).count, 2);
      assert.deepEqual(ids(store.query([{ ...notes, since: T0 + 2 }], opts).events), [newer.id]);
      assert.equal(store.count([{ ...notes, until: T0 + 3 }], cOpts).count, 1);
      // A record the first filter's header check skipped is still there for the second.
      const both = [notes, { kinds: [7], tags: { t: ['x'] } }];
      assert.deepEqual(ids(store.query(both, opts).events), [newer.id, reaction.id, note.id]);
      assert.equal(store.count(both, cOpts).count, 3);
      assert.deepEqual(ids(store.query([{ ids: [note.id, reaction.id, expired.id], kinds: [7] }], opts).events), [reaction.id]);
      // {} is answered from the created_at table's entry count, minus what has expired.
      assert.equal(store.count([{}], cOpts).count, 4);
      assert.equal(store.count([{}], { ...cOpts, now: T0 }).count, 5);
    } finally {
      await store.close();
    }
  });
});

describe('event store: writer effects', () => {
  it('runs the effect in the same transaction and isolates a failing item', async () => {
    const store = fresh();
    const side = store.openDB<string, string>('gw:test', {});
    try {
      const good = ev(generateSecretKey());
      const bad = ev(generateSecretKey());
      const refused = ev(generateSecretKey());
      const alsoGood = ev(generateSecretKey());
      const [o1, o2, o3, o4] = await Promise.all([
        store.writer.submit(good, () => side.putSync('good', good.id)),
        store.writer.submit(bad, () => {
          side.putSync('bad', bad.id);
          throw new Error('disk says no at /secret/path');
        }),
        store.writer.submit(refused, () => {
          throw new WriteRejection('restricted: not a member of this group');
        }),
        store.writer.submit(alsoGood),
      ]);
      assert.equal(store.writer.stats.lastBatchSize, 4, 'one transaction for the four');
      assert.deepEqual(outcomeOf(o1, good), { ok: true, stored: true, message: '', removed: [] });
      assert.deepEqual(o2, { ok: false, stored: false, message: 'error: could not store event', removed: [] });
      assert.deepEqual(o3, { ok: false, stored: false, message: 'restricted: not a member of this group', removed: [] });
      assert.equal(o4!.stored, true);
      assert.equal(side.get('good'), good.id);
      assert.equal(side.get('bad'), undefined, 'the failed item was rolled back, side table included');
      assert.equal(store.has(bad.id), false);
      assert.equal(store.has(refused.id), false);
      assert.deepEqual(new Set(ids(q(store, [{}]).events)), new Set([good.id, alsoGood.id]));
      assert.throws(() => store.openDB('ev:events'), /reserved/);
    } finally {
      await store.close();
    }
  });
});

describe('event store: volume, restart, deadline', () => {
  const sks = Array.from({ length: 10 }, () => generateSecretKey());
  const events: NostrEvent[] = [];
  const path = () => join(dir, 'volume');
  before(() => {
    for (let i = 0; i < 1000; i++) {
      events.push(ev(sks[i % 10]!, { kind: i % 3 === 0 ? 7 : 1, created_at: T0 + (i % 97), tags: [['t', `topic${i % 50}`]], content: `n${i}` }));
    }
  });

  it('commits 1,000 concurrent submits in fewer transactions, all queryable', async () => {
    const store = EventStore.open({ path: path() });
    try {
      const before = store.writer.stats.batches;
      const t = performance.now();
      const outcomes = await Promise.all(events.map((e) => store.writer.submit(e)));
      const ms = performance.now() - t;
      assert.ok(outcomes.every((o) => o.ok && o.stored));
      const batches = store.writer.stats.batches - before;
      assert.ok(batches < events.length, `${batches} transactions`);
      assert.equal(store.count([{}], { deadline: Date.now() + 5000 }).count, 1000);
      const r = q(store, [{ limit: 1000 }]);
      assert.equal(r.events.length, 1000);
      assert.deepEqual(ids(r.events), ids([...events].sort(byNewest)));
      assert.equal(store.stats().seq, 1000);
      console.log(`# 1000 submits: ${batches} transaction(s), ${ms.toFixed(1)} ms`);
    } finally {
      await store.close();
    }
  });

  it('reopens the same directory with everything there and seqs continuing', async () => {
    const store = EventStore.open({ path: path() });
    try {
      assert.equal(store.stats().events, 1000);
      assert.equal(store.stats().seq, 1000);
      assert.equal(store.has(events[123]!.id), true);
      assert.equal(q(store, [{ tags: { t: ['topic7'] } }]).events.length, 20);
      assert.equal(q(store, [{ authors: [events[0]!.pubkey], kinds: [7] }]).events.length, events.filter((e) => e.pubkey === events[0]!.pubkey && e.kind === 7).length);
      await put(store, ev(sks[0]!, { kind: 9, content: 'after restart' }));
      assert.equal(store.stats().seq, 1001);
    } finally {
      await store.close();
    }
  });

  it('stops at the deadline and reports timedOut', async () => {
    const store = EventStore.open({ path: path() });
    try {
      const r = store.query([{}], { ...Q, deadline: Date.now() - 1 });
      assert.equal(r.timedOut, true);
      assert.ok(r.events.length < 1000);
      // Two filters are a union: keys are walked, under the deadline.
      assert.equal(store.count([{ kinds: [1] }, { tags: { t: ['topic1'] } }], { deadline: Date.now() - 1 }).timedOut, true);
      // One index covers one filter: LMDB counts the keys, no walk for a deadline to cut.
      const one = store.count([{ kinds: [1] }], { deadline: Date.now() - 1 });
      assert.equal(one.timedOut, false);
      assert.equal(one.count, store.count([{ kinds: [1] }, { kinds: [1] }], { deadline: Date.now() + 5000 }).count);
      assert.equal(q(store, [{}]).timedOut, false);
    } finally {
      await store.close();
    }
  });

  it('plans with the most selective index', async () => {
    const store = EventStore.open({ path: path() });
    try {
      const author = events[0]!.pubkey;
      // 150 distinct authors, only one of whom has events: too many pairs for author_kind.
      const some = [author, ...Array.from({ length: 149 }, () => getPublicKey(generateSecretKey()))];
      assert.equal(store.explain({ ids: ['a'.repeat(64)], authors: [author] }), 'ids');
      assert.equal(store.explain({ authors: [author], kinds: [1, 7] }), 'author_kind');
      // 1 author × 101 kinds > 100 pairs: author (100 events) vs kind (1000), decided by counting.
      assert.equal(store.explain({ authors: [author], kinds: Array.from({ length: 101 }, (_, i) => i + 1) }), 'author');
      // A rare tag (20 events) beats a busy author (100 events) and a busy kind (667).
      assert.equal(store.explain({ authors: [author], tags: { t: ['topic7'] } }), 'tag');
      assert.equal(store.explain({ kinds: [1], tags: { t: ['topic7'] } }), 'tag');
      // A tag with no events at all beats an author with 100.
      assert.equal(store.explain({ authors: [author], tags: { t: ['nothing'] } }), 'tag');
      // An author with no events beats any tag or kind.
      assert.equal(store.explain({ authors: ['0'.repeat(64)], kinds: [1], tags: { t: ['topic7'] } }), 'author_kind');
      assert.equal(store.explain({ authors: ['0'.repeat(64)], tags: { t: ['topic7'] } }), 'author');
      assert.equal(store.explain({ authors: [author], kinds: [1] }), 'author_kind');
      assert.equal(store.explain({ kinds: [7] }), 'kind');
      assert.equal(store.explain({ kinds: [1], authors: some }), 'author');
      assert.equal(store.explain({ kinds: [9999], authors: some }), 'kind');
      // Repeated values do not multiply ranges (nor results).
      assert.equal(store.explain({ authors: [author, author], kinds: [1, 1] }), 'author_kind');
      assert.equal(q(store, [{ authors: Array(150).fill(author), kinds: [1] }]).events.length, events.filter((e) => e.pubkey === author && e.kind === 1).length);
      assert.equal(store.explain({ since: T0 }), 'created_at');
      assert.equal(store.explain({ tags: { mls_ciphersuite: ['x'] } }), 'created_at');
      assert.equal(store.explain({ kinds: [] }), 'none');
      // The plan changes nothing about the answer.
      const f: Filter = { kinds: [7], authors: some, since: T0 + 10, until: T0 + 20, limit: 30 };
      const expected = events.filter((e) => e.kind === 7 && some.includes(e.pubkey) && e.created_at >= T0 + 10 && e.created_at <= T0 + 20).sort(byNewest).slice(0, 30);
      assert.deepEqual(ids(q(store, [f]).events), ids(expected));
    } finally {
      await store.close();
    }
  });
});
