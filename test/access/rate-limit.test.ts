/**
 * [rate_limiter] against a real relay. Each test speaks from its own forwarded address (one trusted
 * proxy hop), so the per-address buckets of one test never touch another's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, rawClient, sharedRelay, sleep } from '../helpers/fixture.js';
import { newKeys, publishAll, signEvent, type Event, type OkMessage } from '../helpers/ws-client.js';
import { authAs, upgradeStatus, xff } from './helpers.js';

const relay = sharedRelay({
  env: { LOG_LEVEL: 'debug' },
  toml: `
[network]
real_ip_header = "x-forwarded-for"
[rate_limiter]
enabled = true
clear_interval = "1s"
req_per_minute = 10
connections_per_minute = 5
ip_whitelist = ["198.51.100.250"]

[[rate_limiter.event]]
name = "notes"
description = "kind 1 notes"
period = "1m"
limit = 5
kinds = [1]

[[rate_limiter.event]]
name = "range"
description = "kinds 30000 to 30009"
period = "1m"
limit = 3
kinds = [[30000, 30010]]

[[rate_limiter.event]]
name = "short"
description = "two per second"
period = "1s"
limit = 2
kinds = [5000]

[[rate_limiter.event]]
name = "reactions"
description = "reactions"
period = "1m"
limit = 1
kinds = [7]
ip_whitelist = ["198.51.100.1"]
`,
});

const split = (oks: OkMessage[]) => ({
  accepted: oks.filter((m) => m[2] === true).length,
  limited: oks.filter((m) => m[2] === false && String(m[3]).startsWith('rate-limited:')).length,
  other: oks.filter((m) => m[2] === false && !String(m[3]).startsWith('rate-limited:')),
});

const notes = (n: number, tag: string): Event[] => {
  const k = newKeys();
  return Array.from({ length: n }, (_, i) => signEvent(k, { content: `${tag} ${i}` }));
};

test('a burst gets exactly `limit` events through, then "rate-limited: <description>"; reconnecting does not help', async (t) => {
  const c = await rawClient(t, relay().url, xff('198.51.100.10'));
  const started = Date.now();
  const oks = await publishAll(c, notes(8, 'burst'));
  t.diagnostic(`8 pipelined events answered in ${Date.now() - started} ms`);
  const s = split(oks);
  assert.deepEqual([s.accepted, s.limited, s.other], [5, 3, []]);
  const msg = oks.find((m) => m[2] === false)![3];
  assert.equal(msg, 'rate-limited: kind 1 notes');

  assertOk(await c.publish(signEvent(newKeys(), { kind: 2, content: 'other kind' })), true);
  const again = await rawClient(t, relay().url, xff('198.51.100.10'));
  assertOk(await again.publish(notes(1, 'reconnected')[0]!), false, 'rate-limited: kind 1 notes');
  const elsewhere = await rawClient(t, relay().url, xff('198.51.100.11'));
  assertOk(await elsewhere.publish(notes(1, 'elsewhere')[0]!), true);
});

test('an authenticated pubkey is limited across connections from different addresses', async (t) => {
  const k = newKeys();
  const first = await rawClient(t, relay().url, xff('198.51.100.20'));
  await authAs(first, relay().url, k);
  assert.equal(split(await publishAll(first, notes(3, 'pk a'))).accepted, 3);
  const second = await rawClient(t, relay().url, xff('198.51.100.21'));
  await authAs(second, relay().url, k);
  const s = split(await publishAll(second, notes(3, 'pk b')));
  assert.deepEqual([s.accepted, s.limited], [2, 1], 'the pubkey had 2 of its 5 left');
  // The second address itself is not exhausted: unauthenticated, it still has room.
  const third = await rawClient(t, relay().url, xff('198.51.100.21'));
  assertOk(await third.publish(notes(1, 'same address, no auth')[0]!), true);
});

test('kind ranges are [start, end)', async (t) => {
  const c = await rawClient(t, relay().url, xff('198.51.100.30'));
  const k = newKeys();
  const ev = (kind: number, d: string) => signEvent(k, { kind, tags: [['d', d]] });
  const s = split(await publishAll(c, [ev(30000, 'a'), ev(30005, 'b'), ev(30009, 'c'), ev(30001, 'd')]));
  assert.deepEqual([s.accepted, s.limited], [3, 1]);
  assertOk(await c.publish(ev(30010, 'e')), true);
  assertOk(await c.publish(ev(29999, 'f')), true);
});

test('the window slides: a short-period rule admits again once its period has passed; idle buckets are swept', async (t) => {
  const c = await rawClient(t, relay().url, xff('198.51.100.40'));
  const k = newKeys();
  const jobs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => signEvent(k, { kind: 5000, content: `${tag} ${i}` }));
  assert.deepEqual(split(await publishAll(c, jobs(3, 'w1'))).accepted, 2);
  await sleep(2_100);
  assert.deepEqual(split(await publishAll(c, jobs(3, 'w2'))).accepted, 2);
  // Buckets are idle after two periods (2 s) and sweeps run every clear_interval (1 s), so a
  // dropping sweep lands within ~3 s; poll rather than guess the sweep's phase.
  const dropping = () =>
    relay()
      .logRecords()
      .filter((r) => r.msg === 'rate-limit buckets swept' && Number(r.dropped) > 0);
  for (let waited = 0; dropping().length === 0 && waited < 6_000; waited += 200) await sleep(200);
  const swept = dropping();
  assert.ok(swept.length > 0, 'a sweep dropped the idle one-second buckets');
  t.diagnostic(`sweeps that dropped buckets: ${swept.map((r) => `${r.dropped} (left ${r.remaining})`).join(', ')}`);
});

test("a rule's ip_whitelist exempts those addresses from that rule only", async (t) => {
  const k = newKeys();
  const target = signEvent(newKeys(), { content: 'target' });
  const react = (i: number) => signEvent(k, { kind: 7, content: '+', tags: [['e', target.id], ['n', String(i)]] });
  const exempt = await rawClient(t, relay().url, xff('198.51.100.1'));
  assert.equal(split(await publishAll(exempt, [react(1), react(2), react(3)])).accepted, 3);
  const other = await rawClient(t, relay().url, xff('198.51.100.50'));
  const s = split(await publishAll(other, [react(4), react(5)]));
  assert.deepEqual([s.accepted, s.limited], [1, 1]);
  const oks = await publishAll(exempt, notes(6, 'exempt from reactions only'));
  assert.deepEqual(split(oks).accepted, 5, 'the notes rule still applies to the exempt address');
});

test('REQ and COUNT share req_per_minute per address: over it, CLOSED "rate-limited: ..."', async (t) => {
  const c = await rawClient(t, relay().url, xff('198.51.100.60'));
  for (let i = 0; i < 8; i++) {
    const r = await c.req(`q${i}`, { kinds: [1], limit: 1 });
    assert.equal(r.eose, true, `REQ ${i}: ${r.closed}`);
    c.closeSub(`q${i}`);
  }
  for (let i = 0; i < 2; i++) assert.equal(typeof (await c.count(`n${i}`, { kinds: [1] })).count, 'number');
  const over = await c.req('q-over', { kinds: [1] });
  assert.match(over.closed ?? '', /^rate-limited: /);
  const overCount = await c.count('n-over', { kinds: [1] });
  assert.match(overCount.closed ?? '', /^rate-limited: /);
  const reconnect = await rawClient(t, relay().url, xff('198.51.100.60'));
  assert.match((await reconnect.req('q-again', { kinds: [1] })).closed ?? '', /^rate-limited: /);
  const whitelisted = await rawClient(t, relay().url, xff('198.51.100.250'));
  for (let i = 0; i < 15; i++) {
    assert.equal((await whitelisted.req(`w${i}`, { kinds: [1], limit: 1 })).eose, true);
    whitelisted.closeSub(`w${i}`);
  }
});

test('connections_per_minute: the next upgrade from that address gets HTTP 429', async () => {
  const url = relay().url;
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push(await upgradeStatus(url, xff('198.51.100.70').headers));
  assert.deepEqual(statuses, [101, 101, 101, 101, 101, 429, 429]);
  assert.equal(await upgradeStatus(url, xff('198.51.100.71').headers), 101);
  // Client-written entries left of the proxy's do not make a new address.
  assert.equal(await upgradeStatus(url, xff('10.9.9.9, 198.51.100.70').headers), 429);
  const exempt: number[] = [];
  for (let i = 0; i < 7; i++) exempt.push(await upgradeStatus(url, xff('198.51.100.250').headers));
  assert.deepEqual(exempt, [101, 101, 101, 101, 101, 101, 101]);
});

test('IPv6 clients are counted per /64', async () => {
  const url = relay().url;
  const statuses: number[] = [];
  for (let i = 1; i <= 6; i++) statuses.push(await upgradeStatus(url, xff(`2001:db8:77:1::${i.toString(16)}`).headers));
  assert.deepEqual(statuses, [101, 101, 101, 101, 101, 429]);
  assert.equal(await upgradeStatus(url, xff('2001:db8:77:2::1').headers), 101);
});
