import type { Filter, NostrEvent } from '../protocol/types.js';
import { matchFilter } from '../protocol/filter-match.js';
import { ByConnection } from './by-connection.js';

/**
 * The fields of an event that live matching reads. content and sig are left out on purpose:
 * the match worker receives events by structured clone, and content can be large.
 */
export type MatchEvent = Pick<NostrEvent, 'id' | 'pubkey' | 'kind' | 'created_at' | 'tags'>;

/** One open subscription as the index returns it. */
export interface Subscription<T = undefined> {
  readonly connId: number;
  readonly subId: string;
  readonly filters: readonly Filter[];
  /** Whatever the caller attached in add(); the match worker keeps a numeric handle here. */
  readonly data: T | undefined;
}

export interface IndexStats {
  subscriptions: number;
  connections: number;
  /** Filters held, including those that can never match (not placed in any bucket). */
  filters: number;
  neverMatch: number;
  /** Entries (filter × bucket key) per bucket family, and distinct keys per family. */
  byId: { keys: number; entries: number };
  byAuthor: { keys: number; entries: number };
  byTag: { names: number; keys: number; entries: number };
  byKind: { keys: number; entries: number };
  matchAll: number;
}

class SubRecord<T> implements Subscription<T> {
  /** Last match() call that reported this subscription; makes "once per event" allocation-free. */
  stamp = 0;
  /** The index's own entries, kept so removal deletes the very objects that were filed (O(1) per Set). */
  entries: Entry<T>[] = NO_ENTRIES;
  constructor(
    readonly connId: number,
    readonly subId: string,
    readonly filters: readonly Filter[],
    readonly data: T | undefined,
  ) {}
}

interface Entry<T> {
  readonly sub: SubRecord<T>;
  readonly filter: Filter;
}

/**
 * The entries filed under one key. A key most often has one filter (a user's own pubkey, one
 * event id), so a lone entry is filed as it is and a Set is made only for a second one: an empty
 * Set costs about 150 bytes.
 */
type Bucket<T> = Entry<T> | Set<Entry<T>>;

const NO_ENTRIES: never[] = [];

/**
 * Open subscriptions indexed for live fan-out (strfry's ReqMonitor idea): each filter is filed
 * under its single most selective field, so one event only looks at the filters that could
 * possibly want it, and each of those is confirmed with the full matchFilter.
 *
 * Key scheme: a subscription is identified by (connId, subId), because the connection owns its
 * subscription ids and closing a connection must drop all of them at once (removeConnection)
 * without scanning. Adding an existing (connId, subId) replaces it, as a REQ with a reused id does.
 */
export class SubscriptionIndex<T = undefined> {
  private readonly byConn = new ByConnection<SubRecord<T>>();
  private readonly byId = new Map<string, Bucket<T>>();
  private readonly byAuthor = new Map<string, Bucket<T>>();
  /** tag name → first value → filters; nested so matching needs no string concatenation. */
  private readonly byTag = new Map<string, Map<string, Bucket<T>>>();
  private readonly byKind = new Map<number, Bucket<T>>();
  private readonly matchAll = new Set<Entry<T>>();
  private stamp = 0;
  private subCount = 0;
  private filterCount = 0;
  private neverCount = 0;
  private readonly entries = { id: 0, author: 0, tag: 0, kind: 0 };

  /** Number of subscriptions held. */
  get size(): number {
    return this.subCount;
  }

  /** The filters are kept by reference and must not be mutated afterwards (removal re-derives their keys). */
  add(connId: number, subId: string, filters: readonly Filter[], data?: T): void {
    this.remove(connId, subId);
    const sub = new SubRecord<T>(connId, subId, filters, data);
    this.byConn.set(connId, sub);
    this.subCount++;
    this.filterCount += filters.length;
    let live = 0;
    for (const filter of filters) if (!neverMatches(filter)) live++;
    this.neverCount += filters.length - live;
    if (live === 0) return;
    // Sized up front: grown from [] by push, the array would keep room for 17 entries.
    sub.entries = new Array<Entry<T>>(live);
    let i = 0;
    for (const filter of filters) {
      if (neverMatches(filter)) continue;
      const entry: Entry<T> = { sub, filter };
      sub.entries[i++] = entry;
      this.place(entry, true);
    }
  }

  /** Returns whether the subscription existed. */
  remove(connId: number, subId: string): boolean {
    const sub = this.byConn.delete(connId, subId);
    if (sub === undefined) return false;
    this.drop(sub);
    return true;
  }

  /** Returns how many subscriptions were dropped. */
  removeConnection(connId: number): number {
    const subs = this.byConn.deleteConnection(connId);
    for (const sub of subs) this.drop(sub);
    return subs.length;
  }

  clear(): void {
    this.byConn.clear();
    this.byId.clear();
    this.byAuthor.clear();
    this.byTag.clear();
    this.byKind.clear();
    this.matchAll.clear();
    this.subCount = this.filterCount = this.neverCount = 0;
    this.entries.id = this.entries.author = this.entries.tag = this.entries.kind = 0;
  }

  /** Subscriptions with at least one filter matching the event, each reported once. */
  match(event: MatchEvent): Subscription<T>[] {
    const stamp = ++this.stamp;
    const out: Subscription<T>[] = [];
    const ev = event as NostrEvent; // matchFilter never reads content or sig
    let b = this.byId.get(event.id);
    if (b !== undefined) scan(b, ev, stamp, out);
    b = this.byAuthor.get(event.pubkey);
    if (b !== undefined) scan(b, ev, stamp, out);
    if (this.byTag.size > 0) {
      for (const tag of event.tags) {
        if (tag.length < 2) continue;
        const values = this.byTag.get(tag[0]!);
        if (values === undefined) continue;
        b = values.get(tag[1]!);
        if (b !== undefined) scan(b, ev, stamp, out);
      }
    }
    b = this.byKind.get(event.kind);
    if (b !== undefined) scan(b, ev, stamp, out);
    if (this.matchAll.size > 0) scan(this.matchAll, ev, stamp, out);
    return out;
  }

  /** Every subscription, for rebuilding a copy of the index elsewhere. */
  *subscriptions(): IterableIterator<Subscription<T>> {
    yield* this.byConn.values();
  }

  stats(): IndexStats {
    let tagKeys = 0;
    for (const values of this.byTag.values()) tagKeys += values.size;
    return {
      subscriptions: this.subCount,
      connections: this.byConn.size,
      filters: this.filterCount,
      neverMatch: this.neverCount,
      byId: { keys: this.byId.size, entries: this.entries.id },
      byAuthor: { keys: this.byAuthor.size, entries: this.entries.author },
      byTag: { names: this.byTag.size, keys: tagKeys, entries: this.entries.tag },
      byKind: { keys: this.byKind.size, entries: this.entries.kind },
      matchAll: this.matchAll.size,
    };
  }

  private drop(sub: SubRecord<T>): void {
    this.subCount--;
    this.filterCount -= sub.filters.length;
    this.neverCount -= sub.filters.length - sub.entries.length;
    for (const entry of sub.entries) this.place(entry, false);
  }

  /**
   * Files (insert) or unfiles (remove) an entry. Removal recomputes the bucket keys from the filter
   * instead of remembering them: the filter is the same object, so the keys are the same.
   */
  private place(entry: Entry<T>, insert: boolean): void {
    const f = entry.filter;
    if (f.ids !== undefined) {
      this.entries.id += fileAll(this.byId, f.ids, entry, insert);
      return;
    }
    if (f.authors !== undefined) {
      this.entries.author += fileAll(this.byAuthor, f.authors, entry, insert);
      return;
    }
    const tagName = mostSelectiveTag(f);
    if (tagName !== undefined) {
      let values = this.byTag.get(tagName);
      if (values === undefined) {
        if (!insert) return;
        this.byTag.set(tagName, (values = new Map()));
      }
      this.entries.tag += fileAll(values, f.tags![tagName]!, entry, insert);
      if (values.size === 0) this.byTag.delete(tagName);
      return;
    }
    if (f.kinds !== undefined) {
      this.entries.kind += fileAll(this.byKind, f.kinds, entry, insert);
      return;
    }
    if (insert) this.matchAll.add(entry);
    else this.matchAll.delete(entry);
  }
}

/** Returns the change in entry count. */
function fileAll<K, T>(map: Map<K, Bucket<T>>, keys: readonly K[], entry: Entry<T>, insert: boolean): number {
  let delta = 0;
  for (const key of keys) {
    const bucket = map.get(key);
    // A filter listing the same value twice is filed under it once, and counted once.
    if (insert) {
      if (bucket === undefined) {
        map.set(key, entry);
        delta++;
      } else if (bucket instanceof Set) {
        const before = bucket.size;
        bucket.add(entry);
        delta += bucket.size - before;
      } else if (bucket !== entry) {
        map.set(key, new Set([bucket, entry]));
        delta++;
      }
    } else if (bucket === entry) {
      map.delete(key);
      delta--;
    } else if (bucket instanceof Set && bucket.delete(entry)) {
      delta--;
      // Back to a lone entry, so churn on a popular key does not leave Sets behind.
      if (bucket.size === 1) map.set(key, bucket.values().next().value!);
    }
  }
  return delta;
}

function scan<T>(bucket: Bucket<T>, ev: NostrEvent, stamp: number, out: Subscription<T>[]): void {
  if (!(bucket instanceof Set)) return check(bucket, ev, stamp, out);
  for (const e of bucket) check(e, ev, stamp, out);
}

function check<T>(e: Entry<T>, ev: NostrEvent, stamp: number, out: Subscription<T>[]): void {
  const sub = e.sub;
  if (sub.stamp === stamp) return;
  if (matchFilter(e.filter, ev)) {
    sub.stamp = stamp;
    out.push(sub);
  }
}

/** The tag condition with the fewest values: fewer values, fewer buckets, fewer candidates. */
function mostSelectiveTag(f: Filter): string | undefined {
  let best: string | undefined;
  let bestLen = Infinity;
  if (f.tags !== undefined) {
    for (const name in f.tags) {
      const len = f.tags[name]!.length;
      if (len < bestLen) {
        best = name;
        bestLen = len;
      }
    }
  }
  return best;
}

/** An empty list for a field, or since > until, excludes every event. */
function neverMatches(f: Filter): boolean {
  if (f.ids?.length === 0 || f.authors?.length === 0 || f.kinds?.length === 0) return true;
  if (f.since !== undefined && f.until !== undefined && f.since > f.until) return true;
  if (f.tags !== undefined) for (const name in f.tags) if (f.tags[name]!.length === 0) return true;
  return false;
}
