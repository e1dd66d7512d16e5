/**
 * Signed-event helpers for protocol tests (nostr-tools).
 *
 * Signing and verifying use nostr-tools' wasm backend (nostr-wasm, a dependency of
 * the project): pure-JS Schnorr costs ~5 ms per signature on a small CI box, which
 * would dominate the load tests. Falls back to the pure-JS functions if the wasm
 * module cannot be initialised.
 */
import * as pure from 'nostr-tools/pure';
import type { Event } from 'nostr-tools/pure';
import * as wasm from 'nostr-tools/wasm';

type Backend = {
  finalizeEvent: typeof pure.finalizeEvent;
  generateSecretKey: typeof pure.generateSecretKey;
  getPublicKey: typeof pure.getPublicKey;
  verifyEvent: (e: Event) => boolean;
};

async function pickBackend(): Promise<Backend> {
  try {
    const { initNostrWasm } = await import('nostr-wasm');
    wasm.setNostrWasm(await initNostrWasm());
    return wasm;
  } catch {
    return pure;
  }
}

const backend = await pickBackend();
const { finalizeEvent, generateSecretKey, getPublicKey } = backend;

/**
 * Checks id and signature of an event received from the relay. Works on a copy of
 * the wire fields: nostr-tools caches a "verified" symbol on the object it checks.
 */
export function verifySignedEvent(e: Event): boolean {
  const { id, pubkey, created_at, kind, tags, content, sig } = e;
  return backend.verifyEvent({ id, pubkey, created_at, kind, tags, content, sig });
}

export type { Event };

export interface Keys {
  sk: Uint8Array;
  pk: string;
}

export function newKeys(): Keys {
  const sk = generateSecretKey();
  return { sk, pk: getPublicKey(sk) };
}

/** Current unix time in seconds. */
export function now(): number {
  return Math.floor(Date.now() / 1000);
}

export interface EventFields {
  kind?: number;
  content?: string;
  tags?: string[][];
  created_at?: number;
}

/** A signed event (kind 1, now, empty content and tags unless given). */
export function signEvent(keys: Keys | Uint8Array, fields: EventFields = {}): Event {
  const sk = keys instanceof Uint8Array ? keys : keys.sk;
  return finalizeEvent(
    {
      kind: fields.kind ?? 1,
      content: fields.content ?? '',
      tags: fields.tags ?? [],
      created_at: fields.created_at ?? now(),
    },
    sk,
  );
}

/** Flips one hex digit of a hex string at position `i` (keeps it valid hex, changes the value). */
export function flipHex(hex: string, i = 0): string {
  const c = hex[i];
  const repl = c === '0' ? '1' : '0';
  return hex.slice(0, i) + repl + hex.slice(i + 1);
}

/**
 * Events with distinct, strictly decreasing created_at (base, base-1, ...), so the
 * expected newest-first order is the creation order.
 */
export function eventSeries(keys: Keys, n: number, fields: EventFields & { base?: number } = {}): Event[] {
  const base = fields.base ?? now() - 10;
  const out: Event[] = [];
  for (let i = 0; i < n; i++) {
    out.push(signEvent(keys, { ...fields, created_at: base - i, content: fields.content ?? `event ${i}` }));
  }
  return out;
}

/** NIP-01 order: created_at descending, ties by id ascending. */
export function nip01Order(a: Event, b: Event): number {
  if (a.created_at !== b.created_at) return b.created_at - a.created_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The event's wire fields only (drops nostr-tools' verified symbol), for deepEqual. */
export function plain<T>(e: T): T {
  return JSON.parse(JSON.stringify(e)) as T;
}
