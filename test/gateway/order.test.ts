/**
 * The relay's order over REST: POST /messages/group and /messages/missed page in relay
 * order with an opaque cursor, so every stored event is received exactly once, oldest
 * first, however many share a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay, stopRelay } from '../helpers/fixture.js';
import { makeTempDir, removeDir, startRelay } from '../helpers/relay-process.js';
import { publishAll } from '../helpers/ws-client.js';
import { api, b64, client, gatewayToml, newKeys, now, randomGroup, roster, signEvent, type Event, type Keys } from './helpers.js';

const admin = newKeys();
const member = newKeys();
const relay = sharedRelay({ toml: gatewayToml([admin]) });

/** A group with `member` in its roster. */
async function newGroup(t: Parameters<typeof client>[0]): Promise<string> {
  const group = randomGroup();
  const a = await client(t, relay(), admin);
  const ok = await a.publish(roster(admin, group, 1, 'bootstrap', [member.pk]));
  assert.equal(ok[2], true, JSON.stringify(ok));
  return group;
}

function message(group: string, i: number, created_at?: number, signer = newKeys()): Event {
  return signEvent(signer, { kind: 445, content: b64(`m${i}`), tags: [['h', group]], created_at });
}

/**
 * Publishes in waves (each wave pipelined, waves one after another), so the relay order is
 * known up to the order inside one wave. Returns id -> wave.
 */
async function publishWaves(t: Parameters<typeof client>[0], events: Event[], wave = 50): Promise<Map<string, number>> {
  const c = await client(t, relay(), member);
  const waveOf = new Map<string, number>();
  for (let i = 0; i < events.length; i += wave) {
    const part = events.slice(i, i + wave);
    const oks = await publishAll(c, part);
    for (const ok of oks) assert.equal(ok[2], true, JSON.stringify(ok));
    for (const e of part) waveOf.set(e.id, i / wave);
  }
  return waveOf;
}

interface Paged {
  ids: string[];
  pages: number;
  last: string | null;
}

async function pageAll(path: string, keys: Keys, body: Record<string, unknown>, limit: number, cursor: string | null = null): Promise<Paged> {
  const ids: string[] = [];
  let pages = 0;
  let last = cursor;
  for (;;) {
    assert.ok(pages < 1000, 'paging ends');
    const r = await api(relay(), keys, 'POST', path, { ...body, limit, ...(last !== null ? { cursor: last } : {}) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    pages++;
    assert.equal(r.json.count, r.json.messages.length);
    assert.ok(r.json.messages.length <= limit);
    ids.push(...r.json.messages.map((e: Event) => e.id));
    if (r.json.next !== null) {
      assert.equal(typeof r.json.next, 'string');
      last = r.json.next;
    }
    if (!r.json.has_more) return { ids, pages, last };
    assert.notEqual(r.json.next, null, 'has_more comes with a cursor');
  }
}

function assertExactlyOnceInOrder(got: string[], waveOf: Map<string, number>): void {
  assert.equal(new Set(got).size, got.length, 'no event twice');
  assert.equal(got.length, waveOf.size, 'every stored event');
  for (const id of got) assert.ok(waveOf.has(id), 'only events of the group');
  for (let i = 1; i < got.length; i++) assert.ok(waveOf.get(got[i - 1]!)! <= waveOf.get(got[i]!)!, `relay order at ${i}`);
}

test('700 messages: paged from the start with limit 100 and 500, each exactly once, in relay order; the last cursor resumes', async (t) => {
  const group = await newGroup(t);
  const base = now() - 700;
  // Increasing created_at, but published in an order unrelated to it: relay order is arrival order.
  const events = Array.from({ length: 700 }, (_, i) => message(group, i, base + ((i * 337) % 700)));
  const waveOf = await publishWaves(t, events);

  const t0 = performance.now();
  const big = await pageAll('/messages/group', member, { group_id: group }, 500);
  const ms = performance.now() - t0;
  assert.equal(big.pages, 2);
  assertExactlyOnceInOrder(big.ids, waveOf);
  t.diagnostic(`700 messages in 2 pages of 500: ${ms.toFixed(0)} ms`);

  const small = await pageAll('/messages/group', member, { group_id: group }, 100);
  assert.deepEqual(small.ids, big.ids, 'the same order whatever the page size');
  assert.equal(small.pages, 7);

  // Over the limit: 500 at most.
  const capped = await api(relay(), member, 'POST', '/messages/group', { group_id: group, limit: 100000 });
  assert.equal(capped.json.messages.length, 500);
  assert.equal(capped.json.has_more, true);

  // From any cursor: the rest, exactly once.
  const mid = await api(relay(), member, 'POST', '/messages/group', { group_id: group, limit: 123 });
  const rest = await pageAll('/messages/group', member, { group_id: group }, 77, mid.json.next);
  assert.deepEqual([...mid.json.messages.map((e: Event) => e.id), ...rest.ids], big.ids);

  // Later arrivals after the last cursor, and only they.
  const later = Array.from({ length: 3 }, (_, i) => message(group, 1000 + i, base - 5000));
  const laterWaves = await publishWaves(t, later, 1);
  const resumed = await pageAll('/messages/group', member, { group_id: group }, 500, big.last);
  assertExactlyOnceInOrder(resumed.ids, laterWaves);
});

test('600 messages with one created_at: paged by 50, each exactly once, in relay order', async (t) => {
  const group = await newGroup(t);
  const ts = now() - 10;
  const events = Array.from({ length: 600 }, (_, i) => message(group, i, ts));
  const waveOf = await publishWaves(t, events);
  const paged = await pageAll('/messages/group', member, { group_id: group }, 50);
  assert.equal(paged.pages, 12);
  assertExactlyOnceInOrder(paged.ids, waveOf);
  // since still works (created_at >= since) and combines with the cursor.
  const none = await api(relay(), member, 'POST', '/messages/group', { group_id: group, since: ts + 1 });
  assert.deepEqual(none.json.messages, []);
  assert.equal(none.json.has_more, false);
  assert.equal(none.json.next, null);
  const sinceTs = await pageAll('/messages/group', member, { group_id: group, since: ts }, 250);
  assert.deepEqual(sinceTs.ids, paged.ids);
});

test('since and cursor together; a deleted message is skipped; a bad cursor is a 400', async (t) => {
  const group = await newGroup(t);
  const signer = newKeys();
  const base = now() - 100;
  const events = [message(group, 0, base + 50, signer), message(group, 1, base + 10, signer), message(group, 2, base + 60, signer), message(group, 3, base + 70, signer)];
  await publishWaves(t, events, 1);
  const first = await api(relay(), member, 'POST', '/messages/group', { group_id: group, since: base + 50, limit: 1 });
  assert.deepEqual(first.json.messages.map((e: Event) => e.id), [events[0]!.id]);
  assert.equal(first.json.has_more, true);
  // NIP-09 by the author removes event 2: paging goes on past it.
  const c = await client(t, relay(), signer);
  const del = await c.publish(signEvent(signer, { kind: 5, tags: [['e', events[2]!.id]] }));
  assert.equal(del[2], true, JSON.stringify(del));
  const next = await api(relay(), member, 'POST', '/messages/group', { group_id: group, since: base + 50, cursor: first.json.next });
  assert.deepEqual(next.json.messages.map((e: Event) => e.id), [events[3]!.id], 'after the cursor, since applied, deleted one gone');
  assert.equal(next.json.has_more, false);

  for (const cursor of ['nope', 'AAAAAAAAAAAA', 123, '', 'A'.repeat(400)]) {
    const r = await api(relay(), member, 'POST', '/messages/group', { group_id: group, cursor });
    assert.equal(r.status, 400, `cursor ${JSON.stringify(cursor)}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'bad_request');
    assert.match(r.json.error, /cursor/);
  }
});

test('/messages/missed: 446 and 1059 for the caller, paged in relay order with the cursor', async (t) => {
  const recipient = newKeys();
  const other = newKeys();
  const ts = now() - 5;
  const sender = newKeys();
  const events: Event[] = [];
  for (let i = 0; i < 30; i++) {
    const to = i % 3 === 2 ? other.pk : recipient.pk;
    events.push(signEvent(i % 2 ? newKeys() : sender, { kind: i % 2 ? 1059 : 446, content: b64(`x${i}`), tags: [['p', to]], created_at: ts }));
  }
  const c = await client(t, relay(), sender);
  const waveOf = new Map<string, number>();
  for (let i = 0; i < events.length; i += 10) {
    const part = events.slice(i, i + 10);
    for (const ok of await publishAll(c, part)) assert.equal(ok[2], true, JSON.stringify(ok));
    for (const e of part) if (e.tags[0]![1] === recipient.pk) waveOf.set(e.id, i / 10);
  }
  const paged = await pageAll('/messages/missed', recipient, {}, 3);
  assertExactlyOnceInOrder(paged.ids, waveOf);
});

test('a store written before the order index: it is built once at start, catch-up sees the old events in order', async (t) => {
  const dataDir = await makeTempDir('mls-relay-order-upgrade-');
  t.after(() => removeDir(dataDir));
  // The gateway off: 445 and 1059 are stored as plain events, nothing indexes them.
  const plain = await startRelay({ dataDir });
  const group = randomGroup();
  const recipient = newKeys();
  const events = [...Array.from({ length: 12 }, (_, i) => message(group, i, now() - i)), signEvent(newKeys(), { kind: 1059, content: b64('w'), tags: [['p', recipient.pk]] })];
  try {
    const c = await client(t, plain);
    for (const e of events) assert.equal((await c.publish(e))[2], true);
    await c.close();
  } finally {
    await stopRelay(plain);
  }
  const gw = await startRelay({ dataDir, toml: gatewayToml([admin], 'group_policy = "authenticated"') });
  try {
    const r = await api(gw, member, 'POST', '/messages/group', { group_id: group, limit: 5 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const all = [...r.json.messages];
    let next = r.json.next;
    while (next !== null) {
      const p = await api(gw, member, 'POST', '/messages/group', { group_id: group, cursor: next, limit: 5 });
      all.push(...p.json.messages);
      next = p.json.has_more ? p.json.next : null;
    }
    assert.deepEqual(all.map((e: Event) => e.id), events.slice(0, 12).map((e) => e.id), 'arrival order, not created_at order');
    const missed = await api(gw, recipient, 'POST', '/messages/missed', {});
    assert.deepEqual(missed.json.messages.map((e: Event) => e.id), [events[12]!.id]);
  } finally {
    await stopRelay(gw);
  }
});
