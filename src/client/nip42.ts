/** NIP-42 client side: the kind 22242 AUTH event and a send-and-wait-for-OK flow. */
import type { NostrEvent } from '../protocol/types.js';
import { KIND } from './kinds.js';
import { signEvent } from './sign.js';

export function buildAuthEvent(sk: Uint8Array, challenge: string, relayUrl: string, created_at?: number): NostrEvent {
  return signEvent(sk, { kind: KIND.AUTH, content: '', tags: [['relay', relayUrl], ['challenge', challenge]], created_at });
}

/**
 * The part of a WebSocket (WHATWG, or the `ws` package) this flow needs. Listeners are
 * added and removed, so the caller's own message handling is never disturbed.
 */
export interface AuthSocket {
  send(data: string): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

export interface AuthenticateOptions {
  relayUrl: string;
  /** The challenge if already received; otherwise the next ["AUTH", challenge] is awaited. */
  challenge?: string;
  timeoutMs?: number;
}

function parse(data: unknown): unknown[] | undefined {
  try {
    const m = JSON.parse(typeof data === 'string' ? data : String(data));
    return Array.isArray(m) ? m : undefined;
  } catch {
    return undefined;
  }
}

function waitFor<T>(ws: AuthSocket, pick: (m: unknown[]) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (ev: { data: unknown }) => {
      const m = parse(ev.data);
      const v = m && pick(m);
      if (v === undefined) return;
      clearTimeout(timer);
      ws.removeEventListener('message', listener);
      resolve(v);
    };
    const timer = setTimeout(() => {
      ws.removeEventListener('message', listener);
      reject(new Error(`NIP-42: no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.addEventListener('message', listener);
  });
}

/**
 * Authenticates every key in `keys` on one connection (a device may hold several identities).
 * Resolves with the authenticated pubkeys; rejects with the relay's reason on `OK false`.
 */
export async function authenticate(ws: AuthSocket, keys: Uint8Array[], o: AuthenticateOptions): Promise<string[]> {
  const timeoutMs = o.timeoutMs ?? 5_000;
  const challenge =
    o.challenge ?? (await waitFor(ws, (m) => (m[0] === 'AUTH' && typeof m[1] === 'string' ? m[1] : undefined), timeoutMs, 'AUTH challenge'));
  const done: string[] = [];
  for (const sk of keys) {
    const ev = buildAuthEvent(sk, challenge, o.relayUrl);
    const ok = waitFor(ws, (m) => (m[0] === 'OK' && m[1] === ev.id ? m : undefined), timeoutMs, `OK for AUTH ${ev.id}`);
    ws.send(JSON.stringify(['AUTH', ev]));
    const m = await ok;
    if (m[2] !== true) throw new Error(`NIP-42: relay refused AUTH for ${ev.pubkey}: ${String(m[3])}`);
    done.push(ev.pubkey);
  }
  return done;
}
