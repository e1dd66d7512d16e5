import type { Key } from 'lmdb';
import { matchFilter } from '../protocol/filter-match.js';
import type { Filter, NostrEvent } from '../protocol/types.js';
import { jsonStart, MAX_SEQ, MIN_TS, recordCreatedAt, recordExpiration, recordKind, type StoreDbs } from './keys.js';
import { planFilter, type Plan, type ScanRange } from './planner.js';
import type { Position } from './position.js';

export interface QueryOptions {
  limitDefault: number;
  limitMax: number;
  /** Date.now() value after which the scan stops and reports timedOut. */
  deadline: number;
  /** Unix seconds used for NIP-40 expiry; defaults to the wall clock. */
  now?: number;
  /**
   * Read rules of the caller, applied while scanning so a filter's `limit` counts events the
   * caller may see (filtering afterwards would return short pages). Given the event's
   * position, for rules decided in relay order.
   */
  accept?: (e: NostrEvent, position: Position) => boolean;
  /**
   * The kinds `accept` concerns: events of other kinds are accepted without being parsed.
   * Absent: `accept` is asked about every event.
   */
  restricted?: (kind: number) => boolean;
}

/** One stored event met by a scan: its position, the record header's fields and its canonical JSON. */
export interface Hit {
  seq: number;
  createdAt: number;
  kind: number;
  expiration: number | undefined;
  /** The event's stored JSON bytes (a copy of this event's own: frames are built from it). */
  json: Buffer;
  /** Filled on demand: the id for the tie-break of the output order, the parsed event for post-filters and read rules. */
  id?: string;
  event?: NostrEvent;
}

export interface QueryResult {
  hits: Hit[];
  timedOut: boolean;
}

export interface CountOptions {
  deadline: number;
  now?: number;
  /** As in QueryOptions; forces reading each event it concerns instead of counting index keys. */
  accept?: (e: NostrEvent, position: Position) => boolean;
  restricted?: (kind: number) => boolean;
}

export interface CountResult {
  count: number;
  /** The deadline cut the count: `count` is a lower bound (NIP-45 `approximate`). */
  timedOut: boolean;
}

/** Keys scanned between two looks at the clock: Date.now() is cheap but not free. */
const CLOCK_EVERY = 256;

/** NIP-01 output order: newest first, ties by id ascending. */
export function compareEvents(a: NostrEvent, b: NostrEvent): number {
  if (a.created_at !== b.created_at) return b.created_at - a.created_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The stored JSON always starts `{"id":"` and the 64 hex digits of the id. */
function idOf(h: Hit): string {
  return (h.id ??= h.json.toString('latin1', 7, 71));
}

/** compareEvents on hits: the id is read from the record only on a created_at tie. */
export function compareHits(a: Hit, b: Hit): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  const x = idOf(a);
  const y = idOf(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function eventOf(h: Hit): NostrEvent {
  return (h.event ??= JSON.parse(h.json.toString('utf8')) as NostrEvent);
}

/**
 * Read one record. lmdb's fast read leaves the value in a buffer the next read reuses, so
 * the header is read there and only the JSON is copied out, once, into pooled memory
 * (a plain get() would copy the whole record into a fresh allocation of its own).
 */
export function readHit(dbs: StoreDbs, seq: number): Hit | null {
  const rec = dbs.events.getBinaryFast(seq);
  return rec === undefined ? null : hitOf(rec, seq);
}

/** The Hit of a record read with getBinaryFast (copied out of `rec`, which the next read reuses). */
function hitOf(rec: Buffer, seq: number): Hit {
  const at = jsonStart(rec);
  const json = Buffer.allocUnsafe(rec.length - at);
  rec.copy(json, 0, at);
  return { seq, createdAt: recordCreatedAt(rec), kind: recordKind(rec), expiration: recordExpiration(rec), json };
}

function nowSeconds(now?: number): number {
  return now ?? Math.floor(Date.now() / 1000);
}

/** kinds, since and until: what the record header answers without parsing. */
function headerMatch(filter: Filter, h: Hit): boolean {
  if (filter.kinds !== undefined && !filter.kinds.includes(h.kind)) return false;
  if (filter.since !== undefined && h.createdAt < filter.since) return false;
  if (filter.until !== undefined && h.createdAt > filter.until) return false;
  return true;
}

/** headerMatch and the expiry check of Scan.keep, on a record read in place. */
function headerCounts(filter: Filter, rec: Buffer, now: number): boolean {
  if (filter.kinds !== undefined && !filter.kinds.includes(recordKind(rec))) return false;
  const ca = recordCreatedAt(rec);
  if (filter.since !== undefined && ca < filter.since) return false;
  if (filter.until !== undefined && ca > filter.until) return false;
  const exp = recordExpiration(rec);
  return exp === undefined || exp > now;
}

/**
 * Shared state of one REQ: records already read (by seq) so an event found by two
 * filters is read and parsed once and emitted once.
 */
class Scan {
  scanned = 0;
  timedOut = false;
  readonly loaded = new Map<number, Hit | null>();
  /** Several filters (or a count's expired list) may meet one record: remember what was read. */
  shared = true;
  constructor(
    readonly dbs: StoreDbs,
    readonly deadline: number,
    readonly now: number,
    private readonly accept?: (e: NostrEvent, position: Position) => boolean,
    private readonly restricted?: (kind: number) => boolean,
  ) {}

  /** Not expired, and visible to the caller; parses the event only for a kind a read rule concerns. */
  keep(h: Hit): boolean {
    const exp = h.expiration;
    if (exp !== undefined && exp <= this.now) return false;
    if (this.accept === undefined) return true;
    if (this.restricted !== undefined && !this.restricted(h.kind)) return true;
    return this.accept(eventOf(h), h.seq);
  }

  /** Does the event match what the plan's ranges did not check? */
  matches(plan: Plan, filter: Filter, h: Hit): boolean {
    if (plan.exact) return true;
    if (plan.kindsOnly) return headerMatch(filter, h);
    return matchFilter(filter, eventOf(h));
  }

  /** Count one key; true when the deadline has passed. */
  tick(): boolean {
    if (++this.scanned % CLOCK_EVERY === 0 && Date.now() > this.deadline) this.timedOut = true;
    return this.timedOut;
  }

  /**
   * The record at `seq`, null when gone. With `header` (a kindsOnly plan's filter), a record
   * whose header already fails it (kinds, since, until, expiry) is answered null without
   * copying its JSON, and not remembered (looking at a header again is cheap).
   */
  load(seq: number, header?: Filter): Hit | null {
    let h = this.shared ? this.loaded.get(seq) : undefined;
    if (h === undefined) {
      const rec = this.dbs.events.getBinaryFast(seq);
      if (rec !== undefined && header !== undefined && !headerCounts(header, rec, this.now)) return null;
      h = rec === undefined ? null : hitOf(rec, seq);
      if (this.shared) this.loaded.set(seq, h);
    }
    return h;
  }
}

export function runQuery(dbs: StoreDbs, filters: readonly Filter[], opts: QueryOptions): QueryResult {
  const scan = new Scan(dbs, opts.deadline, nowSeconds(opts.now), opts.accept, opts.restricted);
  // One filter meets each record once (a tag plan's repeats are cut by its own `seen`).
  scan.shared = filters.length > 1;
  const out = new Map<number, Hit>();
  // No deadline check before the first key: the scan checks as it goes, and a GC pause
  // between the caller setting the deadline and this line must not fail a cheap query.
  for (const filter of filters) {
    let limit = filter.limit ?? opts.limitDefault;
    if (limit > opts.limitMax) limit = opts.limitMax;
    if (!(limit > 0)) continue;
    const plan = planFilter(dbs, filter);
    const found = plan.index === 'ids' ? byIds(scan, plan, filter, limit) : merged(scan, plan, filter, limit);
    for (const h of found) out.set(h.seq, h);
    if (scan.timedOut) break;
  }
  const hits = out.size === 1 ? [...out.values()] : [...out.values()].sort(compareHits);
  return { hits, timedOut: scan.timedOut };
}

function byIds(scan: Scan, plan: Plan, filter: Filter, limit: number): Hit[] {
  const found: Hit[] = [];
  for (const id of new Set(filter.ids)) {
    if (scan.tick()) break;
    const seq = scan.dbs.ids.get(id);
    if (seq === undefined) continue;
    const h = scan.load(seq, plan.kindsOnly ? filter : undefined);
    if (h !== null && scan.matches(plan, filter, h) && scan.keep(h)) found.push(h);
  }
  if (found.length > limit) {
    found.sort(compareHits);
    found.length = limit;
  }
  return found;
}

interface Head {
  it: Iterator<Key>;
  key: (string | number)[] | undefined;
}

/**
 * K-way merge of the plan's reverse cursors, newest first, stopping once `limit`
 * events matched. To honour the id tie-break exactly at the cut, the scan continues
 * through the remaining keys with the same created_at as the limit-th match before
 * sorting and cutting (usually a handful of keys).
 */
function merged(scan: Scan, plan: Plan, filter: Filter, limit: number): Hit[] {
  const heads: Head[] = [];
  const found: Hit[] = [];
  // Only a tag plan with several values can meet the same event twice.
  const seen = plan.index === 'tag' && plan.ranges.length > 1 ? new Set<number>() : undefined;
  try {
    for (const r of plan.ranges) {
      const it = r.db.getKeys({ start: r.start, end: r.end, reverse: true })[Symbol.iterator]();
      const n = it.next();
      if (!n.done) heads.push({ it, key: n.value as (string | number)[] });
      else it.return?.();
      if (scan.tick()) break;
    }
    let boundary = -Infinity;
    while (!scan.timedOut) {
      let best: Head | undefined;
      let bestCa = -Infinity;
      let bestSeq = -1;
      for (const h of heads) {
        const k = h.key;
        if (k === undefined) continue;
        const ca = k[k.length - 2] as number;
        const seq = k[k.length - 1] as number;
        if (ca > bestCa || (ca === bestCa && seq > bestSeq)) {
          best = h;
          bestCa = ca;
          bestSeq = seq;
        }
      }
      if (best === undefined || bestCa < boundary) break;
      const n = best.it.next();
      best.key = n.done ? undefined : (n.value as (string | number)[]);
      scan.tick();
      if (seen !== undefined) {
        if (seen.has(bestSeq)) continue;
        seen.add(bestSeq);
      }
      const h = scan.load(bestSeq, plan.kindsOnly ? filter : undefined);
      if (h === null || !scan.matches(plan, filter, h) || !scan.keep(h)) continue;
      found.push(h);
      if (found.length === limit) boundary = bestCa;
    }
  } finally {
    // Leaving a cursor open pins its read transaction until GC.
    for (const h of heads) if (h.key !== undefined) h.it.return?.();
  }
  if (found.length > limit) {
    found.sort(compareHits);
    found.length = limit;
  }
  return found;
}

/**
 * NIP-45: distinct events matching any filter, limits ignored.
 *
 * Where one index covers the request (one filter whose plan is exact, whose ranges are
 * disjoint, and that no read rule concerns) the answer is LMDB's own count of the range
 * keys, minus the expired events in them (found through the expiration index, which the
 * sweeper keeps near empty): no key is decoded in JS and no record is read. Otherwise keys
 * are walked under the deadline, reading a record only where the index did not decide;
 * a walk the deadline cuts answers what it counted so far, with `timedOut` (a lower bound).
 */
export function runCount(dbs: StoreDbs, filters: readonly Filter[], opts: CountOptions): CountResult {
  const scan = new Scan(dbs, opts.deadline, nowSeconds(opts.now), opts.accept, opts.restricted);
  const planned: [Filter, Plan][] = [];
  for (const f of filters) {
    const plan = planFilter(dbs, f);
    if (plan.index !== 'none') planned.push([f, plan]);
  }
  // A filter no read rule can concern: its kinds are all outside `restricted`.
  const ruleFree = (f: Filter) =>
    opts.accept === undefined || (opts.restricted !== undefined && f.kinds !== undefined && !f.kinds.some(opts.restricted));
  let expired: Hit[] | undefined;
  const expiredHits = () => (expired ??= expiredIn(scan));

  if (planned.length === 1) {
    const [filter, plan] = planned[0]!;
    const disjoint = plan.index !== 'tag' || plan.ranges.length === 1;
    if (plan.index !== 'ids' && plan.exact && disjoint && ruleFree(filter)) {
      let n = 0;
      if (plan.index === 'created_at' && filter.since === undefined && filter.until === undefined) {
        // Every stored event and nothing else has one key in created_at: the table's entry
        // count (B-tree metadata, O(1)) instead of walking a million keys (24 ms at 1M).
        n = (plan.ranges[0]!.db.getStats() as { entryCount: number }).entryCount;
      } else {
        // getKeysCount walks forward: the reverse range's end is the lower bound, its start the upper.
        for (const r of plan.ranges) n += r.db.getKeysCount({ start: r.end, end: r.start });
      }
      for (const h of expiredHits()) if (matchFilter(filter, eventOf(h))) n--;
      return { count: n, timedOut: false };
    }
  }

  const counted = new Set<number>();
  outer: for (const [filter, plan] of planned) {
    if (plan.index === 'ids') {
      for (const id of new Set(filter.ids)) {
        if (scan.tick()) break outer;
        const seq = dbs.ids.get(id);
        if (seq === undefined || counted.has(seq)) continue;
        const h = scan.load(seq);
        if (h !== null && scan.matches(plan, filter, h) && scan.keep(h)) counted.add(seq);
      }
      continue;
    }
    const indexOnly = plan.exact && ruleFree(filter);
    // kindsOnly plans of rule-free filters: keep() would only check expiry for a match.
    const headerOnly = !indexOnly && plan.kindsOnly && ruleFree(filter);
    let dead: Set<number> | undefined;
    if (indexOnly) dead = new Set(expiredHits().map((h) => h.seq));
    for (const r of plan.ranges) {
      for (const k of rangeKeys(r)) {
        if (scan.tick()) break outer;
        const seq = (k as number[])[(k as number[]).length - 1]!;
        if (counted.has(seq)) continue;
        if (indexOnly) {
          if (!dead!.has(seq)) counted.add(seq);
        } else if (headerOnly) {
          // The header decides (kinds, since, until, expiry): read it in place, copy nothing.
          const rec = dbs.events.getBinaryFast(seq);
          if (rec !== undefined && headerCounts(filter, rec, scan.now)) counted.add(seq);
        } else {
          // Not remembered in scan.loaded: a count may walk millions of keys.
          const h = readHit(dbs, seq);
          if (h !== null && scan.matches(plan, filter, h) && scan.keep(h)) counted.add(seq);
        }
      }
    }
  }
  return { count: counted.size, timedOut: scan.timedOut };
}

function rangeKeys(r: ScanRange): Iterable<Key> {
  return r.db.getKeys({ start: r.start, end: r.end, reverse: true });
}

/** Stored events whose NIP-40 expiration has passed but that the sweeper has not removed yet. */
function expiredIn(scan: Scan): Hit[] {
  const out: Hit[] = [];
  for (const k of scan.dbs.expiration.getKeys({ start: [MIN_TS], end: [scan.now, MAX_SEQ], inclusiveEnd: true })) {
    const h = scan.load((k as number[])[1]!);
    if (h !== null) out.push(h);
    if (scan.tick()) break;
  }
  return out;
}
