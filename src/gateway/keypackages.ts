import type { NostrEvent } from '../protocol/types.js';
import { WriteRejection } from '../storage/writer.js';
import { decimal, decodesAs, firstTag, tagValues } from './tags.js';
import { ONE, type GatewayTables, type KpRecord } from './tables.js';
import { dTag } from '../protocol/kinds.js';
import { deviceOf } from './devices.js';
import { parseSuite, type KeyPackageFacts } from './mls-keypackage.js';

const KEY_END = '\uffff';
const MAX_TS = Number.MAX_SAFE_INTEGER;

export const isKeyPackageKind = (k: number): boolean => k === 443 || k === 30443;

const keyRefOf = (e: NostrEvent) => firstTag(e, 'kpr', 'i');
const suiteOf = (e: NostrEvent) => firstTag(e, 'cs', 'ciphersuite', 'mls_ciphersuite');

/** Stock expiry: `exp` when given, clamped to now + keypackage_ttl and to the leaf node's not_after. */
export function expiryOf(e: NostrEvent, ttlSec: number, now: number, notAfter = Number.MAX_SAFE_INTEGER): number {
  const exp = decimal(firstTag(e, 'exp'));
  const cap = Math.min(now + ttlSec, notAfter);
  return exp === undefined ? cap : Math.min(exp, cap);
}

export function stockFullMessage(owner: string, max: number): string {
  return `blocked: keypackage stock of ${owner} is full (max ${max})`;
}

/** Read-only checks of a 443/30443 before it is written (the duplicate check repeats in the transaction). */
export function checkKeyPackage(t: GatewayTables, e: NostrEvent, now: number, max: number): string | undefined {
  const k = e.kind;
  if (k === 30443 && !e.tags.some((tag) => tag[0] === 'd')) return 'invalid: kind 30443 needs a d tag';
  const owners = tagValues(e, 'p');
  if (owners.some((p) => p !== e.pubkey)) return `invalid: the p tag of a kind ${k} KeyPackage must equal its author`;
  const encoding = firstTag(e, 'encoding') ?? 'base64';
  if (encoding !== 'base64' && encoding !== 'hex') return 'invalid: encoding must be "base64" or "hex"';
  if (!decodesAs(e.content, encoding)) return `invalid: KeyPackage content must be non-empty ${encoding}`;
  const expRaw = firstTag(e, 'exp');
  if (expRaw !== undefined) {
    const exp = decimal(expRaw);
    if (exp === undefined) return 'invalid: exp must be a unix timestamp in seconds';
    if (exp <= now) return 'invalid: KeyPackage exp is in the past';
  }
  const device = deviceOf(e);
  if ('error' in device) return device.error;
  if (firstTag(e, 'single_use') !== undefined && firstTag(e, 'single_use') !== '1') return 'invalid: single_use tag must be "1"';
  return duplicateRef(t, e, now) ?? stockFull(t, e, now, max);
}

/**
 * The cap is a refusal, never a silent prune: an owner over it gets OK false and clears room
 * by deleting (NIP-09) or by claims; a 30443 replacing a KeyPackage of its own coordinate
 * takes that one's place and always fits.
 */
function stockFull(t: GatewayTables, e: NostrEvent, now: number, max: number): string | undefined {
  const stock = stockOf(t, e.pubkey, now);
  if (stock.length < max) return undefined;
  if (e.kind === 30443) {
    const prev = t.kpAddr.get([e.pubkey, dTag(e)]);
    if (prev !== undefined && stock.some((r) => r.id === prev)) return undefined;
  }
  return stockFullMessage(e.pubkey, max);
}

function duplicateRef(t: GatewayTables, e: NostrEvent, now: number): string | undefined {
  const ref = keyRefOf(e);
  if (ref === undefined) return undefined;
  const seen = t.kpRef.get([e.pubkey, ref]);
  if (seen === undefined || seen.expires_at <= now || seen.id === e.id) return undefined;
  // A 30443 replacing its own coordinate may carry the same key ref again.
  if (e.kind === 30443 && t.kpAddr.get([e.pubkey, dTag(e)]) === seen.id) return undefined;
  return 'duplicate: a KeyPackage with this key ref (kpr/i) already exists for this owner';
}

export function removeFromStock(t: GatewayTables, id: string): KpRecord | undefined {
  const r = t.kp.get(id);
  if (r === undefined) return undefined;
  t.kp.removeSync(id);
  t.kpOwner.removeSync([r.owner, r.created_at, id]);
  t.kpExp.removeSync([r.expires_at, id]);
  if (r.d !== null && t.kpAddr.get([r.owner, r.d]) === id) t.kpAddr.removeSync([r.owner, r.d]);
  return r;
}

/** Forget the key ref too (deletion, expiry); consumed KeyPackages keep theirs until expiry. */
function forgetRef(t: GatewayTables, r: KpRecord): void {
  if (r.key_ref === null) return;
  const seen = t.kpRef.get([r.owner, r.key_ref]);
  if (seen?.id === r.id) t.kpRef.removeSync([r.owner, r.key_ref]);
}

export function stockIds(t: GatewayTables, owner: string): string[] {
  const ids: string[] = [];
  for (const k of t.kpOwner.getKeys({ start: [owner], end: [owner, MAX_TS] })) ids.push((k as [string, number, string])[2]);
  return ids;
}

/** Unexpired stock of an owner, oldest first. */
export function stockOf(t: GatewayTables, owner: string, now: number): KpRecord[] {
  const out: KpRecord[] = [];
  for (const id of stockIds(t, owner)) {
    const r = t.kp.get(id);
    if (r !== undefined && r.expires_at > now) out.push(r);
  }
  return out;
}

export function inStock(t: GatewayTables, id: string, now: number): boolean {
  const r = t.kp.get(id);
  return r !== undefined && r.expires_at > now;
}

/**
 * Inside the event's write transaction: add to the stock (facts from the verified
 * KeyPackage), replacing the previous 30443 of the same coordinate. Refuses (WriteRejection)
 * a duplicate key ref or an owner whose stock is at `max`, decided here where writes are
 * serialized so racing publishes cannot overshoot it.
 */
export function addToStock(t: GatewayTables, e: NostrEvent, facts: KeyPackageFacts | undefined, ttlSec: number, max: number, now: number): void {
  const dup = duplicateRef(t, e, now) ?? stockFull(t, e, now, max);
  if (dup !== undefined) throw new WriteRejection(dup);
  const d = e.kind === 30443 ? dTag(e) : null;
  if (d !== null) {
    const prev = t.kpAddr.get([e.pubkey, d]);
    if (prev !== undefined) {
      const old = removeFromStock(t, prev);
      if (old) forgetRef(t, old);
    }
  }
  const device = deviceOf(e);
  const rec: KpRecord = {
    id: e.id,
    owner: e.pubkey,
    kind: e.kind,
    ciphersuite: suiteOf(e) ?? null,
    key_ref: keyRefOf(e) ?? null,
    d,
    created_at: e.created_at,
    expires_at: expiryOf(e, ttlSec, now, facts?.notAfter),
    suite: facts?.suite ?? null,
    device: 'device' in device ? device.device : null,
    last_resort: facts?.lastResort ?? false,
    single_use: firstTag(e, 'single_use') === '1',
  };
  t.kp.putSync(rec.id, rec);
  t.kpOwner.putSync([rec.owner, rec.created_at, rec.id], ONE);
  t.kpExp.putSync([rec.expires_at, rec.id], ONE);
  if (d !== null) t.kpAddr.putSync([rec.owner, d], rec.id);
  if (rec.key_ref !== null) t.kpRef.putSync([rec.owner, rec.key_ref], { id: rec.id, expires_at: rec.expires_at });
}

/** NIP-09 by the owner: `e` ids and 30443 `a` coordinates leave the stock in the deletion's transaction. */
export function applyKeyPackageDeletion(t: GatewayTables, del: NostrEvent): number {
  let n = 0;
  for (const tag of del.tags) {
    const v = tag[1];
    if (v === undefined) continue;
    let id: string | undefined;
    if (tag[0] === 'e') id = v;
    else if (tag[0] === 'a' && v.startsWith(`30443:${del.pubkey}:`)) id = t.kpAddr.get([del.pubkey, v.slice(`30443:${del.pubkey}:`.length)]);
    if (id === undefined) continue;
    const r = t.kp.get(id);
    if (r === undefined || r.owner !== del.pubkey) continue;
    removeFromStock(t, id);
    forgetRef(t, r);
    n++;
  }
  return n;
}

/** Whether a kind 5 could name a KeyPackage (an `e` target, or one of its author's 30443 addresses); the stock is not read. */
export function mayReferenceKeyPackage(del: NostrEvent): boolean {
  for (const tag of del.tags) {
    if (tag[0] === 'e' && tag[1] !== undefined) return true;
    if (tag[0] === 'a' && tag[1]?.startsWith(`30443:${del.pubkey}:`)) return true;
  }
  return false;
}

export interface Claimed {
  record: KpRecord;
  /** Handed out and kept in the stock (not consumed). */
  lastResort: boolean;
  /** KeyPackages left that match the same request (same device for per-device claims). */
  remaining: number;
}

/** What a claim asks for; every field narrows the owner's stock. */
export interface ClaimWant {
  suite?: number;
  id?: string;
  /** A device id, or null for the default device (KeyPackages without a device tag). */
  device?: string | null;
}

export const suiteOfRecord = (r: KpRecord): number | undefined => r.suite ?? (r.ciphersuite === null ? undefined : parseSuite(r.ciphersuite));
export const deviceOfRecord = (r: KpRecord): string | null => r.device ?? null;

function matches(r: KpRecord, want: ClaimWant): boolean {
  if (want.id !== undefined && r.id !== want.id) return false;
  if (want.suite !== undefined && suiteOfRecord(r) !== want.suite) return false;
  if (want.device !== undefined && deviceOfRecord(r) !== want.device) return false;
  return true;
}

/**
 * Whether handing out `r` consumes it, judged within its device's stock: a KeyPackage with
 * the last_resort extension never is; any other is when some KeyPackage of the device is
 * marked (last_resort or single_use); only a device whose KeyPackages carry neither mark
 * keeps the old rule, where its last KeyPackage is handed out but kept.
 */
function consumes(r: KpRecord, deviceStock: readonly KpRecord[]): boolean {
  if (r.last_resort) return false;
  if (deviceStock.some((x) => x.last_resort || x.single_use)) return true;
  return deviceStock.length > 1;
}

/** The owner's live stock (entries whose event left the store are dropped on the way). */
function liveStock(t: GatewayTables, owner: string, now: number, exists: (id: string) => boolean): KpRecord[] {
  const out: KpRecord[] = [];
  for (const r of stockOf(t, owner, now)) {
    if (exists(r.id)) out.push(r);
    else {
      removeFromStock(t, r.id);
      forgetRef(t, r);
    }
  }
  return out;
}

function claimFrom(t: GatewayTables, stock: KpRecord[], want: ClaimWant): Claimed | undefined {
  const candidates = stock.filter((r) => matches(r, want));
  if (candidates.length === 0) return undefined;
  const deviceStock = (r: KpRecord) => stock.filter((x) => deviceOfRecord(x) === deviceOfRecord(r));
  // Oldest first, and a KeyPackage that may be consumed before one that stays.
  const record = candidates.find((r) => consumes(r, deviceStock(r))) ?? candidates[0]!;
  const consumed = consumes(record, deviceStock(record));
  if (consumed) {
    removeFromStock(t, record.id);
    stock.splice(stock.indexOf(record), 1);
  }
  return { record, lastResort: !consumed, remaining: candidates.length - (consumed ? 1 : 0) };
}

/**
 * One claim, inside a writer task (so claims are serialized with each other and with event
 * writes): the oldest matching KeyPackage, consumed or kept by the rule of `consumes`.
 * `exists` lets the caller skip stock entries whose event is gone from the store.
 */
export function claimOne(t: GatewayTables, owner: string, now: number, exists: (id: string) => boolean, want: ClaimWant = {}): Claimed | undefined {
  return claimFrom(t, liveStock(t, owner, now, exists), want);
}

/** One KeyPackage for each device of the owner (default device included), in one writer task. */
export function claimPerDevice(t: GatewayTables, owner: string, now: number, exists: (id: string) => boolean, want: Omit<ClaimWant, 'id' | 'device'> = {}): Claimed[] {
  const stock = liveStock(t, owner, now, exists);
  const devices = [...new Set(stock.filter((r) => matches(r, want)).map(deviceOfRecord))];
  const out: Claimed[] = [];
  for (const device of devices) {
    const c = claimFrom(t, stock, { ...want, device });
    if (c) out.push(c);
  }
  return out;
}

/** Expired stock, inside a writer task: removes up to `max`; returns the records. */
export function sweepKeyPackages(t: GatewayTables, now: number, max: number): KpRecord[] {
  const due: Array<[number, string]> = [];
  for (const k of t.kpExp.getKeys({ start: [0], end: [now, KEY_END], inclusiveEnd: true, limit: max })) due.push(k as [number, string]);
  const out: KpRecord[] = [];
  for (const key of due) {
    const r = removeFromStock(t, key[1]);
    if (r) {
      forgetRef(t, r);
      out.push(r);
    } else t.kpExp.removeSync(key);
  }
  // Key refs of consumed KeyPackages outlive their stock entry until the original expiry.
  const stale: Array<[string, string]> = [];
  for (const { key, value } of t.kpRef.getRange({ limit: 10 * max })) if (value.expires_at <= now) stale.push(key as [string, string]);
  for (const key of stale) t.kpRef.removeSync(key);
  return out;
}
