import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { NostrEvent } from '../protocol/types.js';

/**
 * One message of the cluster log: an accepted event, or a named operation (pipeline/apply.ts).
 * `id` names the append (JetStream's Nats-Msg-Id, so a retried append is stored once, and the
 * key the appending instance waits on); `at` is the appender's time in seconds, the only clock
 * an apply reads; `o` is the appending instance (debug view, peers). `pk` are the pubkeys the
 * publishing connection proved (NIP-42): the gateway's write rules read them.
 */
export type LogEntry =
  | { v: 1; k: 'e'; id: string; o: string; at: number; ev: NostrEvent; pk: string[] }
  | { v: 1; k: 'o'; id: string; o: string; at: number; op: string; a: unknown };

// Plain maps, no record extension: the bytes must decode the same on every instance and version.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeEntry(e: LogEntry): Uint8Array {
  return packr.pack(e);
}

/** The entry, or a string saying why these bytes are not one this version can apply. */
export function decodeEntry(data: Uint8Array): LogEntry | string {
  let e: unknown;
  try {
    e = packr.unpack(data);
  } catch {
    return 'not msgpack';
  }
  const x = e as Partial<LogEntry> | null;
  if (x === null || typeof x !== 'object') return 'not an entry';
  if (x.v !== 1) return `entry version ${String(x.v)} is not one this relay knows`;
  if (typeof x.id !== 'string' || typeof x.at !== 'number' || typeof x.o !== 'string') return 'entry without id, at or origin';
  if (x.k === 'e' && typeof x.ev === 'object' && x.ev !== null && Array.isArray(x.pk)) return x as LogEntry;
  if (x.k === 'o' && typeof x.op === 'string') return x as LogEntry;
  return `unknown entry kind ${String(x.k)}`;
}

/**
 * This process's append ids: 16 random bytes drawn once, then a counter. Unique across instances
 * and restarts (a restart draws again) as 16 random bytes each time would be, without paying a
 * randomBytes call per append.
 */
const ID_PREFIX = randomBytes(16).toString('base64url');
let idCounter = 0;

/** A fresh append id. */
export function appendId(): string {
  return `${ID_PREFIX}${(idCounter++).toString(36)}`;
}
