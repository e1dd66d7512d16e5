import { normalizePubkey } from '../config/keys.js';
import type { NostrEvent } from '../protocol/types.js';

/** Small, allocation-light tag readers for the kind rules (the relay never reads content). */

export function tagValues(e: Pick<NostrEvent, 'tags'>, name: string): string[] {
  const out: string[] = [];
  for (const t of e.tags) if (t[0] === name && t[1] !== undefined) out.push(t[1]);
  return out;
}

export function firstTag(e: Pick<NostrEvent, 'tags'>, ...names: string[]): string | undefined {
  for (const t of e.tags) if (t[1] !== undefined && names.includes(t[0]!)) return t[1];
  return undefined;
}

export function countTags(e: Pick<NostrEvent, 'tags'>, name: string): number {
  let n = 0;
  for (const t of e.tags) if (t[0] === name) n++;
  return n;
}

/** The single value of a tag that must appear exactly once, or undefined. */
export function onlyTag(e: Pick<NostrEvent, 'tags'>, name: string): string | undefined {
  let v: string | undefined;
  let n = 0;
  for (const t of e.tags) {
    if (t[0] !== name) continue;
    n++;
    v = t[1];
  }
  return n === 1 && v !== undefined && v !== '' ? v : undefined;
}

const DECIMAL = /^\d{1,15}$/;

/** A non-negative decimal integer (no sign, no exponent) or undefined. */
export function decimal(v: string | undefined): number | undefined {
  if (v === undefined || !DECIMAL.test(v)) return undefined;
  return Number(v);
}

const HEX64 = /^[0-9a-f]{64}$/;
export const isHexKey = (v: string | undefined): v is string => v !== undefined && HEX64.test(v);

/** KEY is hex or npub everywhere (PROTOCOL.md): lowercase hex, or undefined when neither. */
export function parseKey(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    return normalizePubkey(v);
  } catch {
    return undefined;
  }
}

/** Group ids are opaque strings; bounded so they fit LMDB keys alongside a pubkey. */
export function isGroupId(v: string | undefined): v is string {
  return v !== undefined && v.length > 0 && v.length <= 256;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** Non-empty base64 (standard alphabet, padding optional) or, when `encoding` says so, hex. */
export function decodesAs(content: string, encoding: 'base64' | 'hex'): boolean {
  const s = content.trim();
  if (s.length === 0) return false;
  return encoding === 'hex' ? HEX.test(s) : B64.test(s) && s.replace(/=+$/, '').length >= 2;
}
