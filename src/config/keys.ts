/**
 * Key parsing for config lists. Everything downstream compares keys as lowercase 64-char hex, so all
 * accepted spellings (hex in any case, npub/nsec) are normalised here, once.
 */
import { decode } from 'nostr-tools/nip19';

const HEX64 = /^[0-9a-fA-F]{64}$/;
// secp256k1 group order: a secret key must lie in [1, n-1].
const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function normalizePubkey(s: string): string {
  if (typeof s === 'string') {
    const t = s.trim();
    if (HEX64.test(t)) return t.toLowerCase();
    if (t.startsWith('npub1')) {
      try {
        const d = decode(t);
        if (d.type === 'npub' && HEX64.test(d.data)) return d.data.toLowerCase();
      } catch {
        // fall through to the uniform message: decoder internals are not useful to an operator
      }
    }
  }
  throw new Error(`not a hex or npub public key, got ${show(s)}`);
}

/** The value is deliberately never echoed: it is a secret and error messages end up in logs. */
export function normalizeSecretKey(s: string): string {
  let hex: string | undefined;
  if (typeof s === 'string') {
    const t = s.trim();
    if (HEX64.test(t)) hex = t.toLowerCase();
    else if (t.startsWith('nsec1')) {
      try {
        const d = decode(t);
        if (d.type === 'nsec') hex = Buffer.from(d.data).toString('hex');
      } catch {
        hex = undefined;
      }
    }
  }
  if (hex === undefined) throw new Error('not a 64-char hex or nsec secret key (value not shown)');
  const n = BigInt('0x' + hex);
  if (n === 0n || n >= CURVE_ORDER) throw new Error('not a valid secp256k1 secret key (value not shown)');
  return hex;
}

export interface ListProblem {
  index: number;
  message: string;
}

/** Thrown by list parsers so callers can name every bad item (`key[2]`), not just the first. */
export class ListError extends Error {
  constructor(readonly problems: ListProblem[]) {
    super(problems.map((p) => `[${p.index}]: ${p.message}`).join('; '));
    this.name = 'ListError';
  }
}

/** An array of strings, or one string of items separated by spaces and/or commas (the env form). */
export function splitList(v: unknown): unknown[] {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter((x) => x.length > 0);
  if (Array.isArray(v)) return v;
  throw new Error(`expected a list of strings or a space/comma-separated string, got ${show(v)}`);
}

/** Each item normalised to hex, duplicates dropped; throws a ListError naming every bad item. */
export function parseKeyList(v: unknown): string[] {
  const items = splitList(v);
  const out = new Set<string>();
  const problems: ListProblem[] = [];
  items.forEach((item, index) => {
    try {
      if (typeof item !== 'string') throw new Error(`not a hex or npub public key, got ${show(item)}`);
      out.add(normalizePubkey(item));
    } catch (e) {
      problems.push({ index, message: (e as Error).message });
    }
  });
  if (problems.length > 0) throw new ListError(problems);
  return [...out];
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 77) + '...' : v);
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'a table';
  return String(v);
}
