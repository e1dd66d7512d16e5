import { createHash } from 'node:crypto';
import { expirationOf } from './kinds.js';
import type { NostrEvent } from './types.js';

export interface EventLimits {
  maxEventTags: number;
  /** Seconds an event may be older than now; Infinity disables the check. */
  maxOlderSec: number;
  /** Seconds an event may be ahead of now; Infinity disables the check. */
  maxNewerSec: number;
}

export type EventValidation =
  | { ok: true; event: NostrEvent }
  | { ok: false; id?: string; reason: string };

/** String.prototype.isWellFormed (ES2024, Node 20+); the compile target's lib predates it. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/**
 * Cheap structural checks of a client-supplied event, run before the duplicate
 * lookup and the (costly) id/signature check in the verify pool. The returned event
 * is a fresh object with exactly the seven NIP-01 fields, so unknown client fields
 * never reach storage or other subscribers.
 */
export function validateEvent(raw: unknown, limits: EventLimits, nowSec: number): EventValidation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'invalid: event must be a JSON object' };
  }
  const r = raw as Record<string, unknown>;
  // Known as soon as it is well-formed, so even a rejection can be answered with OK <id> false.
  const id = typeof r.id === 'string' && HEX64.test(r.id) ? r.id : undefined;
  const bad = (reason: string): EventValidation => (id === undefined ? { ok: false, reason } : { ok: false, id, reason });

  if (id === undefined) return bad('invalid: id must be 64 lowercase hex characters');
  if (typeof r.pubkey !== 'string' || !HEX64.test(r.pubkey)) return bad('invalid: pubkey must be 64 lowercase hex characters');
  if (typeof r.sig !== 'string' || !HEX128.test(r.sig)) return bad('invalid: sig must be 128 lowercase hex characters');
  const createdAt = r.created_at;
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) {
    return bad('invalid: created_at must be a non-negative integer');
  }
  const kind = r.kind;
  if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 65535) {
    return bad('invalid: kind must be an integer between 0 and 65535');
  }
  if (typeof r.content !== 'string') return bad('invalid: content must be a string');
  // A lone UTF-16 surrogate is not a Unicode scalar value: storage (msgpack, UTF-8) would
  // turn it into U+FFFD and what we serve later would no longer match its id or signature.
  // Whatever is acknowledged must be served byte for byte, so such a string is refused.
  if (!isWellFormed(r.content)) return bad('invalid: content holds a lone UTF-16 surrogate (not valid Unicode)');
  const tags = r.tags;
  if (!Array.isArray(tags)) return bad('invalid: tags must be an array');
  // Counted before the per-tag walk so an oversized list is refused without touching it.
  if (tags.length > limits.maxEventTags) return bad(`invalid: too many tags (max ${limits.maxEventTags})`);
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i];
    if (!Array.isArray(tag)) return bad(`invalid: tags[${i}] must be an array`);
    // NIP-01: "each tag is an array of one or more strings".
    if (tag.length === 0) return bad(`invalid: tags[${i}] must not be empty`);
    for (let j = 0; j < tag.length; j++) {
      const v: unknown = tag[j];
      if (typeof v !== 'string') return bad(`invalid: tags[${i}][${j}] must be a string`);
      if (!isWellFormed(v)) return bad(`invalid: tags[${i}][${j}] holds a lone UTF-16 surrogate (not valid Unicode)`);
    }
  }

  if (createdAt < nowSec - limits.maxOlderSec) {
    return bad(`invalid: created_at is too old (more than ${limits.maxOlderSec} seconds before now)`);
  }
  if (createdAt > nowSec + limits.maxNewerSec) {
    return bad(`invalid: created_at is too far in the future (more than ${limits.maxNewerSec} seconds after now)`);
  }

  const event: NostrEvent = {
    id,
    pubkey: r.pubkey,
    created_at: createdAt,
    kind,
    tags: tags as string[][],
    content: r.content,
    sig: r.sig,
  };

  const exp = expirationOf(event);
  if (exp === undefined) {
    // expirationOf answers undefined for a malformed value too; storing such an event as
    // "never expires" would silently break the author's intent, so it is refused instead.
    if (event.tags.some((t) => t[0] === 'expiration')) {
      return bad('invalid: expiration tag must hold a unix timestamp in seconds');
    }
  } else if (exp <= nowSec) {
    return bad('invalid: event has expired');
  }
  return { ok: true, event };
}

/**
 * NIP-01 id preimage. JSON.stringify escapes exactly what NIP-01 prescribes
 * (\" \\ \n \r \t \b \f and other control chars as \u00XX, everything else verbatim),
 * which is also what nostr-tools and other clients use.
 */
export function serializeForId(event: Pick<NostrEvent, 'pubkey' | 'created_at' | 'kind' | 'tags' | 'content'>): string {
  return JSON.stringify([0, event.pubkey, event.created_at, event.kind, event.tags, event.content]);
}

/** Lowercase hex sha256 of the NIP-01 serialization. */
export function computeEventId(event: Pick<NostrEvent, 'pubkey' | 'created_at' | 'kind' | 'tags' | 'content'>): string {
  return createHash('sha256').update(serializeForId(event), 'utf8').digest('hex');
}
