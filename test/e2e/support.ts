/** Shared pieces of the e2e suites: gateway relay config, authenticated connections, REST clients. */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { buildAuthEvent, MlsRestClient, toHex } from '../../src/client/index.js';
import { rawClient } from '../helpers/fixture.js';
import type { RelayHandle } from '../helpers/relay-process.js';
import type { Keys, RawClient, ReqResult } from '../helpers/ws-client.js';

export interface GatewayConfig {
  admins: string[];
  groupPolicy?: 'roster' | 'members' | 'authenticated' | 'open';
  auth?: boolean;
  /** Extra lines appended inside [extensions.mls_gateway]. */
  gatewayExtra?: string;
}

export function gatewayToml(c: GatewayConfig): string {
  return [
    '[auth]',
    `enabled = ${c.auth ?? true}`,
    '[extensions.mls_gateway]',
    'enabled = true',
    `admin_pubkeys = [${c.admins.map((a) => JSON.stringify(a)).join(', ')}]`,
    `group_policy = "${c.groupPolicy ?? 'members'}"`,
    'membership_from_giftwrap = true',
    // Tests publish more KeyPackages than the default cap of 15.
    'max_keypackages_per_user = 100',
    c.gatewayExtra ?? '',
    '',
  ].join('\n');
}

/** A connection that has completed NIP-42 for every key given (none: stays unauthenticated). */
export async function connectAs(t: TestContext, relay: RelayHandle, keys: Keys[]): Promise<RawClient> {
  const c = await rawClient(t, relay.url);
  const challenge = await c.nextMatching((m) => m[0] === 'AUTH' && typeof m[1] === 'string', 5_000, 'AUTH challenge');
  for (const k of keys) {
    const ev = buildAuthEvent(k.sk, challenge[1] as string, relay.url);
    c.send(['AUTH', ev]);
    const ok = await c.nextMatching((m) => m[0] === 'OK' && m[1] === ev.id, 5_000, `OK for AUTH of ${k.pk.slice(0, 8)}`);
    assert.equal(ok[2], true, `AUTH refused: ${JSON.stringify(ok)}`);
  }
  return c;
}

export function rest(relay: RelayHandle, keys?: Keys): MlsRestClient {
  return new MlsRestClient({ baseUrl: relay.httpUrl, secretKey: keys?.sk });
}

export function randomGroupId(): string {
  return toHex(randomBytes(32));
}

/** A fresh subscription id; the relay caps their length. */
let subCounter = 0;
export function subId(prefix: string): string {
  return `${prefix.slice(0, 40)}-${++subCounter}`;
}

/** Every event id this connection has been sent in an EVENT frame, on any subscription. */
export function deliveredIds(c: RawClient): Set<string> {
  const out = new Set<string>();
  for (const m of c.messages) if (m[0] === 'EVENT' && m[2] && typeof (m[2] as { id?: unknown }).id === 'string') out.add((m[2] as { id: string }).id);
  return out;
}

export function short(pk: string): string {
  return pk.slice(0, 8);
}

/** A REQ that is closed after EOSE, so one-off queries do not pile up against max_subscriptions. */
export async function reqOnce(c: RawClient, prefix: string, ...filters: Array<Record<string, unknown>>): Promise<ReqResult> {
  const id = subId(prefix);
  const r = await c.req(id, ...filters);
  if (r.eose) c.closeSub(id);
  return r;
}
