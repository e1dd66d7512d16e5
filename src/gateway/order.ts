import type { Database, Key } from 'lmdb';
import { expirationOf } from '../protocol/kinds.js';
import type { NostrEvent } from '../protocol/types.js';
import { encodeCursor, MAX_POSITION, type Position } from '../storage/position.js';
import type { GatewayTables } from './tables.js';
import { onlyTag, tagValues } from './tags.js';

/**
 * Catch-up in the relay's order. Two indexes keyed by position, written by the event's
 * write effect and removed by the writer's removal hook, so they hold exactly the stored
 * events: gw:order_group [group_id, position] for 445, gw:order_rcpt [recipient, position]
 * for what /messages/missed serves (446, 447, 1059 by their `p`).
 */
export const ADDRESSED_KINDS = [446, 447, 1059];

export type OrderIndex = 'group' | 'recipient';

function indexKeys(e: NostrEvent): { db: OrderIndex; keys: string[] } | undefined {
  if (e.kind === 445) {
    const g = onlyTag(e, 'h');
    return g === undefined ? undefined : { db: 'group', keys: [g] };
  }
  if (ADDRESSED_KINDS.includes(e.kind)) return { db: 'recipient', keys: [...new Set(tagValues(e, 'p'))] };
  return undefined;
}

function dbOf(t: GatewayTables, which: OrderIndex): Database<number, Key> {
  return which === 'group' ? t.orderGroup : t.orderRcpt;
}

/** Inside the event's write transaction. */
export function indexInOrder(t: GatewayTables, e: NostrEvent, position: Position): void {
  const k = indexKeys(e);
  if (k === undefined) return;
  const db = dbOf(t, k.db);
  for (const key of k.keys) db.putSync([key, position], 1);
}

/** The writer's removal hook: whatever removed the event, its entries go with it. */
export function unindexInOrder(t: GatewayTables, e: NostrEvent, position: Position): void {
  const k = indexKeys(e);
  if (k === undefined) return;
  const db = dbOf(t, k.db);
  for (const key of k.keys) db.removeSync([key, position]);
}

/** Upgrade of a store written before the indexes existed: one pass over the kinds they cover. */
export function rebuildOrderIndex(t: GatewayTables, stored: Iterable<[Position, NostrEvent]>): void {
  for (const db of [t.orderGroup, t.orderRcpt]) for (const k of [...db.getKeys({})]) db.removeSync(k);
  for (const [position, e] of stored) indexInOrder(t, e, position);
}

export interface OrderRead {
  index: OrderIndex;
  key: string;
  /** Exclusive: only events after this position. */
  after: Position;
  /** created_at >= since. */
  since: number;
  limit: number;
  now: number;
  deadline: number;
  /** Index entries examined at most, so one page costs a bounded amount whatever the filter skips. */
  maxScan: number;
  load: (position: Position) => NostrEvent | undefined;
  accept: (e: NostrEvent, position: Position) => boolean;
}

export interface OrderPage {
  messages: NostrEvent[];
  count: number;
  has_more: boolean;
  next: string | null;
}

/**
 * One page, oldest first in relay order. `next` is the cursor of the last event returned,
 * or of the last entry examined when the scan bound stopped the page early (entries before
 * it were all skipped, so no event is lost by resuming there); null when the page is empty
 * and nothing was examined. `has_more`: more entries follow `next`.
 */
export function readInOrder(t: GatewayTables, r: OrderRead): OrderPage {
  const db = dbOf(t, r.index);
  const found: Array<[Position, NostrEvent]> = [];
  let examined = 0;
  let lastExamined: Position | undefined;
  let cut = false;
  for (const k of db.getKeys({ start: [r.key, r.after + 1], end: [r.key, MAX_POSITION] })) {
    const position = (k as [string, number])[1];
    if (examined >= r.maxScan || (examined % 64 === 0 && examined > 0 && Date.now() > r.deadline)) {
      cut = true;
      break;
    }
    examined++;
    lastExamined = position;
    const e = r.load(position);
    if (e === undefined || e.created_at < r.since) continue;
    const exp = expirationOf(e);
    if (exp !== undefined && exp <= r.now) continue;
    if (!r.accept(e, position)) continue;
    found.push([position, e]);
    if (found.length > r.limit) break;
  }
  const more = found.length > r.limit;
  const page = more ? found.slice(0, r.limit) : found;
  let nextPos: Position | undefined = page.length > 0 ? page[page.length - 1]![0] : undefined;
  // Stopped by the bound: resume after what was examined (all of it skipped or returned).
  if (cut && !more) nextPos = lastExamined;
  const messages = page.map(([, e]) => e);
  return { messages, count: messages.length, has_more: more || cut, next: nextPos === undefined ? null : encodeCursor(nextPos) };
}
