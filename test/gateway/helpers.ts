/** Shared pieces of the gateway suites: authenticated raw clients, NIP-98 calls, MLS-kind events. */
import { createHash } from 'node:crypto';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rawClient } from '../helpers/fixture.js';
import { newKeys, now, signEvent, type Event, type Keys } from '../helpers/events.js';
import type { RawClient } from '../helpers/ws-client.js';
import type { RelayHandle } from '../helpers/relay-process.js';
import { pooledKeyPackage } from '../helpers/mls-keypackages.js';

export { newKeys, now, signEvent, type Event, type Keys };

/** Connects and authenticates (NIP-42) as every key given; no keys = anonymous. */
export async function client(t: TestContext, relay: RelayHandle, ...keys: Keys[]): Promise<RawClient> {
  const c = await rawClient(t, relay.url);
  const auth = await c.nextMatching((m) => m[0] === 'AUTH', 5000, 'AUTH challenge');
  const challenge = auth[1] as string;
  for (const k of keys) {
    const ev = signEvent(k, { kind: 22242, tags: [['relay', relay.url], ['challenge', challenge]] });
    c.send(['AUTH', ev]);
    const ok = await c.nextMatching((m) => m[0] === 'OK' && m[1] === ev.id, 5000, 'AUTH OK');
    assert.equal(ok[2], true, `AUTH refused: ${JSON.stringify(ok)}`);
  }
  return c;
}

export function nip98(keys: Keys, method: string, url: string, body?: string, fields: { created_at?: number; tags?: string[][] } = {}): string {
  const tags = fields.tags ?? [
    ['u', url],
    ['method', method],
    ...(body !== undefined && body.length > 0 ? [['payload', createHash('sha256').update(body).digest('hex')]] : []),
  ];
  const ev = signEvent(keys, { kind: 27235, tags, created_at: fields.created_at });
  return 'Nostr ' + Buffer.from(JSON.stringify(ev)).toString('base64');
}

export interface ApiResult {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One REST call with a valid NIP-98 header for `keys` (none: no header). */
export async function api(relay: RelayHandle, keys: Keys | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult> {
  const url = `${relay.httpUrl}/api/v1${path}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const h: Record<string, string> = { ...headers };
  if (keys && !h.authorization) h.authorization = nip98(keys, method, url, text);
  if (text !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers: h, body: text, signal: AbortSignal.timeout(5000) });
  const raw = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    assert.fail(`response to ${method} ${path} is not JSON: ${raw}`);
  }
  return { status: res.status, json };
}

export const b64 = (s: string) => Buffer.from(s).toString('base64');

let counter = 0;
/** A 443 KeyPackage (genuine ts-mls content unless given) with a unique key ref unless given. */
export function keyPackage(keys: Keys, extra: string[][] = [], fields: { kind?: number; content?: string; created_at?: number } = {}): Event {
  counter++;
  const tags = extra.some((t) => t[0] === 'kpr' || t[0] === 'i') ? extra : [['kpr', `ref-${keys.pk.slice(0, 8)}-${counter}-${Math.random()}`], ...extra];
  return signEvent(keys, {
    kind: fields.kind ?? 443,
    content: fields.content ?? pooledKeyPackage(),
    tags: [['cs', '0x0001'], ['mls_ver', '1.0'], ...tags],
    created_at: fields.created_at,
  });
}

export function roster(keys: Keys, group: string, seq: number, op: string, members: string[] = [], extra: string[][] = []): Event {
  return signEvent(keys, {
    kind: 450,
    tags: [['h', group], ['seq', String(seq)], ['op', op], ...members.map((m) => ['p', m]), ...extra],
  });
}

/** A 445 signed by a fresh one-shot key, as MLS clients do. */
export function groupMessage(group: string, epoch?: number, content = b64('ciphertext')): Event {
  return signEvent(newKeys(), { kind: 445, content, tags: [['h', group], ...(epoch !== undefined ? [['k', String(epoch)]] : [])] });
}

/** A 445 that declares itself a Commit created in `epoch` (["mls_commit", epoch]). */
export function commitMessage(group: string, epoch: number, content = b64('commit')): Event {
  return signEvent(newKeys(), { kind: 445, content, tags: [['h', group], ['mls_commit', String(epoch)]] });
}

export function giftWrap(recipient: string, group?: string): Event {
  return signEvent(newKeys(), { kind: 1059, content: b64('sealed'), tags: [['p', recipient], ...(group ? [['h', group]] : [])] });
}

export function randomGroup(): string {
  return createHash('sha256').update(String(Math.random())).digest('hex');
}

export async function publishOk(c: RawClient, e: Event): Promise<void> {
  const ok = await c.publish(e);
  assert.equal(ok[2], true, `expected OK true for kind ${e.kind}: ${JSON.stringify(ok)}`);
}

export async function publishRejected(c: RawClient, e: Event, prefix: string): Promise<string> {
  const ok = await c.publish(e);
  assert.equal(ok[2], false, `expected OK false for kind ${e.kind}: ${JSON.stringify(ok)}`);
  assert.ok(String(ok[3]).startsWith(prefix), `expected "${prefix}..." got ${JSON.stringify(ok[3])}`);
  return ok[3];
}

/** TOML for a gateway relay; `admins` become admin_pubkeys. */
export function gatewayToml(admins: Keys[], extra = ''): string {
  return `
[extensions.mls_gateway]
enabled = true
admin_pubkeys = [${admins.map((a) => `"${a.pk}"`).join(', ')}]
${extra}
`;
}

export const ids = (events: Array<{ id: string }>) => events.map((e) => e.id).sort();
