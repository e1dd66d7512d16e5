import type { NostrEvent } from './types.js';

/** NIP-01: the newest event per (kind, pubkey) is kept. */
export function isReplaceable(kind: number): boolean {
  return kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000);
}

/** NIP-01: the newest event per (kind, pubkey, d) is kept. */
export function isAddressable(kind: number): boolean {
  return kind >= 30000 && kind < 40000;
}

/** NIP-01: relayed to live subscribers, never stored. */
export function isEphemeral(kind: number): boolean {
  return kind >= 20000 && kind < 30000;
}

/** NIP-01: the value of the first `d` tag; a missing tag or value counts as "". */
export function dTag(event: Pick<NostrEvent, 'tags'>): string {
  for (const tag of event.tags) {
    if (tag[0] === 'd') return tag[1] ?? '';
  }
  return '';
}

const DIGITS = /^\d+$/;

/**
 * NIP-40 expiry in unix seconds from the first `expiration` tag, or undefined when
 * there is none or its value is not a plain non-negative integer (the validator
 * rejects the latter; everything downstream can then treat undefined as "never").
 */
export function expirationOf(event: Pick<NostrEvent, 'tags'>): number | undefined {
  for (const tag of event.tags) {
    if (tag[0] === 'expiration') {
      const v = tag[1];
      if (v === undefined || !DIGITS.test(v)) return undefined;
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : undefined;
    }
  }
  return undefined;
}

/** NIP-70: a tag that is exactly ["-"] marks the event as publishable only by its author. */
export function isProtected(event: Pick<NostrEvent, 'tags'>): boolean {
  for (const tag of event.tags) {
    if (tag.length === 1 && tag[0] === '-') return true;
  }
  return false;
}

/**
 * The key under which only the newest event survives, in NIP-01 `a`-tag coordinate
 * form (`kind:pubkey:d`, with an empty d for replaceable kinds) so a NIP-09 deletion by
 * `a` tag looks up the same string. undefined for kinds that are not replaced.
 */
export function replaceKey(event: Pick<NostrEvent, 'kind' | 'pubkey' | 'tags'>): string | undefined {
  if (isReplaceable(event.kind)) return `${event.kind}:${event.pubkey}:`;
  if (isAddressable(event.kind)) return `${event.kind}:${event.pubkey}:${dTag(event)}`;
  return undefined;
}
