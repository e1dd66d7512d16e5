import { rebuildMailboxCounts } from '../../actors/mailbox.js';
import { rebuildMemberIndex } from '../../actors/roster.js';
import type { GatewayTables } from './tables.js';

/**
 * Derived tables added after stores already existed: each is built once from its source
 * table (one full read, at start-up), then kept in step by every write. The mark in gw:meta
 * commits in the same transaction as the build, so a crash mid-way simply builds again.
 */
const DERIVED: Array<{ mark: string; build: (t: GatewayTables) => void }> = [
  { mark: 'mbox_count.v1', build: rebuildMailboxCounts },
  { mark: 'by_member.v1', build: rebuildMemberIndex },
];

/** Inside a write transaction (a writer task); returns the marks it built. */
export function upgradeTables(t: GatewayTables): string[] {
  const built: string[] = [];
  for (const d of DERIVED) {
    if (t.meta.doesExist(d.mark)) continue;
    d.build(t);
    t.meta.putSync(d.mark, 1);
    built.push(d.mark);
  }
  return built;
}
