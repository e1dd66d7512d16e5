/** Kind 450: a roster / policy change, applied by the relay in strict `seq` order. */
import type { NostrEvent } from '../protocol/types.js';
import { KIND } from './kinds.js';
import { signEvent } from './sign.js';

export type RosterOp = 'bootstrap' | 'add' | 'remove' | 'replace' | 'promote' | 'demote';

export interface RosterOptions {
  groupId: string;
  /** Must exceed the group's last accepted seq; a client keeps its own counter. */
  seq: number | bigint;
  op: RosterOp;
  members?: string[];
  /** promote / demote need role "admin". */
  role?: 'admin' | 'member';
  note?: string;
  created_at?: number;
}

export function buildRosterEvent(sk: Uint8Array, o: RosterOptions): NostrEvent {
  const tags: string[][] = [['h', o.groupId], ['seq', String(o.seq)], ['op', o.op]];
  for (const p of o.members ?? []) tags.push(['p', p]);
  if (o.role !== undefined) tags.push(['role', o.role]);
  if (o.note !== undefined) tags.push(['note', o.note]);
  return signEvent(sk, { kind: KIND.ROSTER, content: '', tags, created_at: o.created_at });
}
