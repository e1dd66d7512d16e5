/**
 * KeyPackages the relay understands (RFC 9750 §5.1): genuine and corrupted ts-mls KeyPackages,
 * the last_resort extension and single_use marks, claims that ask for a suite, an id, a device
 * or one per device, the stock cap refused instead of pruned, Welcome mailboxes per device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRelay } from '../helpers/fixture.js';
import { genuineKeyPackage, toB64 } from '../helpers/mls-keypackages.js';
import { api, b64, client, gatewayToml, giftWrap, keyPackage, newKeys, now, publishOk, publishRejected, signEvent, type Event, type Keys } from './helpers.js';

const relay = sharedRelay({
  toml: gatewayToml([], `
max_keypackages_per_user = 5
[extensions.mls_gateway.rate_limits]
max_claims_per_hour = 100
`),
});

const SINGLE = ['single_use', '1'];
const flip = (b: Uint8Array, i: number) => {
  const c = Uint8Array.from(b);
  c[i] = c[i]! ^ 0x01;
  return c;
};
const claim = (by: Keys, body: Record<string, unknown>) => api(relay(), by, 'POST', '/keypackages/claim', body);

test('443/30443 content must be a genuine MLS KeyPackage: decoding, both signatures, lifetime, ciphersuite tag', async (t) => {
  const alice = newKeys();
  const c = await client(t, relay(), alice);
  const kp = await genuineKeyPackage({ identity: 'ab'.repeat(32) });
  await publishOk(c, keyPackage(alice, [], { content: toB64(kp) }));
  // OpenMLS/MDK publish the bare TLS KeyPackage, not wrapped in an MLSMessage.
  await publishOk(c, keyPackage(alice, [['mls_ciphersuite', 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519']], { content: toB64(await genuineKeyPackage({ bare: true })) }));
  await publishOk(c, keyPackage(alice, [['d', 'slot']], { kind: 30443, content: toB64(await genuineKeyPackage()) }));
  // NIP-EE's first clients published hex with no encoding tag.
  await publishOk(c, keyPackage(alice, [], { content: Buffer.from(await genuineKeyPackage()).toString('hex') }));

  const notKp = 'invalid: content is not an MLS KeyPackage (RFC 9420 §10)';
  await publishRejected(c, keyPackage(alice, [], { content: b64('keypackage 1') }), notKp);
  await publishRejected(c, keyPackage(alice, [], { content: toB64(kp.subarray(0, kp.length - 5)) }), notKp);
  await publishRejected(c, keyPackage(alice, [], { content: toB64(Uint8Array.from([...kp, 0])) }), notKp);
  await publishRejected(c, keyPackage(alice, [], { content: b64('{"wireformat":"mls_key_package"}') }), notKp);
  // A byte of the credential identity (inside the leaf node): the leaf node signature fails.
  const identityAt = Buffer.from(kp).indexOf(Buffer.from('ab'.repeat(32), 'hex'));
  assert.ok(identityAt > 0);
  await publishRejected(c, keyPackage(alice, [], { content: toB64(flip(kp, identityAt + 3)) }), 'invalid: KeyPackage leaf node signature does not verify');
  // A byte of init_key (MLSMessage header 4 + suite 2 + length 1): only the KeyPackage signature covers it.
  await publishRejected(c, keyPackage(alice, [], { content: toB64(flip(kp, 10)) }), 'invalid: KeyPackage signature does not verify');
  await publishRejected(c, keyPackage(alice, [], { content: toB64(flip(kp, kp.length - 1)) }), 'invalid: KeyPackage signature does not verify');

  const t0 = BigInt(now());
  const future = await genuineKeyPackage({ lifetime: { notBefore: t0 + 3600n, notAfter: t0 + 7200n } });
  await publishRejected(c, keyPackage(alice, [], { content: toB64(future) }), `invalid: KeyPackage lifetime has not begun (not_before ${t0 + 3600n})`);
  const past = await genuineKeyPackage({ lifetime: { notBefore: 0n, notAfter: t0 - 60n } });
  await publishRejected(c, keyPackage(alice, [], { content: toB64(past) }), `invalid: KeyPackage lifetime has passed (not_after ${t0 - 60n})`);

  // The tag names the suite as hex, decimal or RFC 9420 name; it must be the KeyPackage's own.
  const p256 = toB64(await genuineKeyPackage({ suite: 'MLS_128_DHKEMP256_AES128GCM_SHA256_P256' }));
  const bob = newKeys();
  const cb = await client(t, relay(), bob);
  const tagged = (suite: string) => signEvent(bob, { kind: 443, content: p256, tags: [['kpr', `r-${Math.random()}`], ['cs', suite]] });
  await publishOk(cb, tagged('2'));
  await publishOk(cb, tagged('MLS_128_DHKEMP256_AES128GCM_SHA256_P256'));
  await publishRejected(cb, tagged('0x0001'), 'invalid: KeyPackage ciphersuite 0x0002 differs from its tag 0x0001');
  await publishRejected(c, keyPackage(alice, [], { content: p256 }), 'invalid: KeyPackage ciphersuite 0x0002 differs from its tag 0x0001');
  await publishRejected(cb, tagged('aes-please'), 'invalid: ciphersuite tag must be hex (0x0001), decimal (1) or an RFC 9420 ciphersuite name');
  await publishRejected(c, keyPackage(alice, [['device', 'not a device id']]), 'invalid: at most one device tag');
  await publishRejected(c, keyPackage(alice, [['single_use', 'true']]), 'invalid: single_use tag must be "1"');

  const stock = async (k: Keys) => (await api(relay(), k, 'GET', `/keypackages?owner=${k.pk}`)).json.keypackages;
  assert.equal((await stock(alice)).length, 4, 'only the genuine ones are in stock');
  assert.deepEqual((await stock(bob)).map((k: { ciphersuite: string }) => k.ciphersuite), ['0x0002', '0x0002'], 'the stock names the suite in hex, whatever the tag said');
});

test('last_resort extension and single_use decide what a claim consumes', async (t) => {
  const claimer = newKeys();
  const lastResort = toB64(await genuineKeyPackage({ lastResort: true }));

  // Every KeyPackage single use: the last one is consumed too (it used to be kept as a last resort).
  const a = newKeys();
  const ca = await client(t, relay(), a);
  const single = [keyPackage(a, [SINGLE], { created_at: now() - 2 }), keyPackage(a, [SINGLE], { created_at: now() - 1 })];
  for (const e of single) await publishOk(ca, e);
  const a1 = await claim(claimer, { owner: a.pk });
  assert.deepEqual([a1.json.event.id, a1.json.last_resort, a1.json.remaining], [single[0]!.id, false, 1]);
  const a2 = await claim(claimer, { owner: a.pk });
  assert.deepEqual([a2.json.event.id, a2.json.last_resort, a2.json.remaining], [single[1]!.id, false, 0]);
  assert.equal((await claim(claimer, { owner: a.pk })).status, 404);

  // A last_resort KeyPackage stays; the single-use one and the unmarked one go first.
  const b = newKeys();
  const cb = await client(t, relay(), b);
  const lr = keyPackage(b, [], { content: lastResort, created_at: now() - 3 });
  const once = keyPackage(b, [SINGLE], { created_at: now() - 2 });
  const plain = keyPackage(b, [], { created_at: now() - 1 });
  for (const e of [lr, once, plain]) await publishOk(cb, e);
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await claim(claimer, { owner: b.pk })).json);
  assert.deepEqual(got.map((g) => [g.event.id, g.last_resort]), [[once.id, false], [plain.id, false], [lr.id, true], [lr.id, true]]);
  assert.equal(got[3].remaining, 1);

  // Marmot: every KeyPackage carries last_resort; none is consumed, even with two in stock.
  const m = newKeys();
  const cm = await client(t, relay(), m);
  const marmot = [keyPackage(m, [], { content: lastResort, created_at: now() - 2 }), keyPackage(m, [], { content: lastResort, created_at: now() - 1 })];
  for (const e of marmot) await publishOk(cm, e);
  const m1 = await claim(claimer, { owner: m.pk });
  assert.deepEqual([m1.json.event.id, m1.json.last_resort, m1.json.remaining], [marmot[0]!.id, true, 2]);

  const stock = (await api(relay(), b, 'GET', `/keypackages?owner=${b.pk}`)).json.keypackages;
  assert.deepEqual(stock.map((k: { id: string; last_resort: boolean }) => [k.id, k.last_resort]), [[lr.id, true]]);
});

test('claims ask for a ciphersuite, a KeyPackage id, a device, or one per device', async (t) => {
  const [owner, claimer] = [newKeys(), newKeys()];
  const c = await client(t, relay(), owner);
  const p256 = toB64(await genuineKeyPackage({ suite: 'MLS_128_DHKEMP256_AES128GCM_SHA256_P256' }));
  const phone = keyPackage(owner, [SINGLE, ['device', 'phone']], { created_at: now() - 4 });
  const laptop = keyPackage(owner, [SINGLE, ['device', 'laptop']], { created_at: now() - 3 });
  const laptopP256 = signEvent(owner, { kind: 443, content: p256, created_at: now() - 2, tags: [['cs', '0x0002'], SINGLE, ['device', 'laptop'], ['kpr', 'p256']] });
  const legacy = keyPackage(owner, [SINGLE], { created_at: now() - 1 });
  for (const e of [phone, laptop, laptopP256, legacy]) await publishOk(c, e);

  const bySuite = await claim(claimer, { owner: owner.pk, ciphersuite: '0x0002' });
  assert.deepEqual([bySuite.status, bySuite.json.event.id, bySuite.json.device, bySuite.json.remaining], [200, laptopP256.id, 'laptop', 0]);
  assert.equal((await claim(claimer, { owner: owner.pk, ciphersuite: 2 })).status, 404);
  const byId = await claim(claimer, { owner: owner.pk, id: legacy.id });
  assert.deepEqual([byId.json.event.id, byId.json.device], [legacy.id, null]);
  assert.equal((await claim(claimer, { owner: owner.pk, id: legacy.id })).status, 404, 'a claimed KeyPackage is not handed out twice');
  assert.equal((await claim(claimer, { owner: owner.pk, id: phone.id, device: 'laptop' })).status, 404, 'filters combine');

  const more = keyPackage(owner, [SINGLE, ['device', 'phone']]);
  const fallback = keyPackage(owner, [SINGLE]);
  await publishOk(c, more);
  await publishOk(c, fallback);
  const byDevice = await claim(claimer, { owner: owner.pk, device: 'phone' });
  assert.equal(byDevice.json.event.id, phone.id);
  const defaultDevice = await claim(claimer, { owner: owner.pk, device: null });
  assert.equal(defaultDevice.json.event.id, fallback.id);

  // Left: phone `more`, laptop `laptop`. One per device, in one writer task.
  const all = await claim(claimer, { owner: owner.pk, per_device: true, ciphersuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' });
  assert.equal(all.status, 200);
  assert.deepEqual(all.json.events.map((e: Event) => e.id).sort(), [more.id, laptop.id].sort());
  assert.deepEqual(all.json.claims.map((x: { device: string }) => x.device).sort(), ['laptop', 'phone']);
  assert.equal((await claim(claimer, { owner: owner.pk, per_device: true })).status, 404);

  for (const [body, msg] of [
    [{ owner: owner.pk, ciphersuite: 'rot13' }, /^ciphersuite must be/],
    [{ owner: owner.pk, id: 'abc' }, /^id must be/],
    [{ owner: owner.pk, device: 'a b' }, /^device must be/],
    [{ owner: owner.pk, per_device: 'yes' }, /^per_device must be/],
    [{ owner: owner.pk, per_device: true, device: 'phone' }, /^per_device cannot be combined/],
  ] as const) {
    const r = await claim(claimer, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.json.error, msg);
  }
});

test('a KeyPackage over max_keypackages_per_user is refused, never stored and silently pruned', async (t) => {
  const owner = newKeys();
  const c = await client(t, relay(), owner);
  const kept: Event[] = [];
  for (let i = 0; i < 4; i++) kept.push(keyPackage(owner, [], { created_at: now() - 10 + i }));
  kept.push(keyPackage(owner, [['d', 'slot']], { kind: 30443, created_at: now() - 5 }));
  for (const e of kept) await publishOk(c, e);
  const over = keyPackage(owner);
  await publishRejected(c, over, `blocked: keypackage stock of ${owner.pk} is full (max 5)`);
  // A 30443 replacing its own coordinate takes that one's place.
  const replacement = keyPackage(owner, [['d', 'slot']], { kind: 30443 });
  await publishOk(c, replacement);
  const stock = (await api(relay(), owner, 'GET', `/keypackages?owner=${owner.pk}`)).json.keypackages.map((k: { id: string }) => k.id);
  assert.deepEqual(stock.sort(), [...kept.slice(0, 4).map((e) => e.id), replacement.id].sort());
  assert.deepEqual((await c.req('over', { ids: [over.id] })).events, []);
  // A claim makes room again.
  await claim(newKeys(), { owner: owner.pk });
  await publishOk(c, keyPackage(owner));
});

test('Welcome mailbox per device: deposits name a device, pickup and ack by device', async (t) => {
  const [bob, adder] = [newKeys(), newKeys()];
  const deposit = async (device?: string) => {
    const r = await api(relay(), adder, 'POST', '/welcome', { recipient: bob.pk, welcome_b64: b64(`welcome ${device}`), ...(device ? { device } : {}) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.id as string;
  };
  const phone = await deposit('phone');
  const laptop = await deposit('laptop');
  const anyDevice = await deposit();
  // A 1059 gift wrap addressed to a device by its device tag.
  const wrap = signEvent(newKeys(), { kind: 1059, content: b64('sealed'), tags: [['p', bob.pk], ['device', 'laptop']] });
  await publishOk(await client(t, relay(), adder), wrap);
  await publishRejected(await client(t, relay(), adder), signEvent(newKeys(), { kind: 1059, content: b64('x'), tags: [['p', bob.pk], ['device', '']] }), 'invalid: at most one device tag');

  const pick = async (q: string) => (await api(relay(), bob, 'GET', `/welcome?recipient=${bob.pk}${q}`)).json.items as Array<{ id: string; device: string | null }>;
  assert.deepEqual((await pick('&device=phone')).map((i) => i.id).sort(), [phone, anyDevice].sort());
  const forLaptop = await pick('&device=laptop');
  assert.deepEqual(forLaptop.map((i) => i.id).sort(), [laptop, anyDevice, wrap.id].sort());
  assert.equal(forLaptop.find((i) => i.id === wrap.id)!.device, 'laptop');
  assert.equal((await pick('')).length, 4, 'without device: the whole identity');
  assert.equal((await api(relay(), bob, 'GET', `/welcome?recipient=${bob.pk}&device=a%20b`)).status, 400);

  const wrong = await api(relay(), bob, 'POST', `/welcome/${laptop}/ack?device=phone`);
  assert.equal(wrong.status, 403);
  assert.deepEqual(wrong.json, { error: 'restricted: this item is addressed to another device of the recipient', code: 'restricted' });
  assert.equal((await api(relay(), bob, 'POST', `/welcome/${laptop}/ack?device=laptop`)).status, 200);
  assert.equal((await api(relay(), bob, 'POST', `/welcome/${phone}/ack?device=phone`)).status, 200);
  assert.deepEqual((await pick('&device=phone')).map((i) => i.id), [anyDevice]);
});
