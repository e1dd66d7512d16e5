import { createHash } from 'node:crypto';
import type { Database, Key, RootDatabase } from 'lmdb';
import { expirationOf } from '../protocol/kinds.js';
import { eventJsonString } from '../protocol/messages.js';
import type { NostrEvent } from '../protocol/types.js';

/**
 * Layout of the event store inside the LMDB environment: the sub-databases, the
 * record format and every index key. Index keys are ordered-binary arrays ending in
 * [created_at, seq] so that one reverse cursor walks an index newest first, and so a
 * range can be bounded by since/until without touching the events themselves.
 *
 * Sub-database names carry an `ev:` prefix because the gateway's side tables live in
 * the same environment and pick their own names.
 */
export const DB_NAMES = {
  events: 'ev:records', // seq -> record (see encodeRecord)
  /** Format 1 (msgpack 7-element arrays); migrated into `events` at open, then empty. */
  legacyEvents: 'ev:events',
  meta: 'ev:meta', // 'format' -> RECORD_FORMAT
  ids: 'ev:ids', // id -> seq
  created: 'ev:i_created', // [created_at, seq]
  kind: 'ev:i_kind', // [kind, created_at, seq]
  author: 'ev:i_author', // [pubkey, created_at, seq]
  authorKind: 'ev:i_author_kind', // [pubkey, kind, created_at, seq]
  tag: 'ev:i_tag', // [letter, value, created_at, seq]
  replace: 'ev:replace', // [kind, pubkey, d] -> seq of the surviving event
  expiration: 'ev:i_expiration', // [expiration, seq]
  tomb: 'ev:tomb', // [id, deleter pubkey]
  coordTomb: 'ev:coord_tomb', // [kind, pubkey, d] -> created_at of the newest deletion
  probe: 'ev:probe', // one record the writer rewrites to test for room after a failed commit
} as const;

export interface StoreDbs {
  events: Database<Buffer, number>;
  meta: Database<number, string>;
  ids: Database<number, string>;
  created: Database<Buffer, Key>;
  kind: Database<Buffer, Key>;
  author: Database<Buffer, Key>;
  authorKind: Database<Buffer, Key>;
  tag: Database<Buffer, Key>;
  replace: Database<number, Key>;
  expiration: Database<Buffer, Key>;
  tomb: Database<Buffer, Key>;
  coordTomb: Database<number, Key>;
  probe: Database<Buffer, string>;
}

/** Index entries carry all their information in the key; the value is never read. */
export const EMPTY = Buffer.alloc(0);

export function openStoreDbs(env: RootDatabase): StoreDbs {
  // Index tables use binary values so an entry costs its key plus zero bytes and
  // cursors never decode a value (we only ever call getKeys on them).
  const index = (name: string) => env.openDB<Buffer, Key>(name, { encoding: 'binary' });
  return {
    events: env.openDB<Buffer, number>(DB_NAMES.events, { encoding: 'binary' }),
    meta: env.openDB<number, string>(DB_NAMES.meta, {}),
    ids: env.openDB<number, string>(DB_NAMES.ids, {}),
    created: index(DB_NAMES.created),
    kind: index(DB_NAMES.kind),
    author: index(DB_NAMES.author),
    authorKind: index(DB_NAMES.authorKind),
    tag: index(DB_NAMES.tag),
    replace: env.openDB<number, Key>(DB_NAMES.replace, {}),
    expiration: index(DB_NAMES.expiration),
    tomb: index(DB_NAMES.tomb),
    coordTomb: env.openDB<number, Key>(DB_NAMES.coordTomb, {}),
    probe: env.openDB<Buffer, string>(DB_NAMES.probe, { encoding: 'binary' }),
  };
}

/** Upper sentinels for range bounds; no real created_at or seq comes near them. */
export const MAX_TS = 2 ** 48;
export const MIN_TS = -(2 ** 48);
export const MAX_SEQ = 2 ** 52;

/**
 * Format of `ev:records` values, kept in `ev:meta` under 'format'. 1 was the msgpack
 * 7-element array in `ev:events` (migrate.ts moves it here); a store marked with a higher
 * format than this code knows is refused at open, never read.
 */
export const RECORD_FORMAT = 2;

/**
 * A record is a small header and then the event's canonical JSON, byte for byte what is
 * served in EVENT frames (frames are built around these bytes, never re-encoded):
 *   byte 0      flags (bit 0: the event has a NIP-40 expiration)
 *   bytes 1-2   kind, uint16 big-endian (NIP-01 kinds are 0..65535, event-validate.ts checks)
 *   bytes 3-10  created_at, float64 big-endian
 *   [8 bytes    expiration, float64 big-endian, when flag bit 0]
 *   rest        UTF-8 of eventJsonString(event) (lone surrogates are refused at ingest, so the
 *               UTF-8 round trip is exact)
 * The header answers what a scan asks of most events (kind for the read rules and for
 * kinds post-filters, created_at and id for ordering, expiry) without parsing the JSON.
 */
const FLAG_EXPIRES = 1;
const HEAD = 11;

export function encodeRecord(e: NostrEvent): Buffer {
  const json = eventJsonString(e);
  const exp = expirationOf(e);
  const head = exp === undefined ? HEAD : HEAD + 8;
  // The JSON is written straight into the record: no intermediate buffer per event.
  const rec = Buffer.allocUnsafe(head + Buffer.byteLength(json, 'utf8'));
  rec[0] = exp === undefined ? 0 : FLAG_EXPIRES;
  rec.writeUInt16BE(e.kind, 1);
  rec.writeDoubleBE(e.created_at, 3);
  if (exp !== undefined) rec.writeDoubleBE(exp, HEAD);
  rec.write(json, head, 'utf8');
  return rec;
}

/** Offset of the JSON in a record. */
export function jsonStart(rec: Buffer): number {
  return (rec[0]! & FLAG_EXPIRES) !== 0 ? HEAD + 8 : HEAD;
}

export function recordKind(rec: Buffer): number {
  return rec.readUInt16BE(1);
}

export function recordCreatedAt(rec: Buffer): number {
  return rec.readDoubleBE(3);
}

export function recordExpiration(rec: Buffer): number | undefined {
  return (rec[0]! & FLAG_EXPIRES) !== 0 ? rec.readDoubleBE(HEAD) : undefined;
}

/** The event's canonical JSON bytes (a view into `rec`, no copy). */
export function recordJson(rec: Buffer): Buffer {
  return rec.subarray(jsonStart(rec));
}

export function decodeRecord(rec: Buffer): NostrEvent {
  return JSON.parse(rec.toString('utf8', jsonStart(rec))) as NostrEvent;
}

/**
 * Tag values are indexed by at most this many characters: LMDB keys are limited
 * (about 1.9 KB here) and long values are never selective prefixes anyway. A query
 * truncates its values the same way and post-filters with matchFilter, so truncation
 * can only add candidates, never lose matches.
 */
export const TAG_VALUE_MAX = 200;

export function tagIndexValue(value: string): string {
  return value.length > TAG_VALUE_MAX ? value.slice(0, TAG_VALUE_MAX) : value;
}

/**
 * The d part of a replace key. Unlike tag values it must stay exact (two different
 * d values are two different slots), so long ones are hashed instead of cut. The
 * hashed form cannot collide with another author's slot because pubkey is in the key.
 */
export function dKeyPart(d: string): string {
  return d.length > 256 ? '#' + createHash('sha256').update(d).digest('hex') : d;
}

/** Single-letter tags with a value are indexed; anything else is post-filtered. */
export function isIndexedTag(tag: string[]): boolean {
  return tag.length > 1 && tag[0]!.length === 1;
}

/**
 * Every index entry of one event, given to `fn` so insert and removal walk exactly the
 * same keys (a removal that missed a key would leave a dangling index entry).
 * The replace and expiration keys are handled by the writer (they carry values or
 * depend on the kind).
 */
export function forEachIndexKey(
  dbs: StoreDbs,
  e: NostrEvent,
  seq: number,
  fn: (db: Database<Buffer, Key>, key: Key) => void,
): void {
  const ca = e.created_at;
  fn(dbs.created, [ca, seq]);
  fn(dbs.kind, [e.kind, ca, seq]);
  fn(dbs.author, [e.pubkey, ca, seq]);
  fn(dbs.authorKind, [e.pubkey, e.kind, ca, seq]);
  for (const tag of e.tags) {
    if (isIndexedTag(tag)) fn(dbs.tag, [tag[0]!, tagIndexValue(tag[1]!), ca, seq]);
  }
}
