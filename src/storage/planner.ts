import type { Database, Key } from 'lmdb';
import type { Filter } from '../protocol/types.js';
import { MAX_SEQ, MAX_TS, MIN_TS, TAG_VALUE_MAX, tagIndexValue, type StoreDbs } from './keys.js';

export type IndexName = 'none' | 'ids' | 'author_kind' | 'tag' | 'author' | 'kind' | 'created_at';

/** One reverse cursor: `start` is the inclusive upper key, `end` the exclusive lower key. */
export interface ScanRange {
  db: Database<Buffer, Key>;
  start: Key;
  end: Key;
}

export interface Plan {
  index: IndexName;
  /** Ranges to merge newest first (empty for 'ids' and 'none'). */
  ranges: ScanRange[];
  /**
   * True when every key in the ranges satisfies the filter by construction, so a
   * count needs no record and a query needs no matchFilter (expiry is still checked).
   */
  exact: boolean;
  /**
   * When not exact: true when the only condition the ranges leave unchecked is `kinds`,
   * which the record header answers without parsing the event.
   */
  kindsOnly: boolean;
}

/** Above this many author×kind pairs the pair index costs more cursors than it saves. */
export const MAX_PAIRS = 100;
/** Keys counted per candidate when the structural order cannot decide. */
export const ESTIMATE_CAP = 200;

const NONE: Plan = { index: 'none', ranges: [], exact: true, kindsOnly: false };

/**
 * Choose the index for one filter.
 *
 * The rule: ids are direct lookups and always win. author+kind pairs are the
 * intersection of the author and kind indexes, so when they are usable (≤ MAX_PAIRS
 * pairs) they replace both. The remaining candidates (pairs or author, kind, and the
 * single-letter tag with the shortest value list) are not comparable by structure — a
 * popular `#p` can be far larger than one author's history, or far smaller — so when
 * there are two or more we count each candidate's keys inside [since, until] up to
 * ESTIMATE_CAP and take the smallest, falling back to the order
 * pairs > tag > author > kind when counts tie (e.g. all hit the cap). created_at is the
 * scan of last resort, used only when the filter constrains nothing else.
 * Counting costs at most ESTIMATE_CAP key reads per candidate, which is small next to
 * a scan that would otherwise walk thousands of non-matching keys.
 */
export function planFilter(dbs: StoreDbs, filter: Filter): Plan {
  if (filter.ids !== undefined) {
    // ids lookups are exact on ids; the rest is checked per event (from the header when
    // only kinds/since/until remain).
    const kindsOnly = filter.authors === undefined && filter.tags === undefined;
    return filter.ids.length === 0 ? NONE : { index: 'ids', ranges: [], exact: false, kindsOnly };
  }
  const { tags } = filter;
  // Repeated values would scan a range twice and emit its events twice.
  const authors = filter.authors === undefined ? undefined : [...new Set(filter.authors)];
  const kinds = filter.kinds === undefined ? undefined : [...new Set(filter.kinds)];
  if ((authors !== undefined && authors.length === 0) || (kinds !== undefined && kinds.length === 0)) return NONE;
  const since = filter.since;
  const until = filter.until;
  if (since !== undefined && until !== undefined && since > until) return NONE;

  let tagName: string | undefined;
  let tagValues: string[] | undefined;
  let tagCount = 0;
  let tagsTruncated = false;
  if (tags !== undefined) {
    for (const name in tags) {
      const values = tags[name]!;
      if (values.length === 0) return NONE;
      tagCount++;
      if (name.length !== 1) continue;
      if (tagValues === undefined || values.length < tagValues.length) {
        tagName = name;
        tagValues = values;
      }
    }
  }
  if (tagValues !== undefined) {
    for (const v of tagValues) if (v.length > TAG_VALUE_MAX) tagsTruncated = true;
  }

  const candidates: Plan[] = [];
  const pairs = authors !== undefined && kinds !== undefined ? authors.length * kinds.length : Infinity;
  if (pairs <= MAX_PAIRS) {
    const ranges: ScanRange[] = [];
    for (const a of authors!) for (const k of kinds!) ranges.push(range(dbs.authorKind, [a, k], since, until));
    candidates.push({ index: 'author_kind', ranges, exact: tagCount === 0, kindsOnly: false });
  }
  if (tagValues !== undefined) {
    const ranges: ScanRange[] = [];
    // Duplicate values (or values equal after truncation) would scan the same range twice.
    const seen = new Set<string>();
    for (const v of tagValues) {
      const iv = tagIndexValue(v);
      if (seen.has(iv)) continue;
      seen.add(iv);
      ranges.push(range(dbs.tag, [tagName!, iv], since, until));
    }
    const tagOnly = authors === undefined && tagCount === 1 && !tagsTruncated;
    candidates.push({ index: 'tag', ranges, exact: tagOnly && kinds === undefined, kindsOnly: tagOnly });
  }
  if (pairs > MAX_PAIRS) {
    if (authors !== undefined) {
      const ranges = authors.map((a) => range(dbs.author, [a], since, until));
      candidates.push({ index: 'author', ranges, exact: kinds === undefined && tagCount === 0, kindsOnly: tagCount === 0 });
    }
    if (kinds !== undefined) {
      const ranges = kinds.map((k) => range(dbs.kind, [k], since, until));
      candidates.push({ index: 'kind', ranges, exact: authors === undefined && tagCount === 0, kindsOnly: false });
    }
  }
  if (candidates.length === 0) {
    return { index: 'created_at', ranges: [range(dbs.created, [], since, until)], exact: tagCount === 0, kindsOnly: false };
  }
  if (candidates.length === 1) return candidates[0]!;

  let best = candidates[0]!;
  let bestCount = estimate(best, ESTIMATE_CAP);
  for (let i = 1; i < candidates.length && bestCount > 0; i++) {
    const c = candidates[i]!;
    const n = estimate(c, bestCount);
    if (n < bestCount) {
      best = c;
      bestCount = n;
    }
  }
  return best;
}

/** Keys in the plan's ranges, counting no further than `cap`. */
export function estimate(plan: Plan, cap: number): number {
  let n = 0;
  for (const r of plan.ranges) {
    // getKeysCount ignores `limit` in lmdb-js 3.5, so count with a bounded cursor.
    for (const _ of r.db.getKeys({ start: r.start, end: r.end, reverse: true, limit: cap - n })) {
      if (++n >= cap) return n;
    }
  }
  return n;
}

function range(db: Database<Buffer, Key>, prefix: (string | number)[], since?: number, until?: number): ScanRange {
  // [..prefix, since] sorts before every [..prefix, since, seq], so as an exclusive
  // lower bound it still admits since itself: both bounds are inclusive, as NIP-01 says.
  return {
    db,
    start: [...prefix, until ?? MAX_TS, MAX_SEQ],
    end: [...prefix, since ?? MIN_TS],
  };
}
