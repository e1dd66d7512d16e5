import { isMember } from '../../actors/roster.js';
import type { MlsGatewayConfig } from '../config/types.js';
import type { EventStore } from '../storage/event-store.js';
import type { GatewayTables, RosterRecord } from './tables.js';

/**
 * Who may read and write one group's 445 traffic. One function for every path (EVENT,
 * REQ, COUNT, live delivery, REST) so they cannot drift apart.
 *
 * `roster` resolves per group: a group with a 450 roster is members only, a group without
 * one (a Marmot group: 445 with only `h`, never a 450) is open to authenticated pubkeys.
 */
export type GroupPolicy = MlsGatewayConfig['group_policy'];
export type GroupRule = 'members' | 'authenticated' | 'open';

export function groupRule(policy: GroupPolicy, roster: RosterRecord | undefined): GroupRule {
  if (policy === 'roster') return roster === undefined ? 'authenticated' : 'members';
  return policy;
}

/** `roster` is the group's record when the caller has read it already (fan-out memo). */
export function mayUseGroup(
  t: GatewayTables,
  policy: GroupPolicy,
  group: string,
  pubkeys: readonly string[],
  roster: RosterRecord | undefined = t.roster.get(group),
): boolean {
  const rule = groupRule(policy, roster);
  if (rule === 'open') return true;
  if (pubkeys.length === 0) return false;
  if (rule === 'authenticated') return true;
  return pubkeys.some((pk) => isMember(t, group, pk, roster));
}

/**
 * Whether the relay has seen traffic for `group`: a registry row (every accepted 445 writes
 * one in its own transaction, as do POST /groups and bootstraps) or, for 445s stored while
 * the gateway was off, any stored 445 with that `h` (one index probe).
 */
export function groupHasTraffic(t: GatewayTables, store: EventStore, group: string): boolean {
  if (t.groups.doesExist(group)) return true;
  const r = store.query([{ kinds: [445], tags: { h: [group] }, limit: 1 }], { limitDefault: 1, limitMax: 1, deadline: Date.now() + 1000 });
  // A probe that ran out of time proves nothing: count it as traffic (only a relay admin may then bootstrap).
  return r.timedOut || r.events.length > 0;
}
