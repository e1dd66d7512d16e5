/**
 * rust-nostr's SDK (@rust-nostr/nostr-sdk 0.43, the WASM build from npm, unmodified) hands the relay's
 * reason to its caller: SendEventOutput.failed[].error for a refused publish, the rejection of
 * Relay.fetchEvents for a refused REQ. (Client.fetchEvents, the pool-level call, returns an empty set
 * for a CLOSED and keeps the reason to itself; that is the SDK's choice, so the per-relay call is used.)
 * On Node it loads `ws` itself when there is no global WebSocket.
 *
 * The SDK drops the AUTH challenge a relay sends at connect when it arrives with the handshake; it
 * authenticates only because the relay repeats the challenge before an `auth-required:` answer.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientBuilder,
  ClientOptions,
  Duration,
  EventBuilder,
  Filter,
  Keys,
  Kind,
  NostrSigner,
  ReqExitPolicy,
  Timestamp,
  loadWasmAsync,
  type Client,
  type Event as RustEvent,
} from '@rust-nostr/nostr-sdk';
import { sharedRelay } from '../helpers/fixture.js';
import { listsToml } from '../helpers/lists.js';
import { newKeys, now, type Keys as TestKeys } from '../helpers/ws-client.js';

const A = newKeys(); // may read and publish
const B = newKeys(); // an author whose events are refused
const D = newKeys(); // on no list

const relay = sharedRelay({ toml: listsToml(A.pk, B.pk) });

before(() => loadWasmAsync());

const keysOf = (k: TestKeys) => Keys.parse(Buffer.from(k.sk).toString('hex'));

/** A client on the test relay only; automatic NIP-42 authentication unless `auth` is false. */
async function clientFor(t: TestContext, k: TestKeys, auth = true): Promise<Client> {
  const client = new ClientBuilder()
    .signer(NostrSigner.keys(keysOf(k)))
    .opts(new ClientOptions().automaticAuthentication(auth))
    .build();
  t.after(() => client.shutdown());
  await client.addRelay(relay().url);
  await client.connect();
  await client.waitForConnection(Duration.fromSecs(5));
  return client;
}

/** What a caller of sendEvent learns: 'accepted', or the per-relay errors. */
async function publishReason(client: Client, event: RustEvent): Promise<string> {
  const out = await client.sendEvent(event);
  if (out.success.length > 0) return 'accepted';
  return out.failed.map((f) => f.error).join(' | ');
}

/** What a caller of Relay.fetchEvents learns: the rejection's message, or the number of events. */
async function fetchReason(client: Client): Promise<string> {
  const r = await client.relay(relay().url);
  try {
    const events = await r.fetchEvents(new Filter().kind(new Kind(1)).limit(1), Duration.fromSecs(5), ReqExitPolicy.exitOnEose());
    return `${events.len()} events`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const note = (k: TestKeys, content: string, createdAt = now()) =>
  EventBuilder.textNote(content).customCreatedAt(Timestamp.fromSecs(createdAt)).signWithKeys(keysOf(k));

test('rust-nostr: authenticated as a key the lists refuse, publish and REQ get restricted:', async (t) => {
  const client = await clientFor(t, D);
  assert.match(await publishReason(client, note(D, 'unlisted')), /^restricted: /);
  assert.match(await fetchReason(client), /^restricted: /);
});

test('rust-nostr: without automatic authentication, publish and REQ get auth-required:', async (t) => {
  const client = await clientFor(t, A, false);
  assert.match(await publishReason(client, note(A, 'anonymous')), /^auth-required: /);
  assert.match(await fetchReason(client), /^auth-required: /);
});

test('rust-nostr: with automatic authentication a whitelisted key publishes and reads', async (t) => {
  const client = await clientFor(t, A);
  assert.equal(await publishReason(client, note(A, 'after auth')), 'accepted');
  assert.match(await fetchReason(client), /^\d+ events$/);
});

test('rust-nostr: blocked: and invalid: answers reach the caller', async (t) => {
  const client = await clientFor(t, A);
  assert.match(await publishReason(client, note(B, 'by a refused author')), /^blocked: /);
  assert.match(await publishReason(client, note(A, 'from tomorrow', now() + 86_400)), /^invalid: /);
});

// After Client.shutdown() the WASM SDK (0.43) still holds about twenty timers that keep the process
// alive for a minute. Once every relay here is stopped, exit explicitly.
after(() => {
  setTimeout(() => process.exit(), 1_000).unref();
});
