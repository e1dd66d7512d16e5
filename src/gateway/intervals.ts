import type { Position } from '../storage/position.js';
import type { GatewayTables } from './tables.js';

/**
 * Membership intervals: gw:member_iv [group_id, pubkey, from] -> to | null (open). A
 * pubkey is a member of a roster group for stored-read purposes at positions strictly
 * between `from` (the event that made it owner, admin or member) and `to` (the event
 * that ended that). Stored 445s are served to a member only from its intervals; live
 * delivery still follows the roster as it is at delivery time.
 */
export type Interval = [from: Position, to: Position | null];

/** Record a change of one pubkey's membership made by the event at `position` (inside its transaction). */
export function noteMembership(t: GatewayTables, group: string, pubkey: string, was: boolean, is: boolean, position: Position): void {
  if (was === is) return;
  if (is) return openInterval(t, group, pubkey, position);
  const last = lastInterval(t, group, pubkey);
  if (last !== undefined && last[1] === null) t.memberIv.putSync([group, pubkey, last[0]], position);
}

function openInterval(t: GatewayTables, group: string, pubkey: string, position: Position): void {
  const last = lastInterval(t, group, pubkey);
  if (last !== undefined && last[1] === null) return; // already open
  t.memberIv.putSync([group, pubkey, position], null);
}

function lastInterval(t: GatewayTables, group: string, pubkey: string): Interval | undefined {
  for (const { key, value } of t.memberIv.getRange({ start: [group, pubkey, Number.MAX_SAFE_INTEGER], end: [group, pubkey, -1], reverse: true, limit: 1 })) {
    return [(key as [string, string, number])[2], value];
  }
  return undefined;
}

/** Every interval of one member, oldest first. */
export function intervalsOf(t: GatewayTables, group: string, pubkey: string): Interval[] {
  const out: Interval[] = [];
  for (const { key, value } of t.memberIv.getRange({ start: [group, pubkey, -1], end: [group, pubkey, Number.MAX_SAFE_INTEGER] })) {
    out.push([(key as [string, string, number])[2], value]);
  }
  return out;
}

export function within(intervals: readonly Interval[], position: Position): boolean {
  for (const [from, to] of intervals) if (from < position && (to === null || position < to)) return true;
  return false;
}

/**
 * Upgrade of a store written before intervals existed: whoever is owner, admin or member
 * now has been one since the start as far as the relay can tell.
 */
export function rebuildIntervals(t: GatewayTables, membersOf: (group: string) => Iterable<string>): void {
  for (const k of [...t.memberIv.getKeys({})]) t.memberIv.removeSync(k);
  for (const g of t.roster.getKeys({})) {
    for (const pk of new Set(membersOf(g as string))) t.memberIv.putSync([g as string, pk, 0], null);
  }
}
