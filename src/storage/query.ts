import type { Key } from 'lmdb';
import { matchFilter } from '../protocol/filter-match.js';
import { expirationOf } from '../protocol/kinds.js';
import type { Filter, NostrEvent } from '../protocol/types.js';
import { fromRecord, MAX_SEQ, MIN_TS, type StoreDbs } from './keys.js';
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
}

export interface QueryResult {
  events: NostrEvent[];
  timedOut: boolean;
}

export interface CountOptions {
  deadline: number;
  now?: number;
  /** As in QueryOptions; forces reading each event instead of counting index keys. */
  accept?: (e: NostrEvent, position: Position) => boolean;
}

export interface CountResult {
  count: number;
  timedOut: boolean;
}

/** Keys scanned between two looks at the clock: Date.now() is cheap but not free. */
const CLOCK_EVERY = 256;

/** NIP-01 output order: newest first, ties by id ascending. */
export function compareEvents(a: NostrEvent, b: NostrEvent): number {
  if (a.created_at !== b.created_at) return b.created_at - a.created_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function nowSeconds(now?: number): number {
  return now ?? Math.floor(Date.now() / 1000);
}

function alive(e: NostrEvent, now: number): boolean {
  const exp = expirationOf(e);
  return exp === undefined || exp > now;
}

/**
 * Shared state of one REQ: events already decoded (by seq) so an event found by two
 * filters is decoded once and emitted once.
 */
class Scan {
  scanned = 0;
  timedOut = false;
  readonly decoded = new Map<number, NostrEvent | null>();
  constructor(
    readonly dbs: StoreDbs,
    readonly deadline: number,
    readonly now: number,
    private readonly accept?: (e: NostrEvent, position: Position) => boolean,
  ) {}

  /** Not expired, and visible to the caller. */
  keep(e: NostrEvent, seq: number): boolean {
    return alive(e, this.now) && (this.accept === undefined || this.accept(e, seq));
  }

  /** Count one key; true when the deadline has passed. */
  tick(): boolean {
    if (++this.scanned % CLOCK_EVERY === 0 && Date.now() > this.deadline) this.timedOut = true;
    return this.timedOut;
  }

  load(seq: number): NostrEvent | null {
    let e = this.decoded.get(seq);
    if (e === undefined) {
      const rec = this.dbs.events.get(seq);
      e = rec === undefined ? null : fromRecord(rec);
      this.decoded.set(seq, e);
    }
    return e;
  }
}

export function runQuery(dbs: StoreDbs, filters: readonly Filter[], opts: QueryOptions): QueryResult {
  const scan = new Scan(dbs, opts.deadline, nowSeconds(opts.now), opts.accept);
  const out = new Map<string, NostrEvent>();
  // No deadline check before the first key: the scan checks as it goes, and a GC pause
  // between the caller setting the deadline and this line must not fail a cheap query.
  for (const filter of filters) {
    let limit = filter.limit ?? opts.limitDefault;
    if (limit > opts.limitMax) limit = opts.limitMax;
    if (!(limit > 0)) continue;
    const plan = planFilter(dbs, filter);
    const found = plan.index === 'ids' ? byIds(scan, filter, limit) : merged(scan, plan, filter, limit);
    for (const e of found) out.set(e.id, e);
    if (scan.timedOut) break;
  }
  const events = [...out.values()].sort(compareEvents);
  return { events, timedOut: scan.timedOut };
}

function byIds(scan: Scan, filter: Filter, limit: number): NostrEvent[] {
  const found: NostrEvent[] = [];
  for (const id of new Set(filter.ids)) {
    if (scan.tick()) break;
    const seq = scan.dbs.ids.get(id);
    if (seq === undefined) continue;
    const e = scan.load(seq);
    if (e !== null && matchFilter(filter, e) && scan.keep(e, seq)) found.push(e);
  }
  found.sort(compareEvents);
  if (found.length > limit) found.length = limit;
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
function merged(scan: Scan, plan: Plan, filter: Filter, limit: number): NostrEvent[] {
  const heads: Head[] = [];
  const found: NostrEvent[] = [];
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
      const e = scan.load(bestSeq);
      if (e === null || !scan.keep(e, bestSeq)) continue;
      if (!plan.exact && !matchFilter(filter, e)) continue;
      found.push(e);
      if (found.length === limit) boundary = bestCa;
    }
  } finally {
    // Leaving a cursor open pins its read transaction until GC.
    for (const h of heads) if (h.key !== undefined) h.it.return?.();
  }
  found.sort(compareEvents);
  if (found.length > limit) found.length = limit;
  return found;
}

/**
 * NIP-45: distinct events matching any filter, limits ignored. When the plan is exact
 * the keys alone decide and no record is decoded; expired events are then excluded by
 * a one-off look at the expiration index (short, since the sweeper keeps it near empty).
 */
export function runCount(dbs: StoreDbs, filters: readonly Filter[], opts: CountOptions): CountResult {
  const scan = new Scan(dbs, opts.deadline, nowSeconds(opts.now), opts.accept);
  const counted = new Set<number>();
  let expired: Set<number> | undefined;
  outer: for (const filter of filters) {
    const plan = planFilter(dbs, filter);
    if (plan.index === 'none') continue;
    if (plan.index === 'ids') {
      for (const id of new Set(filter.ids)) {
        if (scan.tick()) break outer;
        const seq = dbs.ids.get(id);
        if (seq === undefined || counted.has(seq)) continue;
        const e = scan.load(seq);
        if (e !== null && matchFilter(filter, e) && scan.keep(e, seq)) counted.add(seq);
      }
      continue;
    }
    const indexOnly = plan.exact && opts.accept === undefined;
    if (indexOnly && expired === undefined) expired = expiredSeqs(scan);
    for (const r of plan.ranges) {
      for (const k of rangeKeys(r)) {
        if (scan.tick()) break outer;
        const seq = (k as number[])[(k as number[]).length - 1]!;
        if (counted.has(seq)) continue;
        if (indexOnly) {
          if (!expired!.has(seq)) counted.add(seq);
        } else {
          const e = scan.load(seq);
          if (e !== null && matchFilter(filter, e) && scan.keep(e, seq)) counted.add(seq);
        }
      }
    }
  }
  return { count: counted.size, timedOut: scan.timedOut };
}

function rangeKeys(r: ScanRange): Iterable<Key> {
  return r.db.getKeys({ start: r.start, end: r.end, reverse: true });
}

function expiredSeqs(scan: Scan): Set<number> {
  const s = new Set<number>();
  for (const k of scan.dbs.expiration.getKeys({ start: [MIN_TS], end: [scan.now, MAX_SEQ], inclusiveEnd: true })) {
    s.add((k as number[])[1]!);
    if (scan.tick()) break;
  }
  return s;
}
