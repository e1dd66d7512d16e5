/**
 * NDK (@nostr-dev-kit/ndk 3, from npm, unmodified) hands the relay's reason to its caller: the
 * NDKPublishError of a refused publish carries the OK message, a refused REQ's `closed` event the CLOSED
 * message. Node 20 has no global WebSocket; NDK uses the global one, so `ws` is put there (what an NDK
 * user on Node 20 does too).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import NDK, { NDKEvent, NDKPrivateKeySigner, NDKPublishError, NDKRelayAuthPolicies, type NDKFilter } from '@nostr-dev-kit/ndk';
import { sharedRelay } from '../helpers/fixture.js';
import { listsToml } from '../helpers/lists.js';
import { newKeys, now, type Keys } from '../helpers/ws-client.js';

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const A = newKeys(); // may read and publish
const B = newKeys(); // an author whose events are refused
const D = newKeys(); // on no list

const relay = sharedRelay({ toml: listsToml(A.pk, B.pk) });

const hex = (k: Keys) => Buffer.from(k.sk).toString('hex');
const WAIT_MS = 5_000;

/** An NDK instance on the test relay only, signing in with `k` when asked (signIn) unless `auth` is false. */
async function ndkFor(t: { after(fn: () => void): void }, k: Keys, auth = true): Promise<NDK> {
  const ndk = new NDK({ explicitRelayUrls: [relay().url], signer: new NDKPrivateKeySigner(hex(k)), enableOutboxModel: false });
  if (auth) ndk.relayAuthDefaultPolicy = NDKRelayAuthPolicies.signIn({ ndk });
  t.after(() => {
    for (const r of ndk.pool.relays.values()) r.disconnect();
  });
  // NDK 3.0.3 sends a publish at once; if the relay refuses it with auth-required: while signIn is still
  // authenticating, NDK keeps it for a retry that its signIn path never makes (the caller gets a timeout).
  // An NDK application on an auth-required relay therefore waits for "authed" first, as here.
  const authed = auth ? onceAuthed(ndk) : Promise.resolve();
  await ndk.connect(WAIT_MS);
  await authed;
  return ndk;
}

function onceAuthed(ndk: NDK): Promise<void> {
  const r = ndk.pool.getRelay(relay().url, false);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`NDK not authenticated within ${WAIT_MS} ms`)), WAIT_MS);
    r.once('authed', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** What a caller of NDKEvent.publish learns: 'accepted', or the per-relay error messages. */
async function publishReason(ev: NDKEvent): Promise<string> {
  try {
    await ev.publish(undefined, WAIT_MS);
    return 'accepted';
  } catch (err) {
    if (err instanceof NDKPublishError) return [...err.errors.values()].map((e) => e.message).join(' | ');
    return `not an NDKPublishError: ${String(err)}`;
  }
}

/** What a subscriber learns: the `closed` reason, or 'eose' when it was served. */
function subscribeReason(ndk: NDK, filter: NDKFilter = { kinds: [1], limit: 1 }): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no answer'), WAIT_MS);
    const sub = ndk.subscribe(filter, { closeOnEose: true, groupable: false });
    sub.on('closed', (_relay, reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
    sub.on('eose', () => {
      clearTimeout(timer);
      sub.stop();
      resolve('eose');
    });
  });
}

test('NDK: authenticated as a key the lists refuse, publish and REQ get restricted:', async (t) => {
  const ndk = await ndkFor(t, D);
  assert.match(await publishReason(new NDKEvent(ndk, { kind: 1, content: 'unlisted' })), /^restricted: /);
  assert.match(await subscribeReason(ndk), /^restricted: /);
});

test('NDK: not authenticated, a REQ gets auth-required:; with signIn the publish is retried after AUTH and passes', async (t) => {
  const anonymous = await ndkFor(t, A, false);
  assert.match(await subscribeReason(anonymous), /^auth-required: /);

  const ndk = await ndkFor(t, A);
  assert.equal(await publishReason(new NDKEvent(ndk, { kind: 1, content: 'after auth' })), 'accepted');
  assert.equal(await subscribeReason(ndk), 'eose');
});

test('NDK: blocked: and invalid: answers reach the caller', async (t) => {
  const ndk = await ndkFor(t, A);
  const byB = new NDKEvent(ndk, { kind: 1, content: 'by a refused author' });
  await byB.sign(new NDKPrivateKeySigner(hex(B)));
  assert.match(await publishReason(byB), /^blocked: /);

  const future = new NDKEvent(ndk, { kind: 1, content: 'from tomorrow', created_at: now() + 86_400 });
  assert.match(await publishReason(future), /^invalid: /);
});

// Every NDKRelay (3.0.3) re-arms a 30 s setTimeout (updateValidationRatio) forever, with no API to stop
// it, so this file's process would never exit. Once every relay here is stopped, exit explicitly.
after(() => {
  setTimeout(() => process.exit(), 1_000).unref();
});
