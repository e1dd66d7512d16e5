/**
 * Value checks used by the schema. A check returns the normalised value or throws an Error whose message
 * reads well after "<dotted.key>: " (the walker adds the key). Values read from environment variables
 * arrive as strings, so checks coerce them only when `ctx.fromEnv` is set: in the file, types are strict.
 */
import { isIP } from 'node:net';
import { parseDuration } from './duration.js';
import { ListError, normalizePubkey, normalizeSecretKey, parseKeyList, splitList, type ListProblem } from './keys.js';

export interface CheckContext {
  fromEnv: boolean;
  warn(message: string): void;
}
export type Check = (value: unknown, ctx: CheckContext) => unknown;

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 77) + '...' : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'object') return v.constructor?.name === 'TomlDate' ? 'a date' : 'a table';
  return String(v);
}

function fail(expected: string, v: unknown): never {
  throw new Error(`expected ${expected}, got ${describe(v)}`);
}

export const bool: Check = (v, ctx) => {
  if (typeof v === 'boolean') return v;
  if (ctx.fromEnv && typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
  }
  return fail(ctx.fromEnv ? 'true, false, 1 or 0' : 'true or false', v);
};

export function int(min: number, max = Number.MAX_SAFE_INTEGER): Check {
  const expected =
    max !== Number.MAX_SAFE_INTEGER ? `an integer between ${min} and ${max}`
    : min === 0 ? 'a non-negative integer'
    : min === 1 ? 'a positive integer'
    : `an integer >= ${min}`;
  return (v, ctx) => {
    const n = ctx.fromEnv && typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) fail(expected, v);
    return n;
  };
}

export function str(opts: { nonEmpty?: boolean } = {}): Check {
  return (v) => {
    if (typeof v !== 'string' || (opts.nonEmpty && v.trim() === '')) fail(opts.nonEmpty ? 'a non-empty string' : 'a string', v);
    return v;
  };
}

/** For passwords and tokens: the value is never echoed back, since messages are logged. */
export const secretStr: Check = (v) => {
  if (typeof v !== 'string') throw new Error('expected a string (value not shown)');
  return v;
};

export function oneOf<T extends string>(...values: T[]): Check {
  return (v) => {
    if (typeof v !== 'string' || !values.includes(v as T)) fail(`one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
    return v;
  };
}

export function duration(opts: { min?: number } = {}): Check {
  return (v) => {
    const ms = parseDuration(v);
    if (opts.min !== undefined && ms < opts.min) throw new Error(`expected a duration of at least ${opts.min} ms, got ${describe(v)}`);
    return ms;
  };
}

/** A JetStream stream name: also the prefix of its subjects and of the snapshot bucket. */
export const streamName: Check = (v) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) fail('a stream name of 1-64 letters, digits, "-" or "_"', v);
  return v;
};

export const pubkey: Check = (v) => normalizePubkey(v as string);
export const pubkeyList: Check = (v) => parseKeyList(v);
export const secretKey: Check = (v) => normalizeSecretKey(v as string);

/** Each item checked; all bad items reported at once (as `key[i]`). */
function listOf(item: (x: unknown) => unknown, opts: { split: boolean }): Check {
  return (v) => {
    const items = opts.split ? splitList(v) : Array.isArray(v) ? v : fail('an array', v);
    const problems: ListProblem[] = [];
    const out: unknown[] = [];
    items.forEach((x, index) => {
      try {
        out.push(item(x));
      } catch (e) {
        problems.push({ index, message: (e as Error).message });
      }
    });
    if (problems.length > 0) throw new ListError(problems);
    return out;
  };
}

/** IP addresses or CIDR blocks; a typo here would silently never match, so it is an error. */
export const ipList: Check = listOf((x) => {
  if (typeof x === 'string') {
    const [addr, prefix, ...rest] = x.trim().split('/');
    const family = isIP(addr ?? '');
    const maxPrefix = family === 6 ? 128 : 32;
    if (family !== 0 && rest.length === 0 && (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix))) {
      return x.trim();
    }
  }
  return fail('an IP address or CIDR block (e.g. "10.0.0.0/8")', x);
}, { split: true });

export const stringList: Check = listOf((x) => (typeof x === 'string' ? x : fail('a string', x)), { split: true });

const MAX_KIND = 65535;
function isKind(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_KIND;
}

/** rnostr's kind list: single kinds and [start, end) pairs mixed; a single k becomes [k, k+1]. */
export const kindRanges: Check = listOf((x) => {
  if (isKind(x)) return [x, x + 1];
  if (Array.isArray(x) && x.length === 2 && isKind(x[0]) && typeof x[1] === 'number' && Number.isInteger(x[1]) && x[1] > x[0] && x[1] <= MAX_KIND + 1) {
    return [x[0], x[1]];
  }
  return fail(`a kind (0-${MAX_KIND}) or a [start, end) pair with start < end`, x);
}, { split: false });

function oneWsUrl(v: unknown): string {
  if (typeof v === 'string') {
    try {
      const u = new URL(v);
      if ((u.protocol === 'ws:' || u.protocol === 'wss:') && u.host !== '') return v;
    } catch {
      // reported below with the expected form
    }
  }
  return fail('a ws:// or wss:// URL', v);
}

/**
 * The relay's public URL(s): one URL, or a list when it answers under several names. Always a list
 * after loading. From the environment, a space/comma-separated string (like the key lists).
 */
export const wsUrls: Check = (v, ctx) => {
  if (typeof v === 'string' && !ctx.fromEnv) return [oneWsUrl(v)];
  if (typeof v !== 'string' && !Array.isArray(v)) fail('a ws:// or wss:// URL or a list of them', v);
  const list = listOf(oneWsUrl, { split: true })(v, ctx) as string[];
  if (list.length === 0) fail('a ws:// or wss:// URL or a non-empty list of them (leave the key out instead)', v);
  return list;
};

/** A path prefix for the REST API; trailing slashes dropped so route joins never double them. */
export const apiPrefix: Check = (v) => {
  if (typeof v !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(v)) fail('a path starting with "/" (e.g. "/api/v1")', v);
  const trimmed = (v as string).replace(/\/+$/, '');
  if (trimmed === '') fail('a path other than "/" (the root holds /health and the WebSocket endpoint)', v);
  return trimmed;
};

/** rnostr takes a list of header names; one header is what a proxy chain actually sets. */
export const realIpHeader: Check = (v, ctx) => {
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : fail('a header name', v);
  if (list.length === 0) return undefined;
  const first = list[0];
  if (typeof first !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(first)) fail('a header name', first);
  if (list.length > 1) ctx.warn(`only the first header (${JSON.stringify(first)}) is used`);
  return (first as string).toLowerCase();
};

export const onlyLmdb: Check = (v) => {
  if (v !== 'lmdb') {
    throw new Error(`only "lmdb" is supported; this relay stores events in LMDB at data.path (got ${describe(v)})`);
  }
  return v;
};
