/** node:test glue: one relay per test file, clients closed after each test. */
import { after, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Relay } from 'nostr-tools/relay';
import { SimplePool } from 'nostr-tools/pool';
import { startRelay, type RelayHandle, type StartRelayOptions } from './relay-process.js';
import { RawClient, type ConnectOptions, useWsForNostrTools } from './ws-client.js';

useWsForNostrTools();

/** Stops a relay and asserts it exited 0 after SIGTERM (stderr tail in the message otherwise). */
export async function stopRelay(relay: RelayHandle): Promise<void> {
  const code = await relay.stop();
  assert.equal(code, 0, `relay exited with code ${code} after SIGTERM\n--- stderr ---\n${relay.stderr.slice(-30).join('\n')}`);
}

/**
 * Registers before/after hooks starting one relay for the whole file.
 * Returns an accessor (the relay exists only once `before` ran).
 */
export function sharedRelay(opts: StartRelayOptions = {}): () => RelayHandle {
  let relay: RelayHandle | undefined;
  before(async () => {
    relay = await startRelay(opts);
  });
  after(async () => {
    if (relay) await stopRelay(relay);
  });
  return () => {
    if (!relay) throw new Error('relay not started (before hook failed?)');
    relay.assertAlive();
    return relay;
  };
}

/** A raw client closed (and checked for invalid relay messages) when the test ends. */
export async function rawClient(t: TestContext, url: string, opts?: ConnectOptions): Promise<RawClient> {
  const c = await RawClient.connect(url, opts);
  t.after(() => c.close());
  return c;
}

/** A nostr-tools Relay closed when the test ends. */
export async function ntRelay(t: TestContext, url: string): Promise<Relay> {
  const r = await Relay.connect(url);
  t.after(() => r.close());
  return r;
}

/** A nostr-tools SimplePool destroyed when the test ends. */
export function ntPool(t: TestContext): SimplePool {
  const p = new SimplePool();
  t.after(() => p.destroy());
  return p;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Asserts an OK message: accepted flag and (optionally) the reason's prefix. */
export function assertOk(ok: unknown[], accepted: boolean, prefix?: string | RegExp): void {
  assert.equal(ok[0], 'OK');
  assert.equal(ok[2], accepted, `expected OK ${accepted}, got ${JSON.stringify(ok)}`);
  if (!accepted) assert.match(String(ok[3]), STANDARD_PREFIX, `OK false must carry a standard prefix: ${JSON.stringify(ok)}`);
  if (prefix !== undefined) {
    const msg = String(ok[3]);
    if (typeof prefix === 'string') assert.ok(msg.startsWith(prefix), `expected OK message starting with ${JSON.stringify(prefix)}, got ${JSON.stringify(ok)}`);
    else assert.match(msg, prefix, `OK message ${JSON.stringify(ok)}`);
  }
}

/** NIP-01 machine-readable prefixes. */
export const STANDARD_PREFIX = /^(duplicate|pow|blocked|rate-limited|invalid|restricted|auth-required|error|mute|unsupported): ./;
