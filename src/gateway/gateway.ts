import { randomBytes } from 'node:crypto';
import { finalizeEvent, getPublicKey } from 'nostr-tools/pure';
import { GroupActor, recordGroupMessage, touchGroup } from '../../actors/group.js';
import { depositItem, MailboxActor, mailboxCount, mailboxRecipients } from '../../actors/mailbox.js';
import { addMemberFromGiftwrap, applyRoster, decideRoster, isMember, parseRosterEvent, RosterActor, type RosterCommand, type RosterContext } from '../../actors/roster.js';
import type { Supervised } from '../../actors/supervisor.js';
import { rateSubject } from '../access/ip.js';
import type { MlsGatewayConfig } from '../config/types.js';
import { log } from '../log.js';
import type { Op } from '../pipeline/apply.js';
import type { Client } from '../pipeline/types.js';
import type { Filter, NostrEvent } from '../protocol/types.js';
import type { RelayContext } from '../relay-context.js';
import type { Position } from '../storage/position.js';
import { WriteRejection, type WriteEffect } from '../storage/writer.js';
import { checkCommitTag, checkWelcomeCommit, checkWelcomeCommitTag, commitEpoch, fenceCommit } from './fencing.js';
import { intervalsOf, within, type Interval } from './intervals.js';
import { indexInOrder, unindexInOrder } from './order.js';
import {
  addToStock,
  applyKeyPackageDeletion,
  checkKeyPackage,
  inStock,
  isKeyPackageKind,
  mayReferenceKeyPackage,
  stockOf,
} from './keypackages.js';
import { groupHasTraffic, groupRule, mayUseGroup } from './group-policy.js';
import { deviceAddressed, deviceOf } from './devices.js';
import { inspectKeyPackage, keyPackageFacts, type KeyPackageFacts } from './mls-keypackage.js';
import { RateWindows } from './rate.js';
import { countRejection, newStats, type GatewayStats, type GatewayStatsSnapshot } from './stats.js';
import { countTags, decimal, isGroupId, isHexKey, onlyTag, tagValues } from './tags.js';
import { nowSec, openGatewayTables, type GatewayTables, type MailboxItem, type MailboxKind, type RosterRecord } from './tables.js';
import { upgradeTables } from './upgrade.js';

export const GATEWAY_KINDS = [443, 444, 445, 446, 447, 450, 1059, 10002, 10050, 10051, 30443];
/** Kinds whose delivery `mayRead` decides; every other kind is public. */
export const RESTRICTED_KINDS = [443, 445, 446, 447, 450, 1059, 30443];
const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Admin-published 447s per target and hour (PROTOCOL.md: "rate limited per target"; the number is ours). */
export const REQUESTS_PER_TARGET_PER_HOUR = 10;

/** The Client identity of events the gateway itself publishes (447 low-stock requests). */
const SYSTEM_REMOTE = 'gateway';
const sec = (ms: number) => Math.max(1, Math.floor(ms / 1000));

/**
 * The MLS gateway's state and rules: one instance per relay. Kind rules are split the
 * way the pipeline runs them: `policy` (sync pre-checks, OK false), `effect` (inside the
 * event's write transaction), `afterAccept` (actor refresh, counters), `mayRead` (every
 * delivery path) and `reqPolicy` (CLOSED auth-required).
 */
export class Gateway {
  readonly t: GatewayTables;
  readonly stats: GatewayStats = newStats();
  readonly rates = new RateWindows();
  /** The low-stock 447 is due: stock below the low-water mark and none sent within its ttl (an operation, apply.ts). */
  private readonly requestDue: Op<string, boolean>;
  private systemCache: { secret: string; sk: Uint8Array; pk: string } | undefined;

  constructor(readonly ctx: RelayContext) {
    this.t = openGatewayTables(ctx.store);
    ctx.writer.onRemove((position, e) => unindexInOrder(this.t, e, position));
    this.requestDue = ctx.apply.define('keypackage.request-due', {
      run: (owner: string, now) => {
        const cfg = this.cfg();
        if (stockOf(this.t, owner, now).length >= cfg.keypackage_low_water) return false;
        const last = this.t.kpReq.get(owner);
        if (last !== undefined && now - last < sec(cfg.keypackage_request_ttl)) return false;
        this.t.kpReq.putSync(owner, now);
        return true;
      },
    });
  }

  cfg(): MlsGatewayConfig {
    return this.ctx.config().extensions.mls_gateway;
  }

  /** The relay's own key, derived from system_secret_key (read live; the secret never leaves this object). */
  system(): { sk: Uint8Array; pk: string } | undefined {
    const secret = this.cfg().system_secret_key;
    if (!secret) return undefined;
    if (this.systemCache?.secret !== secret) {
      const sk = Uint8Array.from(Buffer.from(secret, 'hex'));
      this.systemCache = { secret, sk, pk: getPublicKey(sk) };
    }
    return this.systemCache;
  }

  readonly isRelayAdmin = (pk: string): boolean => this.cfg().admin_pubkeys.includes(pk) || this.system()?.pk === pk;

  // ---- actors -------------------------------------------------------------------------

  private ensure<A extends Supervised>(id: string, make: () => A): A {
    const live = this.ctx.supervisor.get(id) as A | undefined;
    if (live) return live;
    const actor = make();
    this.ctx.supervisor.add({ actor, onFailure: 'restart', restart: make });
    return actor;
  }

  groupActor(group: string): GroupActor {
    return this.ensure(`group:${group}`, () => new GroupActor(this.t, group));
  }

  rosterActor(group: string): RosterActor {
    return this.ensure(`roster:${group}`, () => new RosterActor(this.t, group));
  }

  mailboxActor(recipient: string): MailboxActor {
    return this.ensure(`mailbox:${recipient}`, () => new MailboxActor(this.t, recipient));
  }

  /** Reload an actor after a commit; a throw there restarts that actor alone. */
  refresh(id: string, work: () => void): void {
    this.ctx.supervisor.guard(id, work);
  }

  refreshMailbox(recipient: string): void {
    const id = `mailbox:${recipient}`;
    this.refresh(id, () => {
      const box = this.mailboxActor(recipient);
      box.refresh();
      // "One per recipient with pending items": an emptied mailbox leaves the registry.
      if (box.empty) this.ctx.supervisor.remove(id);
    });
  }

  /** Start-up: derived tables of older stores, then every actor from the tables alone. */
  async start(): Promise<void> {
    const built = await this.ctx.writer.run(() => upgradeTables(this.t, this.ctx.store));
    if (built.length > 0) log.info({ built }, 'MLS gateway: derived tables built (once per store)');
    this.rebuildActors();
  }

  rebuildActors(): void {
    for (const g of this.t.groups.getKeys({})) this.groupActor(g as string);
    for (const g of this.t.roster.getKeys({})) {
      this.groupActor(g as string);
      this.rosterActor(g as string);
    }
    for (const r of mailboxRecipients(this.t)) this.mailboxActor(r);
  }

  // ---- EVENT policy (sync, before the write) ----------------------------------------

  readonly policy = (e: NostrEvent, c: Client): string | undefined => {
    const r = this.check(e, c);
    if (r !== undefined) countRejection(this.stats, e.kind, r);
    return r;
  };

  private check(e: NostrEvent, c: Client): string | undefined {
    const cfg = this.cfg();
    const now = nowSec();
    const perConn = cfg.rate_limits.max_events_per_minute;
    // A flood guard per connection over the MLS kinds; the relay's own 447s are exempt.
    if (perConn !== undefined && c.remote !== SYSTEM_REMOTE && GATEWAY_KINDS.includes(e.kind) && !this.rates.hit(`conn:${c.connId}`, perConn, MINUTE)) {
      return `rate-limited: at most ${perConn} MLS events per minute per connection`;
    }
    switch (e.kind) {
      case 443:
      case 30443: {
        const bad = checkKeyPackage(this.t, e, now, cfg.max_keypackages_per_user);
        if (bad) return bad;
        const lim = cfg.rate_limits.max_keypackages_per_hour;
        if (!this.rates.hit(`kp:${e.pubkey}`, lim, HOUR)) return `rate-limited: at most ${lim} KeyPackages per owner per hour`;
        return undefined;
      }
      case 444:
        return 'invalid: kind 444 must be sealed and gift-wrapped (kind 1059)';
      case 445: {
        const group = onlyTag(e, 'h');
        if (!isGroupId(group)) return 'invalid: kind 445 needs exactly one h tag with the group id';
        if (countTags(e, 'k') > 0 && decimal(onlyTag(e, 'k')) === undefined) return 'invalid: kind 445 k tag must be one decimal epoch';
        const badCommit = checkCommitTag(e);
        if (badCommit) return badCommit;
        const roster = this.t.roster.get(group);
        const rule = groupRule(cfg.group_policy, roster);
        if (rule !== 'open' && c.pubkeys.length === 0) {
          return `auth-required: kind 445 needs a connection authenticated as ${rule === 'members' ? 'a member of the group' : 'any pubkey'}`;
        }
        if (!mayUseGroup(this.t, cfg.group_policy, group, c.pubkeys, roster)) return `restricted: not a member of group ${group}`;
        const lim = cfg.rate_limits.max_group_messages_per_minute;
        if (!this.rates.hit(`grp:${group}`, lim, MINUTE)) return `rate-limited: group ${group} is limited to ${lim} messages per minute`;
        return undefined;
      }
      case 446: {
        if (!isHexKey(onlyTag(e, 'p'))) return 'invalid: kind 446 needs exactly one p tag with the recipient pubkey';
        const v = tagValues(e, 'v');
        if (v.some((x) => x !== 'noise.1')) return 'invalid: kind 446 v tag must be "noise.1"';
        return undefined;
      }
      case 447: {
        const target = onlyTag(e, 'p');
        if (!isHexKey(target)) return 'invalid: kind 447 needs exactly one p tag with the target pubkey';
        if (!this.isRelayAdmin(e.pubkey)) return 'restricted: only relay admins may publish KeyPackage requests (kind 447)';
        const ttlRaw = onlyTag(e, 'ttl');
        if (countTags(e, 'ttl') > 0 && decimal(ttlRaw) === undefined) return 'invalid: kind 447 ttl tag must be decimal seconds';
        if (countTags(e, 'min') > 0 && decimal(onlyTag(e, 'min')) === undefined) return 'invalid: kind 447 min tag must be a decimal count';
        const ttl = decimal(ttlRaw) ?? sec(cfg.keypackage_request_ttl);
        if (e.created_at + ttl <= now) return 'invalid: KeyPackage request expired (created_at + ttl is in the past)';
        if (!this.rates.hit(`req:${target}`, REQUESTS_PER_TARGET_PER_HOUR, HOUR)) {
          return `rate-limited: at most ${REQUESTS_PER_TARGET_PER_HOUR} KeyPackage requests per target per hour`;
        }
        return undefined;
      }
      case 450: {
        const cmd = parseRosterEvent(e);
        if (typeof cmd === 'string') return cmd;
        return decideRoster(cmd, this.t.roster.get(cmd.group), this.rosterContext(cmd, e, c));
      }
      case 1059: {
        const recipient = onlyTag(e, 'p');
        if (!isHexKey(recipient)) return 'invalid: kind 1059 needs exactly one p tag with the recipient pubkey';
        if (countTags(e, 'h') > 0 && !isGroupId(onlyTag(e, 'h'))) return 'invalid: kind 1059 takes at most one h tag with the group id';
        const badCommit = checkWelcomeCommitTag(e);
        if (badCommit) return badCommit;
        const device = deviceOf(e);
        if ('error' in device) return device.error;
        // The cheap early answer; the write re-decides (effect) where deposits are serialized.
        return this.mailboxFull(recipient, 'welcome') ?? this.depositRate(c);
      }
      default:
        return undefined;
    }
  }

  /** Facts of KeyPackages verified by `inspect`, for the write effect that follows it at once. */
  private readonly verified = new WeakMap<NostrEvent, KeyPackageFacts>();

  /**
   * EVENT step that awaits (after `policy`): the MLS KeyPackage in a 443/30443 decodes, both
   * of its signatures verify, its lifetime holds now, and its suite is the one its tag names.
   */
  readonly inspect = (e: NostrEvent, _c: Client): Promise<string | undefined> | undefined => {
    if (!isKeyPackageKind(e.kind)) return undefined;
    return inspectKeyPackage(e, nowSec()).then((r) => {
      if (typeof r === 'string') {
        countRejection(this.stats, e.kind, r);
        return r;
      }
      this.verified.set(e, r);
      return undefined;
    });
  };

  // ---- mailbox bounds -------------------------------------------------------------------

  /** `blocked: ...` when the recipient's box holds mailbox_max_items (inside or outside a transaction). */
  mailboxFull(recipient: string, box: MailboxKind): string | undefined {
    const cap = this.cfg().mailbox_max_items;
    return mailboxCount(this.t, recipient)[box] >= cap ? mailboxFullMessage(recipient) : undefined;
  }

  /**
   * Deposits per sender and minute, WebSocket and REST together. The wrap's own pubkey is a
   * one-shot key, so the sender is who publishes: each authenticated pubkey of the
   * connection (or the NIP-98 signer), else the client address (IPv6 by its /64).
   */
  depositRate(c: Client): string | undefined {
    const lim = this.cfg().mailbox_deposits_per_minute;
    const keys = c.pubkeys.length > 0 ? c.pubkeys.map((pk) => `mbox:pk:${pk}`) : [`mbox:ip:${rateSubject(c.remote)}`];
    if (this.rates.hitAll(keys, lim, MINUTE)) return undefined;
    return `rate-limited: at most ${lim} mailbox deposits per minute per sender`;
  }

  // ---- write effects (inside the event's transaction) ---------------------------------

  readonly effect = (e: NostrEvent, c: Client, now: number): WriteEffect | undefined => {
    const work = this.effectWork(e, c, now);
    if (work === undefined) return undefined;
    return (position) => {
      try {
        work.run(position);
      } catch (err) {
        if (err instanceof WriteRejection) countRejection(this.stats, e.kind, err.message);
        else {
          countRejection(this.stats, e.kind, 'error:');
          // After the transaction unwinds: the actor is rebuilt from what actually committed.
          setImmediate(() => this.ctx.supervisor.fail(work.actor, err));
        }
        throw err;
      }
    };
  };

  /** `now`: the time the change was made (the log's, in cluster mode); never the clock here. */
  private effectWork(e: NostrEvent, c: Client, now: number): { actor: string; run: (position: Position) => void } | undefined {
    const cfg = this.cfg();
    switch (e.kind) {
      case 443:
      case 30443:
        return {
          actor: 'gateway',
          // Facts from `inspect`; decoded again (without the signature checks) only on a path that skipped it.
          run: () => addToStock(this.t, e, this.verified.get(e) ?? keyPackageFacts(e), sec(cfg.keypackage_ttl), cfg.max_keypackages_per_user, now),
        };
      case 445: {
        const group = onlyTag(e, 'h')!;
        const epoch = commitEpoch(e);
        return {
          actor: `group:${group}`,
          run: (position) => {
            // Decided here, in relay order: the first Commit of an epoch wins.
            const won = epoch !== undefined && fenceCommit(this.t, group, epoch, e.id, cfg.commit_fencing);
            indexInOrder(this.t, e, position);
            recordGroupMessage(this.t, group, won ? epoch : undefined, e.created_at, now);
          },
        };
      }
      case 446:
      case 447:
        return { actor: 'gateway', run: (position) => indexInOrder(this.t, e, position) };
      case 450: {
        const cmd = parseRosterEvent(e);
        if (typeof cmd === 'string') return undefined;
        return {
          actor: `roster:${cmd.group}`,
          run: (position) => {
            applyRoster(this.t, e, cmd, this.rosterContext(cmd, e, c), now, position);
            touchGroup(this.t, cmd.group, now);
          },
        };
      }
      case 1059: {
        const recipient = onlyTag(e, 'p')!;
        const group = onlyTag(e, 'h');
        return {
          actor: `mailbox:${recipient}`,
          run: (position) => {
            // Read here, inside the transaction: the roster as of this event's place in the order.
            const joins = cfg.membership_from_giftwrap && group !== undefined && this.mayInvite(group, c);
            checkWelcomeCommit(this.t, e, cfg.commit_fencing);
            indexInOrder(this.t, e, position);
            const item: MailboxItem = {
              id: e.id,
              box: 'welcome',
              recipient_pubkey: recipient,
              sender_pubkey: e.pubkey,
              content_b64: '',
              tags: e.tags,
              created_at: now,
              expires_at: now + sec(cfg.welcome_ttl),
              picked_up_at: null,
              device: deviceAddressed(e),
              group_id: group ?? null,
              ratchet_tree_b64: null,
              event: e,
            };
            if (depositItem(this.t, item, cfg.mailbox_max_items) === 'full') throw new WriteRejection(mailboxFullMessage(recipient));
            if (joins) addMemberFromGiftwrap(this.t, group, recipient, now, position);
          },
        };
      }
      case 5:
        // Decided from the event alone: the tables are read inside the transaction, in log order
        // (a KeyPackage stored by an item queued just before must count).
        if (!mayReferenceKeyPackage(e)) return undefined;
        return { actor: 'gateway', run: () => void applyKeyPackageDeletion(this.t, e) };
      default:
        return undefined;
    }
  }

  private rosterContext(cmd: RosterCommand, e: NostrEvent, c: Client): RosterContext {
    return {
      author: e.pubkey,
      connection: c.pubkeys,
      isRelayAdmin: this.isRelayAdmin,
      hasTraffic: () => groupHasTraffic(this.t, this.ctx.store, cmd.group),
      maxSeqStep: this.cfg().roster_max_seq_step,
      openBootstrap: this.cfg().group_policy === 'roster',
    };
  }

  /** membership_from_giftwrap: the publishing connection is a relay admin or an owner/admin of the group. */
  private mayInvite(group: string, c: Client): boolean {
    const r = this.t.roster.get(group);
    return c.pubkeys.some((pk) => this.isRelayAdmin(pk) || (r !== undefined && (r.owner === pk || r.admins.includes(pk))));
  }

  // ---- after the commit ---------------------------------------------------------------

  readonly afterAccept = (e: NostrEvent, _c: Client): void => {
    if (!GATEWAY_KINDS.includes(e.kind) && e.kind !== 5) return;
    if (e.kind !== 5) this.stats.events_processed[e.kind] = (this.stats.events_processed[e.kind] ?? 0) + 1;
    switch (e.kind) {
      case 443:
      case 30443:
        this.stats.keypackages_stored++;
        return;
      case 445: {
        const group = onlyTag(e, 'h')!;
        this.stats.groups_updated++;
        this.refresh(`group:${group}`, () => this.groupActor(group).refresh());
        return;
      }
      case 450: {
        const group = onlyTag(e, 'h')!;
        this.stats.roster_updates++;
        this.stats.groups_updated++;
        this.refresh(`roster:${group}`, () => this.rosterActor(group).refresh(true));
        this.refresh(`group:${group}`, () => this.groupActor(group).refresh());
        return;
      }
      case 1059: {
        this.stats.mailbox_deposits++;
        this.refreshMailbox(onlyTag(e, 'p')!);
        const group = onlyTag(e, 'h');
        if (group !== undefined && this.t.roster.doesExist(group)) {
          this.refresh(`roster:${group}`, () => this.rosterActor(group).refresh());
          this.refresh(`group:${group}`, () => this.groupActor(group).refresh());
        }
        return;
      }
      case 5:
        // A deletion may have taken the owner's stock below the low-water mark.
        if (e.tags.some((t) => t[0] === 'e' || (t[0] === 'a' && t[1]?.startsWith('30443:')))) void this.requestKeyPackages(e.pubkey);
        return;
    }
  };

  // ---- read rules -----------------------------------------------------------------------

  /**
   * Rosters read during this synchronous turn. Fan-out checks every receiver of one 445
   * in a single loop; decoding the roster once per receiver was the largest cost of a
   * group delivery. Cleared at the next microtask, before any write can change a roster.
   */
  private readonly rosterMemo = new Map<string, RosterRecord | undefined>();

  private rosterNow(group: string): RosterRecord | undefined {
    if (this.rosterMemo.has(group)) return this.rosterMemo.get(group);
    if (this.rosterMemo.size === 0) queueMicrotask(() => this.rosterMemo.clear());
    const r = this.t.roster.get(group);
    this.rosterMemo.set(group, r);
    return r;
  }

  /** Membership intervals read during this synchronous turn (as rosterMemo). */
  private readonly intervalMemo = new Map<string, Interval[]>();

  /** Stored reads: was `pk` a member of `group` at `position` (intervals.ts)? */
  private memberAt(group: string, pk: string, position: Position): boolean {
    const key = pk + group; // pk is fixed-length hex: no two pairs share a key
    let iv = this.intervalMemo.get(key);
    if (iv === undefined) {
      if (this.intervalMemo.size === 0) queueMicrotask(() => this.intervalMemo.clear());
      iv = intervalsOf(this.t, group, pk);
      this.intervalMemo.set(key, iv);
    }
    return within(iv, position);
  }

  /**
   * `position` is given for stored results (REQ, COUNT, REST) and absent for live delivery:
   * a stored 445 of a roster group is served to a member only from its membership intervals.
   */
  readonly mayRead = (e: NostrEvent, c: Client, position?: Position): boolean => {
    switch (e.kind) {
      case 443:
      case 30443:
        if (c.pubkeys.includes(e.pubkey)) return true;
        if (this.ctx.config().auth.enabled && c.pubkeys.length === 0) return false;
        // Claimed, expired or pruned KeyPackages are not handed out again through REQ.
        return inStock(this.t, e.id, nowSec());
      case 445: {
        const policy = this.cfg().group_policy;
        if (policy === 'open') return true;
        if (c.pubkeys.length === 0) return false;
        if (policy === 'authenticated') return true;
        const group = onlyTag(e, 'h');
        if (group === undefined) return false;
        const roster = this.rosterNow(group);
        if (!mayUseGroup(this.t, policy, group, c.pubkeys, roster)) return false;
        // Stored results of a rostered group: only from the periods the reader was a member (intervals).
        if (position === undefined || groupRule(policy, roster) !== 'members') return true;
        return c.pubkeys.some((pk) => isMember(this.t, group, pk, roster) && this.memberAt(group, pk, position));
      }
      case 446: {
        const p = onlyTag(e, 'p');
        return c.pubkeys.some((pk) => pk === p || pk === e.pubkey);
      }
      case 447: {
        const p = onlyTag(e, 'p');
        return c.pubkeys.some((pk) => pk === p || this.isRelayAdmin(pk));
      }
      case 450: {
        const group = onlyTag(e, 'h');
        return group !== undefined && c.pubkeys.some((pk) => this.isRelayAdmin(pk) || isMember(this.t, group, pk, this.rosterNow(group)));
      }
      case 1059: {
        const p = onlyTag(e, 'p');
        return p !== undefined && c.pubkeys.includes(p);
      }
      default:
        return true;
    }
  };

  /** Kinds an unauthenticated connection can never read. */
  restrictedKinds(): Set<number> {
    const s = new Set([446, 447, 450, 1059]);
    if (this.cfg().group_policy !== 'open') s.add(445);
    if (this.ctx.config().auth.enabled) {
      s.add(443);
      s.add(30443);
    }
    return s;
  }

  readonly reqPolicy = (filters: readonly Filter[], c: Client): string | undefined => {
    if (c.pubkeys.length > 0) return undefined;
    const restricted = this.restrictedKinds();
    const onlyRestricted = filters.every((f) => f.kinds !== undefined && f.kinds.length > 0 && f.kinds.every((k) => restricted.has(k)));
    return onlyRestricted ? 'auth-required: these kinds are only delivered to authenticated recipients and members (NIP-42)' : undefined;
  };

  // ---- KeyPackage requests (447 from the system key) ----------------------------------

  /**
   * When the owner's stock is below keypackage_low_water, publish a 447 signed by the
   * system key, at most once per keypackage_request_ttl: the decision and its timestamp
   * commit in one writer task, so concurrent triggers send one request.
   */
  async requestKeyPackages(owner: string): Promise<void> {
    const sys = this.system();
    if (!sys) return;
    const cfg = this.cfg();
    const gap = sec(cfg.keypackage_request_ttl);
    const due = await this.ctx.commit.op(this.requestDue, owner).catch(() => false);
    if (!due) return;
    const event = finalizeEvent(
      {
        kind: 447,
        created_at: nowSec(),
        content: '',
        tags: [
          ['p', owner],
          ['min', String(Math.max(1, cfg.keypackage_low_water))],
          ['ttl', String(gap)],
        ],
      },
      sys.sk,
    ) as NostrEvent;
    const r = await this.ctx.ingest.submit(event, { connId: 0, remote: SYSTEM_REMOTE, pubkeys: [sys.pk] });
    if ('ok' in r && r.ok) this.stats.keypackage_requests++;
    else log.warn({ owner, result: 'ok' in r ? r.message : r.notice }, 'KeyPackage request (447) not published');
  }

  // ---- metrics ------------------------------------------------------------------------

  snapshotStats(): GatewayStatsSnapshot {
    const depth = { welcome: 0, keypackage: 0, recipients: 0 };
    for (const a of this.ctx.supervisor.list('mailbox')) {
      const d = (a as MailboxActor).depth;
      depth.welcome += d.welcome;
      depth.keypackage += d.keypackage;
      depth.recipients++;
    }
    const rejected = Object.entries(this.stats.rejected).map(([k, count]) => {
      const i = k.indexOf(':');
      return { kind: k.slice(0, i), reason: k.slice(i + 1), count };
    });
    return {
      ...this.stats,
      events_processed: { ...this.stats.events_processed },
      rejected,
      mailbox_depth: depth,
      groups: this.ctx.supervisor.count('group'),
    };
  }
}

export function mailboxFullMessage(recipient: string): string {
  return `blocked: mailbox of ${recipient} is full`;
}

export function randomId(): string {
  return randomBytes(32).toString('hex');
}
