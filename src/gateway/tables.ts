import type { Database, Key } from 'lmdb';
import type { NostrEvent } from '../protocol/types.js';
import type { EventStore } from '../storage/event-store.js';

/**
 * The gateway's side tables, in the event store's LMDB environment so that an event and
 * its gateway effects commit in one transaction. All state the group, roster and mailbox
 * actors show is derived from these tables alone (never from scanning events), which is
 * what makes a restart rebuild them identically.
 *
 *   gw:groups      group_id                        -> GroupRecord (registry: metadata, epoch, counters)
 *   gw:roster      group_id                        -> RosterRecord (owner, admins, last_seq)
 *   gw:members     [group_id, pubkey]              -> added_at (unix s)
 *   gw:roster_log  [group_id, seq]                 -> RosterLogEntry (id of the accepted 450)
 *   gw:kp          event id                        -> KpRecord (the stock: unexpired, unconsumed)
 *   gw:kp_owner    [owner, created_at, id]         -> 1 (stock per owner, oldest first)
 *   gw:kp_exp      [expires_at, id]                -> 1 (expiry sweep)
 *   gw:kp_ref      [owner, key_ref]                -> { id, expires_at } (duplicate kpr/i guard)
 *   gw:kp_addr     [owner, d]                      -> id (current 30443 per coordinate)
 *   gw:kp_req      owner                           -> unix s of the last automatic 447
 *   gw:mbox        [recipient, box, created_at, id] -> MailboxItem
 *   gw:mbox_id     item id                         -> [recipient, box, created_at]
 *   gw:mbox_exp    [expires_at, id]                -> 1 (TTL sweep)
 *   gw:mbox_count  recipient                       -> MailboxCount (kept with every mailbox write, so no
 *                                                     deposit, pickup or ack counts a mailbox by reading it)
 *   gw:by_member   [pubkey, group_id]              -> 1 (groups a pubkey may read: owner, admin or member;
 *                                                     kept with every roster change, for GET /groups)
 *   gw:order_group [group_id, position]            -> 1 (stored 445s in relay order, see order.ts)
 *   gw:order_rcpt  [recipient, position]           -> 1 (stored 446/447/1059 by `p`, in relay order)
 *   gw:commits     [group_id, epoch]               -> id of the epoch's winning Commit (fencing.ts)
 *   gw:commit_ids  id                              -> [group_id, epoch] (the same, by Commit id)
 *   gw:member_iv   [group_id, pubkey, from]        -> to | null (membership intervals, intervals.ts)
 *   gw:meta        name                            -> schema marks (see upgrade.ts)
 */
export interface GroupRecord {
  group_id: string;
  display_name: string | null;
  avatar_url: string | null;
  relays: string[];
  last_epoch: number | null;
  last_event_ts: number | null;
  messages: number;
  created_at: number;
  updated_at: number;
}

export interface RosterRecord {
  group_id: string;
  owner: string;
  admins: string[];
  last_seq: number;
  member_count: number;
  created_at: number;
  updated_at: number;
}

export interface RosterLogEntry {
  id: string;
  op: string;
  created_at: number;
}

export interface KpRecord {
  id: string;
  owner: string;
  kind: number;
  ciphersuite: string | null;
  key_ref: string | null;
  d: string | null;
  created_at: number;
  expires_at: number;
  /**
   * From the verified KeyPackage (absent on records written before KeyPackages were decoded:
   * read as suite from `ciphersuite`, no device, no mark).
   */
  suite?: number | null;
  /** The `device` tag of the event (devices.ts); null: the identity's default device. */
  device?: string | null;
  /** The KeyPackage carries the last_resort extension: handed out, never consumed. */
  last_resort?: boolean;
  /** The event carries `["single_use","1"]`. */
  single_use?: boolean;
}

export type MailboxKind = 'welcome' | 'keypackage';

export interface MailboxItem {
  id: string;
  box: MailboxKind;
  recipient_pubkey: string;
  sender_pubkey: string;
  content_b64: string;
  tags: string[][];
  created_at: number;
  expires_at: number;
  picked_up_at: number | null;
  /** The device the item is addressed to (devices.ts); null or absent: any device of the recipient. */
  device?: string | null;
  /** Welcome items only. */
  group_id?: string | null;
  welcome_b64?: string;
  ratchet_tree_b64?: string | null;
  /** The kind 1059 gift wrap when the item came from an accepted event. */
  event?: NostrEvent;
}

/** Pending items of one recipient, by box; a recipient with none has no row. */
export interface MailboxCount {
  welcome: number;
  keypackage: number;
  picked_up: number;
}

export const ONE = 1;

export interface GatewayTables {
  groups: Database<GroupRecord, string>;
  roster: Database<RosterRecord, string>;
  members: Database<number, Key>;
  rosterLog: Database<RosterLogEntry, Key>;
  kp: Database<KpRecord, string>;
  kpOwner: Database<number, Key>;
  kpExp: Database<number, Key>;
  kpRef: Database<{ id: string; expires_at: number }, Key>;
  kpAddr: Database<string, Key>;
  kpReq: Database<number, string>;
  mbox: Database<MailboxItem, Key>;
  mboxId: Database<[string, MailboxKind, number], string>;
  mboxExp: Database<number, Key>;
  mboxCount: Database<MailboxCount, string>;
  byMember: Database<number, Key>;
  orderGroup: Database<number, Key>;
  orderRcpt: Database<number, Key>;
  commits: Database<string, Key>;
  commitIds: Database<[string, number], string>;
  memberIv: Database<number | null, Key>;
  meta: Database<number, string>;
}

export function openGatewayTables(store: EventStore): GatewayTables {
  return {
    groups: store.openDB<GroupRecord, string>('gw:groups'),
    roster: store.openDB<RosterRecord, string>('gw:roster'),
    members: store.openDB<number, Key>('gw:members'),
    rosterLog: store.openDB<RosterLogEntry, Key>('gw:roster_log'),
    kp: store.openDB<KpRecord, string>('gw:kp'),
    kpOwner: store.openDB<number, Key>('gw:kp_owner'),
    kpExp: store.openDB<number, Key>('gw:kp_exp'),
    kpRef: store.openDB<{ id: string; expires_at: number }, Key>('gw:kp_ref'),
    kpAddr: store.openDB<string, Key>('gw:kp_addr'),
    kpReq: store.openDB<number, string>('gw:kp_req'),
    mbox: store.openDB<MailboxItem, Key>('gw:mbox'),
    mboxId: store.openDB<[string, MailboxKind, number], string>('gw:mbox_id'),
    mboxExp: store.openDB<number, Key>('gw:mbox_exp'),
    mboxCount: store.openDB<MailboxCount, string>('gw:mbox_count'),
    byMember: store.openDB<number, Key>('gw:by_member'),
    orderGroup: store.openDB<number, Key>('gw:order_group'),
    orderRcpt: store.openDB<number, Key>('gw:order_rcpt'),
    commits: store.openDB<string, Key>('gw:commits'),
    commitIds: store.openDB<[string, number], string>('gw:commit_ids'),
    memberIv: store.openDB<number | null, Key>('gw:member_iv'),
    meta: store.openDB<number, string>('gw:meta'),
  };
}

/** Unix seconds. */
export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}
