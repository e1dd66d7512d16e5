import type { NostrEvent } from '../protocol/types.js';
import { WriteRejection } from '../storage/writer.js';
import { decimal, decodesAs, firstTag, tagValues } from './tags.js';
import { ONE, type GatewayTables, type KpRecord } from './tables.js';
import { dTag } from '../protocol/kinds.js';

const KEY_END = '\uffff';
const MAX_TS = Number.MAX_SAFE_INTEGER;

export const isKeyPackageKind = (k: number): boolean => k === 443 || k === 30443;

const keyRefOf = (e: NostrEvent) => firstTag(e, 'kpr', 'i');
const suiteOf = (e: NostrEvent) => firstTag(e, 'cs', 'ciphersuite', 'mls_ciphersuite');

/** Stock expiry: `exp` when given, clamped to now + keypackage_ttl. */
export function expiryOf(e: NostrEvent, ttlSec: number, now: number): number {
  const exp = decimal(firstTag(e, 'exp'));
  const cap = now + ttlSec;
  return exp === undefined ? cap : Math.min(exp, cap);
}

/** Read-only checks of a 443/30443 before it is written (the duplicate check repeats in the transaction). */
export function checkKeyPackage(t: GatewayTables, e: NostrEvent, now: number): string | undefined {
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
  return duplicateRef(t, e, now);
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
 * Inside the event's write transaction: add to the stock, replace the previous 30443 of
 * the same coordinate, and prune the owner's oldest beyond `max`. Returns pruned ids.
 */
export function addToStock(t: GatewayTables, e: NostrEvent, ttlSec: number, max: number, now: number): string[] {
  const dup = duplicateRef(t, e, now);
  if (dup !== undefined) throw new WriteRejection(dup);
  const d = e.kind === 30443 ? dTag(e) : null;
  if (d !== null) {
    const prev = t.kpAddr.get([e.pubkey, d]);
    if (prev !== undefined) {
      const old = removeFromStock(t, prev);
      if (old) forgetRef(t, old);
    }
  }
  const rec: KpRecord = {
    id: e.id,
    owner: e.pubkey,
    kind: e.kind,
    ciphersuite: suiteOf(e) ?? null,
    key_ref: keyRefOf(e) ?? null,
    d,
    created_at: e.created_at,
    expires_at: expiryOf(e, ttlSec, now),
  };
  t.kp.putSync(rec.id, rec);
  t.kpOwner.putSync([rec.owner, rec.created_at, rec.id], ONE);
  t.kpExp.putSync([rec.expires_at, rec.id], ONE);
  if (d !== null) t.kpAddr.putSync([rec.owner, d], rec.id);
  if (rec.key_ref !== null) t.kpRef.putSync([rec.owner, rec.key_ref], { id: rec.id, expires_at: rec.expires_at });
  const ids = stockIds(t, rec.owner);
  const pruned: string[] = [];
  for (let i = 0; i < ids.length - max; i++) {
    const old = removeFromStock(t, ids[i]!);
    if (old) {
      forgetRef(t, old);
      pruned.push(old.id);
    }
  }
  return pruned;
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

export function referencesKeyPackage(t: GatewayTables, del: NostrEvent): boolean {
  for (const tag of del.tags) {
    if (tag[0] === 'e' && tag[1] !== undefined && t.kp.doesExist(tag[1])) return true;
    if (tag[0] === 'a' && tag[1]?.startsWith(`30443:${del.pubkey}:`)) return true;
  }
  return false;
}

export interface Claimed {
  record: KpRecord;
  lastResort: boolean;
  remaining: number;
}

/**
 * One claim, inside a writer task (so claims are serialized with each other and with
 * event writes): the oldest unexpired KeyPackage leaves the stock, unless it is the
 * owner's last one, which is handed out and kept (last resort). `exists` lets the caller
 * skip stock entries whose event is gone from the store.
 */
export function claimOne(t: GatewayTables, owner: string, now: number, exists: (id: string) => boolean): Claimed | undefined {
  let stock = stockOf(t, owner, now);
  for (const r of stock) {
    if (!exists(r.id)) {
      removeFromStock(t, r.id);
      forgetRef(t, r);
    }
  }
  stock = stock.filter((r) => t.kp.doesExist(r.id));
  if (stock.length === 0) return undefined;
  const record = stock[0]!;
  if (stock.length === 1) return { record, lastResort: true, remaining: 1 };
  removeFromStock(t, record.id);
  return { record, lastResort: false, remaining: stock.length - 1 };
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
