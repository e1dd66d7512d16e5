import { rebuildMailboxCounts } from '../../actors/mailbox.js';
import { listMembers, rebuildMemberIndex } from '../../actors/roster.js';
import type { EventStore } from '../storage/event-store.js';
import { rebuildIntervals } from './intervals.js';
import { ADDRESSED_KINDS, rebuildOrderIndex } from './order.js';
import type { GatewayTables } from './tables.js';

/** What a build may read besides the gateway tables. */
export type UpgradeSource = Pick<EventStore, 'withPositions'>;

/**
 * Derived tables added after stores already existed: each is built once from its source
 * table (one full read, at start-up), then kept in step by every write. The mark in gw:meta
 * commits in the same transaction as the build, so a crash mid-way simply builds again.
 */
const DERIVED: Array<{ mark: string; build: (t: GatewayTables, src: UpgradeSource) => void }> = [
  { mark: 'mbox_count.v1', build: rebuildMailboxCounts },
  { mark: 'by_member.v1', build: rebuildMemberIndex },
  { mark: 'order.v1', build: (t, src) => rebuildOrderIndex(t, src.withPositions([445, ...ADDRESSED_KINDS])) },
  {
    mark: 'member_iv.v1',
    build: (t) =>
      rebuildIntervals(t, (g) => {
        const r = t.roster.get(g);
        return r === undefined ? [] : [r.owner, ...r.admins, ...listMembers(t, g)];
      }),
  },
];

/** Inside a write transaction (a writer task); returns the marks it built. */
export function upgradeTables(t: GatewayTables, src: UpgradeSource): string[] {
  const built: string[] = [];
  for (const d of DERIVED) {
    if (t.meta.doesExist(d.mark)) continue;
    d.build(t, src);
    t.meta.putSync(d.mark, 1);
    built.push(d.mark);
  }
  return built;
}
