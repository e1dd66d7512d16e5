import { createStore } from '@xstate/store';
import type { NostrEvent } from '../src/protocol/types.js';
import { WriteRejection } from '../src/storage/writer.js';
import { isGroupId, isHexKey, onlyTag, tagValues } from '../src/gateway/tags.js';
import { noteMembership } from '../src/gateway/intervals.js';
import type { GatewayTables, RosterRecord } from '../src/gateway/tables.js';
import type { Position } from '../src/storage/position.js';
import type { Supervised } from './supervisor.js';

export const ROSTER_OPS = ['bootstrap', 'add', 'remove', 'replace', 'promote', 'demote'] as const;
export type RosterOp = (typeof ROSTER_OPS)[number];

export interface RosterCommand {
  group: string;
  seq: number;
  op: RosterOp;
  keys: string[];
}

/** Digits only (no sign, exponent or fraction), exactly representable: 16 digits reach Number.MAX_SAFE_INTEGER. */
export function parseSeq(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Shape of a kind 450 (no state needed): the command, or a rejection message. */
export function parseRosterEvent(e: NostrEvent): RosterCommand | string {
  const group = onlyTag(e, 'h');
  if (!isGroupId(group)) return 'invalid: kind 450 needs exactly one h tag with the group id';
  const seq = parseSeq(onlyTag(e, 'seq'));
  if (seq === undefined) return `invalid: kind 450 needs exactly one seq tag with a decimal integer of at most ${Number.MAX_SAFE_INTEGER}`;
  const op = onlyTag(e, 'op');
  if (op === undefined || !(ROSTER_OPS as readonly string[]).includes(op)) {
    return `invalid: kind 450 needs one op tag: ${ROSTER_OPS.join(', ')}`;
  }
  const keys = tagValues(e, 'p');
  for (const k of keys) if (!isHexKey(k)) return 'invalid: p tags of kind 450 must be 64-char lowercase hex public keys';
  if ((op === 'add' || op === 'remove' || op === 'promote' || op === 'demote') && keys.length === 0) {
    return `invalid: op ${op} needs at least one p tag`;
  }
  const role = tagValues(e, 'role');
  if (role.some((r) => r !== 'admin' && r !== 'member')) return 'invalid: role must be "admin" or "member"';
  if ((op === 'promote' || op === 'demote') && !role.includes('admin')) return `invalid: op ${op} needs ["role","admin"]`;
  return { group, seq, op: op as RosterOp, keys: [...new Set(keys)] };
}

/** Owner, one of the group's admins, or a relay admin. */
export function mayManage(roster: RosterRecord | undefined, pubkey: string, isRelayAdmin: (pk: string) => boolean): boolean {
  if (isRelayAdmin(pubkey)) return true;
  return roster !== undefined && (roster.owner === pubkey || roster.admins.includes(pubkey));
}

/** What decideRoster needs to know besides the roster itself. */
export interface RosterContext {
  author: string;
  connection: readonly string[];
  isRelayAdmin: (pk: string) => boolean;
  /** Whether the relay has seen traffic for the group (group-policy.ts groupHasTraffic); read only for bootstrap. */
  hasTraffic: () => boolean;
  /** roster_max_seq_step. */
  maxSeqStep: number;
  /**
   * group_policy "roster": groups are created by clients, so any authenticated connection may
   * bootstrap a group the relay has never seen (its author becomes owner). Otherwise relay
   * admins provision groups, as before.
   */
  openBootstrap: boolean;
}

/**
 * Who may apply `cmd` given the roster as it is now, and whether its seq is next. Runs
 * once as a cheap pre-check in the EVENT policy and again inside the write transaction,
 * where the answer is final: two 450s racing for one seq both pass the first check, and
 * the transaction order decides the winner.
 */
export function decideRoster(cmd: RosterCommand, roster: RosterRecord | undefined, x: RosterContext): string | undefined {
  const signers = [x.author, ...x.connection];
  const step = x.maxSeqStep;
  if (cmd.op === 'bootstrap') {
    if (roster !== undefined) return `invalid: group ${cmd.group} already has a roster (bootstrap needs an unknown group)`;
    if (cmd.seq > step) return `invalid: sequence ${cmd.seq} jumps too far (last 0, max step ${step})`;
    if (signers.some(x.isRelayAdmin)) return undefined;
    if (!x.openBootstrap) return refuseManage(cmd, x);
    if (x.connection.length === 0) return `auth-required: bootstrapping group ${cmd.group} needs an authenticated connection`;
    // Whoever bootstraps becomes owner: over a group already in use (a Marmot group known only
    // by its h) that would hand its traffic to the first taker, so only a relay admin may.
    if (x.hasTraffic()) return `restricted: group ${cmd.group} already has traffic; only a relay admin may bootstrap its roster`;
    return undefined;
  }
  if (!signers.some((pk) => mayManage(roster, pk, x.isRelayAdmin))) return refuseManage(cmd, x);
  if (roster === undefined) return `invalid: unknown group ${cmd.group}; bootstrap it first`;
  if (cmd.seq <= roster.last_seq) return `invalid: stale sequence ${cmd.seq} (last ${roster.last_seq})`;
  // Bounded so that no one 450 can push seq to the end of its range and freeze the roster.
  if (cmd.seq - roster.last_seq > step) return `invalid: sequence ${cmd.seq} jumps too far (last ${roster.last_seq}, max step ${step})`;
  return undefined;
}

function refuseManage(cmd: RosterCommand, x: RosterContext): string {
  if (x.connection.length === 0) return `auth-required: roster changes for group ${cmd.group} need its owner, one of its admins or a relay admin`;
  return `restricted: only the owner, an admin of group ${cmd.group} or a relay admin may change its roster`;
}

const KEY_END = '\uffff';

export function isListedMember(t: GatewayTables, group: string, pubkey: string): boolean {
  return t.members.doesExist([group, pubkey]);
}

export function listMembers(t: GatewayTables, group: string): string[] {
  const out: string[] = [];
  for (const k of t.members.getKeys({ start: [group], end: [group, KEY_END] })) out.push((k as string[])[1]!);
  return out;
}

/**
 * Members, admins and the owner may read and write the group's traffic. `r` is the
 * group's roster record when the caller has read it already.
 */
export function isMember(t: GatewayTables, group: string, pubkey: string, r: RosterRecord | undefined = t.roster.get(group)): boolean {
  if (r === undefined) return false;
  return r.owner === pubkey || r.admins.includes(pubkey) || isListedMember(t, group, pubkey);
}

/**
 * gw:by_member for `pks` once `group`'s roster is `r` (inside the same transaction): a row
 * for each who may read the group, none for the others. Keeps GET /groups to the caller's
 * own rows instead of a pass over every group.
 */
function syncMemberIndex(t: GatewayTables, group: string, pks: Iterable<string>, r: RosterRecord): void {
  for (const pk of new Set(pks)) {
    if (isMember(t, group, pk, r)) t.byMember.putSync([pk, group], 1);
    else t.byMember.removeSync([pk, group]);
  }
}

/** Groups `pubkey` may read, by id, after the id `after` (exclusive): one page. */
export function groupsOf(t: GatewayTables, pubkey: string, after: string | undefined, limit: number): string[] {
  const out: string[] = [];
  for (const k of t.byMember.getKeys({ start: [pubkey, after ?? ''], end: [pubkey, KEY_END] })) {
    const g = (k as string[])[1]!;
    if (g === after) continue;
    out.push(g);
    if (out.length >= limit) break;
  }
  return out;
}

/** gw:by_member from the rosters: run once by upgrade.ts on a store written before the index existed. */
export function rebuildMemberIndex(t: GatewayTables): void {
  for (const k of [...t.byMember.getKeys({})]) t.byMember.removeSync(k);
  for (const { key, value: r } of t.roster.getRange({})) {
    const group = key as string;
    syncMemberIndex(t, group, [r.owner, ...r.admins, ...listMembers(t, group)], r);
  }
}

function countMembers(t: GatewayTables, group: string): number {
  let n = 0;
  for (const _ of t.members.getKeys({ start: [group], end: [group, KEY_END] })) n++;
  return n;
}

/**
 * The roster's transition function, inside the event's write transaction: re-decides
 * with the committed state (a losing racer gets WriteRejection, so its event is not
 * stored), then writes the roster record, the member rows and the audit-log entry.
 */
export function applyRoster(t: GatewayTables, e: NostrEvent, cmd: RosterCommand, x: RosterContext, now: number, position: Position): void {
  const before = t.roster.get(cmd.group);
  const refusal = decideRoster(cmd, before, x);
  if (refusal !== undefined) throw new WriteRejection(refusal);
  // Membership intervals: who could read before this event, compared below with after it.
  const candidates = [...cmd.keys, e.pubkey, ...(before ? [before.owner, ...before.admins] : []), ...(cmd.op === 'replace' ? listMembers(t, cmd.group) : [])];
  const was = new Map(candidates.map((pk) => [pk, isMember(t, cmd.group, pk, before)]));
  const r: RosterRecord = before
    ? { ...before, admins: [...before.admins] }
    : { group_id: cmd.group, owner: e.pubkey, admins: [e.pubkey], last_seq: cmd.seq, member_count: 0, created_at: now, updated_at: now };
  const touched: string[] = [...cmd.keys, ...(before ? [before.owner, ...before.admins] : [])];
  const add = (pk: string) => t.members.putSync([cmd.group, pk], now);
  const drop = (pk: string) => {
    t.members.removeSync([cmd.group, pk]);
    touched.push(pk);
  };
  switch (cmd.op) {
    case 'bootstrap':
    case 'add':
      cmd.keys.forEach(add);
      break;
    case 'remove':
      cmd.keys.forEach(drop);
      // A removed admin loses the role too; the owner stays owner (ownership is not a membership).
      r.admins = r.admins.filter((a) => !cmd.keys.includes(a) || a === r.owner);
      break;
    case 'replace': {
      const keep = new Set(cmd.keys);
      for (const pk of listMembers(t, cmd.group)) if (!keep.has(pk)) drop(pk);
      cmd.keys.forEach(add);
      break;
    }
    case 'promote':
      for (const pk of cmd.keys) if (!r.admins.includes(pk)) r.admins.push(pk);
      break;
    case 'demote':
      r.admins = r.admins.filter((a) => !cmd.keys.includes(a));
      break;
  }
  r.last_seq = cmd.seq;
  r.member_count = countMembers(t, cmd.group);
  r.updated_at = now;
  t.roster.putSync(cmd.group, r);
  syncMemberIndex(t, cmd.group, [...touched, r.owner, ...r.admins], r);
  for (const [pk, w] of was) noteMembership(t, cmd.group, pk, w, isMember(t, cmd.group, pk, r), position);
  t.rosterLog.putSync([cmd.group, cmd.seq], { id: e.id, op: cmd.op, created_at: e.created_at });
}

/** A member joining through a gift wrap (membership_from_giftwrap); no-op for unknown groups. */
export function addMemberFromGiftwrap(t: GatewayTables, group: string, pubkey: string, now: number, position: Position): boolean {
  const r = t.roster.get(group);
  if (r === undefined || isListedMember(t, group, pubkey)) return false;
  noteMembership(t, group, pubkey, isMember(t, group, pubkey, r), true, position);
  t.members.putSync([group, pubkey], now);
  t.byMember.putSync([pubkey, group], 1);
  t.roster.putSync(group, { ...r, member_count: r.member_count + 1, updated_at: now });
  return true;
}


interface RosterView {
  group_id: string;
  exists: boolean;
  owner: string | null;
  admins: string[];
  member_count: number;
  last_seq: number | null;
  applied: number;
  updated_at: number | null;
}

/**
 * One per group with a roster. Its state is read from gw:roster / gw:members only, so a
 * restart (or a supervisor restart after a failure) rebuilds exactly what was committed.
 * The transition itself (applyRoster) runs inside the writer's transaction; the actor
 * reloads once the commit is durable.
 */
export class RosterActor implements Supervised {
  readonly kind = 'roster';
  readonly id: string;
  readonly state;

  constructor(
    private readonly tables: GatewayTables,
    readonly groupId: string,
  ) {
    this.id = `roster:${groupId}`;
    this.state = createStore({
      context: this.load(0),
      on: {
        loaded: (_c, e: { view: RosterView }) => e.view,
      },
    });
  }

  private load(applied: number): RosterView {
    const r = this.tables.roster.get(this.groupId);
    return {
      group_id: this.groupId,
      exists: r !== undefined,
      owner: r?.owner ?? null,
      admins: r?.admins ?? [],
      member_count: r?.member_count ?? 0,
      last_seq: r?.last_seq ?? null,
      applied,
      updated_at: r?.updated_at ?? null,
    };
  }

  /** After a commit that touched this roster. */
  refresh(applied = false): void {
    const prev = this.state.getSnapshot().context.applied;
    this.state.trigger.loaded({ view: this.load(prev + (applied ? 1 : 0)) });
  }

  snapshot(): Record<string, unknown> {
    return { ...this.state.getSnapshot().context };
  }

  stop(_reason: string): void {
    /* state is durable; nothing to release */
  }
}
