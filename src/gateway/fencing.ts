import type { NostrEvent } from '../protocol/types.js';
import { WriteRejection } from '../storage/writer.js';
import type { GatewayTables } from './tables.js';
import { countTags, decimal, isHexKey, onlyTag } from './tags.js';

/**
 * Commit fencing (RFC 9750 §5.2). A 445 that declares itself a Commit carries
 * ["mls_commit", "<epoch>"], the epoch the Commit was created in. The first such Commit
 * per (group, epoch) in the relay's order is the epoch's winner, recorded in
 * gw:commits [group, epoch] -> id and gw:commit_ids id -> [group, epoch]. With
 * commit_fencing on, a later one is refused; off, it is stored but never recorded.
 */
export const COMMIT_TAG = 'mls_commit';

/** The declared epoch of a 445 Commit; undefined for any other message. */
export function commitEpoch(e: NostrEvent): number | undefined {
  return decimal(onlyTag(e, COMMIT_TAG));
}

/** Shape of the tag on a 445 (policy, before the write). */
export function checkCommitTag(e: NostrEvent): string | undefined {
  const n = countTags(e, COMMIT_TAG);
  if (n === 0) return undefined;
  const epoch = commitEpoch(e);
  if (n > 1 || epoch === undefined) return 'invalid: kind 445 takes at most one mls_commit tag with a decimal epoch';
  const k = onlyTag(e, 'k');
  if (k !== undefined && decimal(k) !== epoch) return 'invalid: kind 445 mls_commit epoch differs from its k tag';
  return undefined;
}

/** Shape of the tag on a 1059 (policy): it names the Commit its Welcome belongs to. */
export function checkWelcomeCommitTag(e: NostrEvent): string | undefined {
  const n = countTags(e, COMMIT_TAG);
  if (n === 0) return undefined;
  if (n > 1 || !isHexKey(onlyTag(e, COMMIT_TAG))) return 'invalid: kind 1059 takes at most one mls_commit tag with the event id of its Commit';
  return undefined;
}

export function fencedMessage(group: string, epoch: number, winner: string): string {
  return `blocked: epoch ${epoch} of group ${group} already has commit ${winner}`;
}

/**
 * Inside the Commit's write transaction: true when it is the first Commit of (group,
 * epoch) in relay order (and is now recorded as the winner). With fencing on, a later
 * one throws WriteRejection naming the winner, so it is not stored; so does a Commit for
 * an epoch other than the group's current one once that is known, because a member could
 * otherwise claim a future epoch in advance and block the real Commit when the group gets
 * there (or bury a past one). The first Commit the relay sees for a group sets the epoch.
 */
export function fenceCommit(t: GatewayTables, group: string, epoch: number, id: string, fencing: boolean): boolean {
  const winner = t.commits.get([group, epoch]);
  if (winner !== undefined) {
    if (fencing) throw new WriteRejection(fencedMessage(group, epoch, winner));
    return false;
  }
  const current = t.groups.get(group)?.last_epoch ?? null;
  if (fencing && current !== null && epoch !== current) {
    throw new WriteRejection(`blocked: epoch ${epoch} of group ${group} is not its current epoch ${current}`);
  }
  t.commits.putSync([group, epoch], id);
  t.commitIds.putSync(id, [group, epoch]);
  return true;
}

/**
 * Inside the 1059's write transaction, with fencing on: a wrap that names its Commit is
 * refused unless that Commit is an epoch's winner (of the wrap's `h` group, when it has
 * one). Clients publish the Commit, wait for its OK true, then send the Welcomes.
 */
export function checkWelcomeCommit(t: GatewayTables, e: NostrEvent, fencing: boolean): void {
  if (!fencing) return;
  const id = onlyTag(e, COMMIT_TAG);
  if (id === undefined) return;
  const won = t.commitIds.get(id);
  const group = onlyTag(e, 'h');
  if (won === undefined) throw new WriteRejection(`blocked: commit ${id} is not an accepted commit`);
  if (group !== undefined && won[0] !== group) throw new WriteRejection(`blocked: commit ${id} is not an accepted commit of group ${group}`);
}
