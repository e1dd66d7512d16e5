// mls-relay/client end to end: NIP-42, publish a KeyPackage, claim it, send a 445, catch up.
// Run against a relay with the MLS gateway on: RELAY=ws://127.0.0.1:8080 node quickstart.mjs
import WebSocket from 'ws';
import { defaultCapabilities, defaultLifetime, encodeMlsMessage, generateKeyPackage, getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import { authenticate, buildGroupMessage, buildKeyPackageEvent, fromHex, generateSecretKey, groupMessageBytes, MlsRestClient, publicKeyOf } from 'mls-relay/client';

const RELAY = process.env.RELAY ?? 'ws://127.0.0.1:8080';
const HTTP = RELAY.replace(/^ws/, 'http');

/** A WebSocket authenticated (NIP-42) as `sk`; the challenge is read before anything else arrives. */
async function connect(sk) {
  const ws = new WebSocket(RELAY);
  const challenge = new Promise((resolve) => ws.on('message', function first(data) {
    const m = JSON.parse(String(data));
    if (m[0] === 'AUTH') (ws.off('message', first), resolve(m[1]));
  }));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  await authenticate(ws, [sk], { relayUrl: RELAY, challenge: await challenge });
  return ws;
}

/** Sends one EVENT and waits for its OK; rejects with the relay's reason. */
function publish(ws, event) {
  return new Promise((resolve, reject) => {
    ws.on('message', function ok(data) {
      const m = JSON.parse(String(data));
      if (m[0] !== 'OK' || m[1] !== event.id) return;
      ws.off('message', ok);
      m[2] ? resolve(m[3]) : reject(new Error(m[3]));
    });
    ws.send(JSON.stringify(['EVENT', event]));
  });
}

const bob = generateSecretKey();
const alice = generateSecretKey();

// 1. Bob publishes a KeyPackage (a genuine one: the relay decodes and verifies it).
const suite = await getCiphersuiteImpl(getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'));
const kp = await generateKeyPackage({ credentialType: 'basic', identity: fromHex(publicKeyOf(bob)) }, defaultCapabilities(), defaultLifetime, [], suite);
const bobWs = await connect(bob);
await publish(bobWs, buildKeyPackageEvent(bob, { keyPackage: encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' }) }));
console.log('bob published a KeyPackage');

// 2. Alice claims it over REST (NIP-98 is signed for her by the client).
const rest = new MlsRestClient({ baseUrl: HTTP, secretKey: alice });
const claim = await rest.claimKeyPackage(publicKeyOf(bob));
if (!claim.ok) throw new Error(`claim failed: ${claim.status} ${claim.error?.error}`);
console.log('alice claimed', claim.data.event.id);

// 3. Alice sends a group message (445): the content is the MLS message her MLS library produced.
const groupId = 'quickstart-' + Date.now();
const aliceWs = await connect(alice);
await publish(aliceWs, buildGroupMessage({ groupId, message: new TextEncoder().encode('mls ciphertext') }));
console.log('alice sent a 445 to', groupId);

// 4. Bob catches up in the relay's order, from any cursor (null: from the start).
const caughtUp = await rest.as(bob).groupCatchUp(groupId, null);
console.log('bob caught up', caughtUp.messages.length, 'message(s):', new TextDecoder().decode(groupMessageBytes(caughtUp.messages[0])));
bobWs.close();
aliceWs.close();
