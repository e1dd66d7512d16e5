/** Read rules: REQ, COUNT, live fan-out and REST apply the same rules; `{}` filters leak nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import type { RawClient } from '../helpers/ws-client.js';
import { api, client, gatewayToml, giftWrap, groupMessage, keyPackage, newKeys, publishOk, randomGroup, roster, signEvent, type Event } from './helpers.js';

const admin = newKeys();
const [member, recipient, author, outsider] = [newKeys(), newKeys(), newKeys(), newKeys()];
const relay = sharedRelay({ toml: gatewayToml([admin]) });
const group = randomGroup();
let events: Record<string, Event> = {};

const RESTRICTED = [445, 446, 447, 450, 1059];

async function seed(t: Parameters<typeof client>[0]): Promise<void> {
  if (events.g445) return;
  const a = await client(t, relay(), admin);
  const m = await client(t, relay(), member);
  const bootstrap = roster(admin, group, 1, 'bootstrap', [member.pk]);
  await publishOk(a, bootstrap);
  const g445 = groupMessage(group, 1);
  await publishOk(m, g445);
  const dm = signEvent(author, { kind: 446, content: 'noise', tags: [['p', recipient.pk]] });
  await publishOk(m, dm);
  const req = signEvent(admin, { kind: 447, tags: [['p', recipient.pk]] });
  await publishOk(a, req);
  const wrap = giftWrap(recipient.pk);
  await publishOk(m, wrap);
  const kp = keyPackage(author);
  await publishOk(await client(t, relay(), author), kp);
  const relays = signEvent(author, { kind: 10051, tags: [['relay', 'wss://r.example']] });
  await publishOk(m, relays);
  events = { g445, dm, req, wrap, bootstrap, kp, relays };
}

const allIds = () => Object.values(events).map((e) => e.id);

/** What each identity may read, per PROTOCOL.md. */
function expected(who: string): Set<string> {
  const e = events;
  const pub = [e.kp!.id, e.relays!.id];
  const by: Record<string, string[]> = {
    anon: pub,
    outsider: pub,
    member: [...pub, e.g445!.id, e.bootstrap!.id],
    recipient: [...pub, e.dm!.id, e.req!.id, e.wrap!.id],
    author: [...pub, e.dm!.id],
    admin: [...pub, e.g445!.id, e.req!.id, e.bootstrap!.id], // owner of the group, admin for 447
  };
  return new Set(by[who]);
}

async function as(t: Parameters<typeof client>[0], who: string): Promise<RawClient> {
  const keys = { anon: undefined, outsider, member, recipient, author, admin }[who];
  return keys ? client(t, relay(), keys) : client(t, relay());
}

const WHO = ['anon', 'outsider', 'member', 'recipient', 'author', 'admin'];

test('REQ with {} and with kinds returns exactly what each identity may read', async (t) => {
  await seed(t);
  for (const who of WHO) {
    const c = await as(t, who);
    const got = (await c.req('all', {})).events.map((e) => e.id).filter((id) => allIds().includes(id));
    assert.deepEqual(new Set(got), expected(who), `{} for ${who}`);
    const byKinds = await c.req('k', { kinds: [443, ...RESTRICTED, 10051] });
    assert.deepEqual(new Set(byKinds.events.map((e) => e.id).filter((id) => allIds().includes(id))), expected(who), `kinds for ${who}`);
    const n = await c.count('n', { kinds: RESTRICTED, ids: allIds() });
    if (who === 'anon') assert.match(n.closed ?? '', /^auth-required: /);
    else assert.equal(n.count, [...expected(who)].filter((id) => id !== events.kp!.id && id !== events.relays!.id).length, `COUNT for ${who}`);
    const nAll = await c.count('all', { ids: allIds() });
    assert.equal(nAll.count, expected(who).size, `COUNT {} for ${who}`);
  }
});

test('unauthenticated REQ for restricted kinds only is CLOSED auth-required; mixed filters are filtered', async (t) => {
  await seed(t);
  const c = await as(t, 'anon');
  for (const k of RESTRICTED) {
    const r = await c.req(`only-${k}`, { kinds: [k] });
    assert.equal(r.eose, false);
    assert.match(r.closed ?? '', /^auth-required: /, `kind ${k}`);
  }
  const mixed = await c.req('mixed', { kinds: [445, 10051] });
  assert.equal(mixed.eose, true);
  assert.deepEqual(mixed.events.map((e) => e.id).filter((id) => allIds().includes(id)), [events.relays!.id]);
});

test('live delivery follows the same rules for every identity', async (t) => {
  await seed(t);
  const clients: Record<string, RawClient> = {};
  for (const who of WHO) {
    clients[who] = await as(t, who);
    await clients[who]!.req('live', { limit: 0 });
  }
  const m = await client(t, relay(), member);
  const a = await client(t, relay(), admin);
  const fresh = {
    g445: groupMessage(group, 2),
    dm: signEvent(author, { kind: 446, content: 'noise 2', tags: [['p', recipient.pk]] }),
    req: signEvent(admin, { kind: 447, tags: [['p', recipient.pk]], content: 'again' }),
    wrap: giftWrap(recipient.pk),
  };
  await publishOk(m, fresh.g445);
  await publishOk(m, fresh.dm);
  await publishOk(a, fresh.req);
  await publishOk(m, fresh.wrap);
  const should: Record<string, string[]> = {
    anon: [],
    outsider: [],
    member: [fresh.g445.id],
    recipient: [fresh.dm.id, fresh.req.id, fresh.wrap.id],
    author: [fresh.dm.id],
    admin: [fresh.g445.id, fresh.req.id],
  };
  const freshIds = Object.values(fresh).map((e) => e.id);
  for (const who of WHO) {
    const want = should[who]!;
    const got: string[] = [];
    for (let i = 0; i < want.length; i++) got.push((await clients[who]!.nextEvent('live')).id);
    await clients[who]!.expectNone((x) => x[0] === 'EVENT' && freshIds.includes((x[2] as Event).id), 250, `extra live event for ${who}`);
    assert.deepEqual(got.sort(), [...want].sort(), `live for ${who}`);
  }
});

test('REST /messages/missed and /messages/group apply the rules', async (t) => {
  await seed(t);
  const missed = await api(relay(), recipient, 'POST', '/messages/missed', { since: 0 });
  assert.equal(missed.status, 200);
  const got = new Set(missed.json.messages.map((e: Event) => e.id));
  for (const id of [events.dm!.id, events.req!.id, events.wrap!.id]) assert.ok(got.has(id));
  assert.equal(missed.json.count, missed.json.messages.length);
  assert.equal(missed.json.has_more, false);
  const none = await api(relay(), outsider, 'POST', '/messages/missed', { since: 0 });
  assert.deepEqual(none.json.messages, []);
  const paged = await api(relay(), recipient, 'POST', '/messages/missed', { since: 0, limit: 1 });
  assert.equal(paged.json.messages.length, 1);
  assert.equal(paged.json.has_more, true);

  const grp = await api(relay(), member, 'POST', '/messages/group', { group_id: group, since: 0 });
  assert.equal(grp.status, 200);
  assert.ok(grp.json.messages.some((e: Event) => e.id === events.g445!.id));
  const denied = await api(relay(), outsider, 'POST', '/messages/group', { group_id: group, since: 0 });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.code, 'restricted');
  assert.match(denied.json.error, /^restricted: /);
  const bad = await api(relay(), member, 'POST', '/messages/group', { since: 0 });
  assert.equal(bad.status, 400);
});

test('kind 1059 is readable by its recipient only, not even by relay admins', async (t) => {
  await seed(t);
  const a = await as(t, 'admin');
  const r = await a.req('w', { kinds: [1059], '#p': [recipient.pk] });
  assert.deepEqual(r.events, []);
});
