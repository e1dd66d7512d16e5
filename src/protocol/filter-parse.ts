import type { Filter } from './types.js';

export interface FilterLimits {
  maxFilters: number;
  maxLimit: number;
  /**
   * Kept for config compatibility (rnostr's limitation.min_prefix). Prefix matching was
   * dropped from NIP-01 and is not implemented, so ids/authors must be full 64-hex values.
   */
  minPrefix: number;
}

export type FilterParse = { ok: true; filters: Filter[] } | { ok: false; reason: string };

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Turns the filter objects of a REQ/COUNT into typed filters. Empty arrays are kept:
 * they are valid and match nothing, and matchFilter/storage rule them out without work.
 * `limit` is kept as sent; clamping to maxLimit is the query planner's job.
 */
export function parseFilters(raw: unknown[], limits: FilterLimits): FilterParse {
  if (raw.length > limits.maxFilters) return { ok: false, reason: `invalid: too many filters (max ${limits.maxFilters})` };
  // Sized up front: a REQ's filters live as long as its subscription, and an array grown from
  // [] by push keeps room for 17 (152 bytes for one filter).
  const filters: Filter[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const f = parseOne(raw[i]);
    if (typeof f === 'string') return { ok: false, reason: f };
    filters[i] = f;
  }
  return { ok: true, filters };
}

function parseOne(raw: unknown): Filter | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'invalid: filter must be a JSON object';
  const src = raw as Record<string, unknown>;
  const out: Filter = {};
  for (const key of Object.keys(src)) {
    const v = src[key];
    switch (key) {
      case 'ids':
      case 'authors': {
        if (!Array.isArray(v)) return `invalid: filter field "${key}" must be an array`;
        const list: string[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const s: unknown = v[i];
          if (typeof s !== 'string' || !HEX64.test(s)) {
            return `invalid: filter field "${key}" must hold 64-character hex strings (prefixes are not supported)`;
          }
          list[i] = s.toLowerCase();
        }
        out[key] = list;
        break;
      }
      case 'kinds': {
        if (!Array.isArray(v)) return 'invalid: filter field "kinds" must be an array';
        for (const k of v) {
          if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > 65535) {
            return 'invalid: filter field "kinds" must hold integers between 0 and 65535';
          }
        }
        out.kinds = v as number[];
        break;
      }
      case 'since':
      case 'until':
      case 'limit':
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
          return `invalid: filter field "${key}" must be a non-negative integer`;
        }
        out[key] = v;
        break;
      default: {
        if (key.length < 2 || key[0] !== '#') return `invalid: unknown filter field ${JSON.stringify(key.slice(0, 32))}`;
        if (!Array.isArray(v)) return `invalid: filter field ${JSON.stringify(key.slice(0, 32))} must be an array`;
        for (const s of v) {
          if (typeof s !== 'string') return `invalid: filter field ${JSON.stringify(key.slice(0, 32))} must hold strings`;
        }
        // Tag names come from the client; a prototype-less map makes "#__proto__" an ordinary key.
        out.tags ??= Object.create(null) as Record<string, string[]>;
        out.tags[key.slice(1)] = v as string[];
      }
    }
  }
  return out;
}
