/** Kind 445: an MLS group message, signed by a key used once so the relay cannot link a sender's messages. */
import type { NostrEvent } from '../protocol/types.js';
import { KIND } from './kinds.js';
import { fromBase64, toBase64 } from './encoding.js';
import { oneShotKey, signEvent } from './sign.js';
import { tagValue } from './tags.js';

export interface GroupMessageOptions {
  /** The `h` tag: the group id as the relay knows it (roster, registry). */
  groupId: string;
  /** The encoded MLSMessage (usually a PrivateMessage). */
  message: Uint8Array;
  /** The MLS epoch the message belongs to (`k` tag). */
  epoch?: number | bigint;
  /**
   * Set when the message is a Commit: the epoch it was created in (`["mls_commit", N]`).
   * A relay with commit_fencing accepts only the first Commit per group and epoch, and its
   * registry's last_epoch moves only with accepted Commits. Wait for OK true before sending
   * the Welcomes of this Commit.
   */
  commitEpoch?: number | bigint;
  /** `p` hints for push routing. */
  hints?: string[];
  mlsVersion?: string;
  /** NIP-40 expiry, unix seconds. */
  expiration?: number;
  created_at?: number;
  /** Only for tests that need a stable author; real clients let a fresh key be drawn. */
  signer?: Uint8Array;
}

export function buildGroupMessage(o: GroupMessageOptions): NostrEvent {
  const tags: string[][] = [['h', o.groupId]];
  if (o.epoch !== undefined) tags.push(['k', String(o.epoch)]);
  if (o.commitEpoch !== undefined) tags.push(['mls_commit', String(o.commitEpoch)]);
  for (const p of o.hints ?? []) tags.push(['p', p]);
  if (o.mlsVersion !== undefined) tags.push(['mls_ver', o.mlsVersion]);
  if (o.expiration !== undefined) tags.push(['expiration', String(o.expiration)]);
  return signEvent(o.signer ?? oneShotKey(), { kind: KIND.GROUP_MESSAGE, content: toBase64(o.message), tags, created_at: o.created_at });
}

export function groupMessageBytes(e: Pick<NostrEvent, 'content'>): Uint8Array {
  return fromBase64(e.content);
}

/** The epoch a Commit declares (`mls_commit`), or undefined for other messages. */
export function groupMessageCommitEpoch(e: Pick<NostrEvent, 'tags'>): bigint | undefined {
  const v = tagValue(e, 'mls_commit');
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined;
}

export function groupMessageEpoch(e: Pick<NostrEvent, 'tags'>): bigint | undefined {
  const k = tagValue(e, 'k');
  return k !== undefined && /^\d+$/.test(k) ? BigInt(k) : undefined;
}
