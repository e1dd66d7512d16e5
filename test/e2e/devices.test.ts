/**
 * Two devices of one identity with genuine ts-mls: each device publishes its own KeyPackage
 * (same Nostr pubkey, its own `device` tag), an adder claims one per device, adds both leaves
 * in one commit, gift-wraps the Welcome to each device, each device picks up and acknowledges
 * only its own Welcome, joins, and both decrypt the group's messages. Removing one device is
 * an MLS commit on its leaf: the other device of the same identity keeps reading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGroupMessage, buildKeyPackageEvent, fromBase64, fromHex, giftWrapWelcome, groupMessageBytes, keyPackageBytes, tagValue, unwrapGift, welcomeBytes, type NostrEvent } from '../../src/client/index.js';
import { assertOk, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { newKeys, now, type RawClient } from '../helpers/ws-client.js';
import { commitRemoveLeaf, createGroupWith, decodeKeyPackage, encryptText, epochOf, joinFromWelcome, leafIndexOfDevice, memberIdentities, newKeyPackage, processMessage, type OwnKeyPackage } from './mls.js';
import { connectAs, gatewayToml, randomGroupId, reqOnce, rest } from './support.js';
import type { ClientState } from 'ts-mls';

interface Device {
  name: string;
  ws: RawClient;
  kp: OwnKeyPackage;
  eventId?: string;
  state?: ClientState;
}

test('two devices of one identity: per-device claim, per-device Welcome pickup and ack, both decrypt, one removed', async (t) => {
  const relay = await startRelay({ toml: gatewayToml({ admins: [], groupPolicy: 'authenticated' }) });
  t.after(() => stopRelay(relay));
  const [alice, bob] = [newKeys(), newKeys()];
  const aliceWs = await connectAs(t, relay, [alice]);

  // 1. Each of Bob's devices is its own MLS client: own KeyPackage, own keys, same credential identity.
  const devices: Device[] = [];
  for (const name of ['phone', 'laptop']) {
    const d: Device = { name, ws: await connectAs(t, relay, [bob]), kp: await newKeyPackage(bob.pk) };
    const ev = buildKeyPackageEvent(bob.sk, { keyPackage: d.kp.encoded, keyRef: d.kp.ref, expiresAt: now() + 86_400, device: name });
    assertOk(await d.ws.publish(ev), true);
    d.eventId = ev.id;
    devices.push(d);
  }
  const stock = await rest(relay, alice).listKeyPackages(bob.pk);
  assert.deepEqual(stock.data!.keypackages.map((k) => k.device).sort(), ['laptop', 'phone']);

  // 2. Alice claims one KeyPackage per device of Bob, atomically, and adds both leaves.
  const claim = await rest(relay, alice).claimPerDevice(bob.pk, { ciphersuite: '0x0001' });
  assert.equal(claim.status, 200, claim.text);
  const events = claim.data!.events;
  assert.deepEqual(events.map((e) => e.id).sort(), devices.map((d) => d.eventId).sort());
  assert.deepEqual(claim.data!.claims.map((c) => [c.device, c.last_resort]).sort(), [['laptop', false], ['phone', false]]);
  assert.equal((await rest(relay, alice).claimPerDevice(bob.pk)).status, 404, 'single-use KeyPackages were consumed');

  const aliceKp = await newKeyPackage(alice.pk);
  const G = randomGroupId();
  const created = await createGroupWith(fromHex(G), aliceKp, events.map((e) => decodeKeyPackage(keyPackageBytes(e))));
  let aliceState = created.state;
  assert.equal(memberIdentities(aliceState).filter((id) => id === bob.pk).length, 2, 'two leaves share Bob identity');

  // 3. One wrap per device, addressed by the device of the KeyPackage it was claimed for.
  for (const e of events) {
    const device = tagValue(e, 'device')!;
    const { wrap } = giftWrapWelcome(alice.sk, bob.pk, { welcome: created.welcome, groupId: G, keyPackageEventId: e.id, device });
    assertOk(await aliceWs.publish(wrap), true);
  }

  // 4. Each device picks up only its own Welcome, joins, and acknowledges it.
  const bobApi = rest(relay, bob);
  for (const d of devices) {
    const box = await bobApi.welcomeMailbox(bob.pk, 20, d.name);
    assert.equal(box.status, 200, box.text);
    const items = box.data!.items as Array<{ id: string; device?: string | null; event?: NostrEvent; content_b64?: string }>;
    assert.equal(items.length, 1, `${d.name} sees its own Welcome only`);
    assert.equal(items[0]!.device, d.name);
    const wrap = items[0]!.event ?? (JSON.parse(Buffer.from(fromBase64(items[0]!.content_b64!)).toString('utf8')) as NostrEvent);
    const opened = unwrapGift(wrap, bob.sk);
    assert.equal(tagValue(opened.rumor, 'e'), d.eventId, 'the Welcome names this device\'s KeyPackage');
    d.state = await joinFromWelcome(welcomeBytes(opened.rumor), d.kp);
    assert.equal(epochOf(d.state), epochOf(aliceState));
    const other = devices.find((x) => x !== d)!;
    assert.equal((await bobApi.ackWelcome(items[0]!.id, other.name)).status, 403, 'another device cannot ack it');
    assert.equal((await bobApi.ackWelcome(items[0]!.id, d.name)).status, 200);
  }
  assert.equal((await bobApi.welcomeMailbox(bob.pk)).data!.items.length, 0);

  // 5. Both devices decrypt a group message (fetched from the relay, in order).
  const send = async (text: string) => {
    const enc = await encryptText(aliceState, text);
    aliceState = enc.state;
    const ev = buildGroupMessage({ groupId: G, epoch: enc.epoch, message: enc.message });
    assertOk(await aliceWs.publish(ev), true);
    return ev;
  };
  const fetch = async (d: Device, id: string) => {
    const r = await reqOnce(d.ws, `${d.name}-445`, { ids: [id] });
    assert.equal(r.events.length, 1, `${d.name} reads 445 ${id.slice(0, 8)}`);
    return r.events[0] as NostrEvent;
  };
  const hello = await send('hello, both of your devices');
  for (const d of devices) {
    const r = await processMessage(d.state!, groupMessageBytes(await fetch(d, hello.id)));
    d.state = r.state;
    assert.equal(r.text, 'hello, both of your devices');
  }

  // 6. Removing the laptop is a commit on its leaf; Bob's phone stays in the group.
  const [phone, laptop] = devices as [Device, Device];
  const removal = await commitRemoveLeaf(aliceState, leafIndexOfDevice(aliceState, laptop.kp));
  aliceState = removal.state;
  const commit = buildGroupMessage({ groupId: G, epoch: removal.epoch, message: removal.commit });
  assertOk(await aliceWs.publish(commit), true);
  const processed = await processMessage(phone.state!, groupMessageBytes(await fetch(phone, commit.id)));
  phone.state = processed.state;
  assert.equal(epochOf(phone.state), epochOf(aliceState));
  assert.equal(memberIdentities(phone.state).filter((id) => id === bob.pk).length, 1);
  const after = await send('only the phone reads this');
  const onPhone = await processMessage(phone.state, groupMessageBytes(await fetch(phone, after.id)));
  assert.equal(onPhone.text, 'only the phone reads this');
  await assert.rejects(processMessage(laptop.state!, groupMessageBytes(await fetch(laptop, after.id))), 'the removed device cannot decrypt');
});
