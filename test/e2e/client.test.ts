/** src/client builders: exact tags per PROTOCOL.md, valid signatures, gift-wrap round trip, NIP-42/98. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { verifyEvent } from 'nostr-tools/pure';
import * as nip44 from 'nostr-tools/nip44';
import * as nip98 from 'nostr-tools/nip98';
import {
  KIND,
  MlsRestClient,
  toBase64,
  authenticate,
  buildAddressableKeyPackageEvent,
  buildAuthEvent,
  buildGroupMessage,
  buildHttpAuthEvent,
  buildInboxRelayList,
  buildKeyPackageEvent,
  buildKeyPackageRelayList,
  buildKeyPackageRequest,
  buildNoiseDm,
  buildRelayList,
  buildRosterEvent,
  createRumor,
  fromBase64,
  giftWrapWelcome,
  groupMessageBytes,
  groupMessageEpoch,
  httpAuthHeader,
  keyPackageBytes,
  sealRumor,
  sha256Hex,
  signEvent,
  toHex,
  unwrapGift,
  welcomeBytes,
  wrapSeal,
  type NostrEvent,
} from '../../src/client/index.js';
import { newKeys, now } from '../helpers/ws-client.js';
import { startRelay } from '../helpers/relay-process.js';
import { stopRelay } from '../helpers/fixture.js';
import { decodeKeyPackage, newKeyPackage } from './mls.js';

const alice = newKeys();
const bob = newKeys();
const G = 'aa'.repeat(32);

function valid(e: NostrEvent): boolean {
  return verifyEvent({ ...e });
}

test('443 KeyPackage: base64 of the encoded ts-mls KeyPackage, enterprise tags in order', async () => {
  const kp = await newKeyPackage(alice.pk);
  const exp = now() + 3600;
  const e = buildKeyPackageEvent(alice.sk, { keyPackage: kp.encoded, keyRef: kp.ref, expiresAt: exp, relays: ['wss://r.example'] });
  assert.equal(e.kind, 443);
  assert.equal(e.pubkey, alice.pk);
  assert.ok(valid(e));
  assert.deepEqual(e.tags, [
    ['p', alice.pk],
    ['cs', '0x0001'],
    ['mls_ver', '1.0'],
    ['kpr', kp.ref],
    ['exp', String(exp)],
    ['encoding', 'base64'],
    ['single_use', '1'],
    ['relays', 'wss://r.example'],
  ]);
  assert.deepEqual(fromBase64(e.content), kp.encoded);
  // The bytes decode back to the same KeyPackage.
  const decoded = decodeKeyPackage(keyPackageBytes(e));
  assert.deepEqual(decoded.initKey, kp.publicPackage.initKey);
});

test('443 Marmot vocabulary, hex encoding, NIP-70, not single-use', async () => {
  const kp = await newKeyPackage(alice.pk);
  const e = buildKeyPackageEvent(alice.sk, { keyPackage: kp.encoded, keyRef: kp.ref, vocabulary: 'marmot', encoding: 'hex', singleUse: false, protected: true });
  assert.deepEqual(e.tags, [
    ['p', alice.pk],
    ['mls_ciphersuite', '0x0001'],
    ['mls_protocol_version', '1.0'],
    ['i', kp.ref],
    ['encoding', 'hex'],
    ['-'],
  ]);
  assert.equal(e.content, toHex(kp.encoded));
  assert.deepEqual(keyPackageBytes(e), kp.encoded);
});

test('30443 addressable KeyPackage carries d first', async () => {
  const kp = await newKeyPackage(alice.pk);
  const e = buildAddressableKeyPackageEvent(alice.sk, 'slot-1', { keyPackage: kp.encoded });
  assert.equal(e.kind, 30443);
  assert.deepEqual(e.tags[0], ['d', 'slot-1']);
  assert.deepEqual(e.tags[1], ['p', alice.pk]);
  assert.ok(valid(e));
});

test('445 group message: a fresh one-shot key per message, h and k tags', () => {
  const msg = new Uint8Array([1, 2, 3, 250]);
  const a = buildGroupMessage({ groupId: G, epoch: 7n, message: msg });
  const b = buildGroupMessage({ groupId: G, epoch: 7, message: msg, hints: [bob.pk], mlsVersion: '1.0', expiration: 2_000_000_000 });
  assert.equal(a.kind, 445);
  assert.notEqual(a.pubkey, b.pubkey, 'each message has its own signing key');
  assert.notEqual(a.pubkey, alice.pk);
  assert.ok(valid(a) && valid(b));
  assert.deepEqual(a.tags, [['h', G], ['k', '7']]);
  assert.deepEqual(b.tags, [['h', G], ['k', '7'], ['p', bob.pk], ['mls_ver', '1.0'], ['expiration', '2000000000']]);
  assert.deepEqual(groupMessageBytes(a), msg);
  assert.equal(groupMessageEpoch(a), 7n);
});

test('446 Noise DM: exactly one p and v noise.1', () => {
  const e = buildNoiseDm(alice.sk, { recipient: bob.pk, content: 'bm9pc2U=' });
  assert.equal(e.kind, 446);
  assert.deepEqual(e.tags, [['p', bob.pk], ['v', 'noise.1']]);
  assert.ok(valid(e));
});

test('447 KeyPackage request: p target and the optional tags', () => {
  const e = buildKeyPackageRequest(alice.sk, { target: bob.pk, groupId: G, ciphersuite: '0x0001', min: 3, ttl: 600 });
  assert.equal(e.kind, 447);
  assert.deepEqual(e.tags, [['p', bob.pk], ['h', G], ['cs', '0x0001'], ['min', '3'], ['ttl', '600']]);
  assert.deepEqual(buildKeyPackageRequest(alice.sk, { target: bob.pk }).tags, [['p', bob.pk]]);
});

test('450 roster: h, seq, op, p..., role, note', () => {
  const e = buildRosterEvent(alice.sk, { groupId: G, seq: 3, op: 'promote', members: [bob.pk, alice.pk], role: 'admin', note: 'why' });
  assert.equal(e.kind, 450);
  assert.deepEqual(e.tags, [['h', G], ['seq', '3'], ['op', 'promote'], ['p', bob.pk], ['p', alice.pk], ['role', 'admin'], ['note', 'why']]);
  assert.deepEqual(buildRosterEvent(alice.sk, { groupId: G, seq: 1, op: 'bootstrap' }).tags, [['h', G], ['seq', '1'], ['op', 'bootstrap']]);
});

test('relay lists 10051 / 10050 (relay tags) and 10002 (r tags with markers)', () => {
  const a = buildKeyPackageRelayList(alice.sk, ['wss://a', 'wss://b']);
  const b = buildInboxRelayList(alice.sk, ['wss://c']);
  const c = buildRelayList(alice.sk, [{ url: 'wss://a' }, { url: 'wss://b', marker: 'read' }]);
  assert.deepEqual([a.kind, b.kind, c.kind], [10051, 10050, 10002]);
  assert.deepEqual(a.tags, [['relay', 'wss://a'], ['relay', 'wss://b']]);
  assert.deepEqual(b.tags, [['relay', 'wss://c']]);
  assert.deepEqual(c.tags, [['r', 'wss://a'], ['r', 'wss://b', 'read']]);
  assert.ok([a, b, c].every(valid));
});

test('gift-wrapped Welcome: 444 → 13 → 1059 round trip, wrap by a one-shot key', () => {
  const welcome = new Uint8Array([9, 8, 7, 6, 5]);
  const kpId = 'cd'.repeat(32);
  const { wrap, rumor } = giftWrapWelcome(alice.sk, bob.pk, { welcome, groupId: G, keyPackageEventId: kpId, relays: ['wss://r'] });
  assert.equal(wrap.kind, 1059);
  assert.notEqual(wrap.pubkey, alice.pk, 'the wrap does not reveal the sender');
  assert.deepEqual(wrap.tags, [['p', bob.pk], ['h', G], ['v', 'gift.1']]);
  assert.ok(valid(wrap));
  assert.ok(Math.abs(wrap.created_at - now()) <= 5, 'wrap time is not randomised by default');
  assert.equal(rumor.kind, 444);
  assert.ok(!('sig' in rumor), 'a rumor is never signed');
  assert.deepEqual(rumor.tags, [['e', kpId], ['relays', 'wss://r'], ['encoding', 'base64']]);

  const opened = unwrapGift(wrap, bob.sk);
  assert.equal(opened.sender, alice.pk);
  assert.equal(opened.seal.kind, 13);
  assert.deepEqual(opened.seal.tags, []);
  assert.deepEqual(opened.rumor, rumor);
  assert.deepEqual(welcomeBytes(opened.rumor), welcome);

  assert.throws(() => unwrapGift(wrap, newKeys().sk), 'only the recipient can open it');
  const plain = giftWrapWelcome(alice.sk, bob.pk, { welcome, version: null });
  assert.deepEqual(plain.wrap.tags, [['p', bob.pk]]);
});

test('unwrap rejects a seal whose rumor claims another author, and a forged seal signature', () => {
  const mallory = newKeys();
  const forged = createRumor(alice.pk, { kind: 444, content: 'AA==' });
  const wrap = wrapSeal(sealRumor(mallory.sk, forged, bob.pk), bob.pk);
  assert.throws(() => unwrapGift(wrap, bob.sk), /rumor author differs/);

  const rumor = createRumor(alice.pk, { kind: 444, content: 'AA==' });
  const seal = sealRumor(alice.sk, rumor, bob.pk);
  const badSeal = { ...seal, sig: seal.sig.replace(/^./, seal.sig[0] === '0' ? '1' : '0') };
  const eph = newKeys();
  const badWrap = signEvent(eph.sk, {
    kind: KIND.GIFT_WRAP,
    content: nip44.encrypt(JSON.stringify(badSeal), nip44.getConversationKey(eph.sk, bob.pk)),
    tags: [['p', bob.pk]],
  });
  assert.throws(() => unwrapGift(badWrap, bob.sk), /seal signature/);
});

test('NIP-98: u, method, payload = sha256 of the raw body; nostr-tools validates the header', async () => {
  const url = 'http://127.0.0.1:1/api/v1/keypackages/claim';
  const body = JSON.stringify({ owner: bob.pk });
  const e = buildHttpAuthEvent(alice.sk, { url, method: 'post', body });
  assert.equal(e.kind, 27235);
  assert.deepEqual(e.tags, [['u', url], ['method', 'POST'], ['payload', sha256Hex(body)]]);
  assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const header = httpAuthHeader(alice.sk, { url, method: 'GET' });
  assert.match(header, /^Nostr [A-Za-z0-9+/=]+$/);
  assert.equal(await nip98.validateToken(header, url, 'GET'), true);
  const decoded = JSON.parse(Buffer.from(header.slice(6), 'base64').toString('utf8')) as NostrEvent;
  assert.deepEqual(decoded.tags, [['u', url], ['method', 'GET']], 'no payload tag without a body');
});

test('NIP-42: AUTH event shape, and authenticate() on a real relay with two keys', async (t) => {
  const e = buildAuthEvent(alice.sk, 'chal', 'ws://127.0.0.1:1');
  assert.equal(e.kind, 22242);
  assert.deepEqual(e.tags, [['relay', 'ws://127.0.0.1:1'], ['challenge', 'chal']]);

  const relay = await startRelay({ toml: '[auth]\nenabled = true\n' });
  t.after(() => stopRelay(relay));
  const ws = new WebSocket(relay.url);
  t.after(() => ws.close());
  // Listen before "open" so the challenge sent on connect cannot be missed.
  const challenge = new Promise<string>((resolve) =>
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as unknown[];
      if (m[0] === 'AUTH') resolve(m[1] as string);
    }),
  );
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const pubkeys = await authenticate(ws, [alice.sk, bob.sk], { relayUrl: relay.url, challenge: await challenge });
  assert.deepEqual(pubkeys, [alice.pk, bob.pk]);
  await assert.rejects(authenticate(ws, [alice.sk], { relayUrl: relay.url, challenge: 'wrong-challenge' }), /refused AUTH/);
});

test('MlsRestClient mailbox pages: cursor, has_more, next; drainMailbox returns every pending item once', async (t) => {
  const relay = await startRelay({ toml: '[extensions.mls_gateway]\nenabled = true\n' });
  t.after(() => stopRelay(relay));
  const sender = new MlsRestClient({ baseUrl: relay.httpUrl, secretKey: alice.sk });
  const recipient = sender.as(bob.sk);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await sender.depositWelcome({ recipient: bob.pk, sender: alice.pk, welcome_b64: toBase64(new Uint8Array([i, i])) });
    assert.equal(d.status, 200, d.text);
    ids.push(d.data!.id);
  }
  const first = await recipient.welcomeMailbox(bob.pk, { limit: 2 });
  assert.equal(first.data!.items.length, 2);
  assert.equal(first.data!.has_more, true);
  const second = await recipient.welcomeMailbox(bob.pk, { limit: 2, cursor: first.data!.next });
  assert.equal(second.data!.items.length, 2);
  assert.ok(second.data!.items.every((i) => !first.data!.items.some((f) => f.id === i.id)));
  const all = await recipient.drainMailbox('welcome', bob.pk, 2);
  assert.deepEqual(all.map((i) => i.id).sort(), [...ids].sort());
  assert.ok(all.every((i) => i.welcome_b64 !== undefined && i.content_b64 === undefined && i.event === undefined));
  assert.deepEqual((await recipient.welcomeMailbox(bob.pk, 20)).data!.next, null);
});
