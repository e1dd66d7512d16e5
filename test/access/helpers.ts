/** NIP-42 helpers for the access-control tests. */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rawClient } from '../helpers/fixture.js';
import { now, signEvent, type Event, type Keys, type OkMessage, type RawClient } from '../helpers/ws-client.js';

const challenges = new WeakMap<RawClient, string>();

/** The challenge the relay sent on connect (the AUTH message is consumed once and remembered). */
export async function challengeOf(c: RawClient): Promise<string> {
  let ch = challenges.get(c);
  if (ch === undefined) {
    const m = await c.nextMatching((x) => x[0] === 'AUTH', 5_000, 'AUTH challenge');
    ch = String(m[1]);
    challenges.set(c, ch);
  }
  return ch;
}

export interface AuthFields {
  kind?: number;
  challenge?: string;
  relay?: string | null;
  created_at?: number;
}

export function authEvent(keys: Keys, challenge: string, relay: string, f: AuthFields = {}): Event {
  const tags: string[][] = [['challenge', f.challenge ?? challenge]];
  if (f.relay !== null) tags.push(['relay', f.relay ?? relay]);
  return signEvent(keys, { kind: f.kind ?? 22242, tags, created_at: f.created_at ?? now(), content: '' });
}

/** Sends ["AUTH", event] and returns the OK for it. */
export async function sendAuth(c: RawClient, event: Event | Record<string, unknown>): Promise<OkMessage> {
  c.send(['AUTH', event]);
  const id = (event as { id?: unknown }).id;
  return (await c.nextMatching((x) => x[0] === 'OK' && x[1] === id, 5_000, `OK for AUTH ${String(id)}`)) as OkMessage;
}

/** Authenticates as each of `keys` (in order) and asserts every AUTH was accepted. */
export async function authAs(c: RawClient, relayUrl: string, ...keys: Keys[]): Promise<void> {
  const ch = await challengeOf(c);
  for (const k of keys) {
    const ok = await sendAuth(c, authEvent(k, ch, relayUrl));
    assert.equal(ok[2], true, `AUTH as ${k.pk.slice(0, 8)} refused: ${JSON.stringify(ok)}`);
  }
}

/** A raw client (closed after the test) already authenticated as `keys`. */
export async function authedClient(t: TestContext, url: string, ...keys: Keys[]): Promise<RawClient> {
  const c = await rawClient(t, url);
  await authAs(c, url, ...keys);
  return c;
}

/** Raw HTTP status of a WebSocket upgrade attempt (the ws client only says "Unexpected server response: N"). */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const { default: WebSocket } = await import('ws');
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade at ${url} within 5 s`));
    }, 5_000);
    ws.once('open', () => {
      clearTimeout(timer);
      // Resolved once closed, so a loop of upgrades never holds more than one connection.
      ws.once('close', () => resolve(101));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode ?? 0);
      _req.destroy();
    });
    // 'on', not 'once': a late error after the answer must not go unhandled.
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export const xff = (value: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': value } });
