/** Signing with nostr-tools; every builder ends here so ids and signatures are always NIP-01 correct. */
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { NostrEvent } from '../protocol/types.js';

export interface EventTemplate {
  kind: number;
  content: string;
  tags: string[][];
  created_at?: number;
}

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

export function signEvent(sk: Uint8Array, t: EventTemplate): NostrEvent {
  const e = finalizeEvent({ kind: t.kind, content: t.content, tags: t.tags, created_at: t.created_at ?? nowSec() }, sk);
  // A plain copy: finalizeEvent tags the object with a "verified" symbol that would
  // make later verification of a tampered copy trust the cached result.
  const { id, pubkey, created_at, kind, tags, content, sig } = e;
  return { id, pubkey, created_at, kind, tags, content, sig };
}

/** A fresh key used for exactly one event (445 senders, gift wraps) so the relay cannot link them. */
export function oneShotKey(): Uint8Array {
  return generateSecretKey();
}

export function publicKeyOf(sk: Uint8Array): string {
  return getPublicKey(sk);
}

export { generateSecretKey };
