import { upsertGroupMeta, type GroupMeta } from '../../actors/group.js';
import { ackItem, depositItem, pickupItems, sweepMailboxes, type PickupQuery } from '../../actors/mailbox.js';
import { parseSeq } from '../../actors/roster.js';
import type { NostrEvent } from '../protocol/types.js';
import type { Gateway } from './gateway.js';
import type { ClaimRequest } from './claim-request.js';
import { claimOne, claimPerDevice, sweepKeyPackages, type Claimed } from './keypackages.js';
import { onlyTag } from './tags.js';
import type { MailboxItem, MailboxKind } from './tables.js';

const DAY = 86_400;
/** Mailbox items, KeyPackages or archived events one sweep removes at most, so one transaction stays short. */
export const SWEEP_BATCH = 500;

/**
 * The gateway's state changes that are not events, as named operations (pipeline/apply.ts):
 * the REST API and the sweeps call them through the commit point, so in cluster mode they
 * travel in the log like events and every instance applies them in the same order. Each
 * decides from its arguments, its `now` and the tables; refreshes of the actors are `after`.
 */
export function defineGatewayOps(gw: Gateway) {
  const { ctx, t } = gw;
  const apply = ctx.apply;
  return {
    pickup: apply.define('mailbox.pickup', {
      run: (a: { recipient: string; box: MailboxKind; q: Omit<PickupQuery, 'now'> }, now) => pickupItems(t, a.recipient, a.box, { ...a.q, now }),
      after: (a) => gw.refreshMailbox(a.recipient),
    }),
    ack: apply.define('mailbox.ack', {
      run: (a: { id: string; box: MailboxKind; caller: string; device: string | undefined }, now) => ackItem(t, a.id, a.box, [a.caller], now, a.device),
      after: (a) => gw.refreshMailbox(a.caller),
    }),
    deposit: apply.define('mailbox.deposit', {
      run: (item: MailboxItem) => depositItem(t, item, gw.cfg().mailbox_max_items),
      after: (item) => gw.refreshMailbox(item.recipient_pubkey),
    }),
    groupMeta: apply.define('group.meta', {
      run: (a: { id: string; meta: GroupMeta }, now) => upsertGroupMeta(t, a.id, a.meta, now),
      after: (a) => gw.refresh(`group:${a.id}`, () => gw.groupActor(a.id).refresh()),
    }),
    /** Every KeyPackage of the answer is taken atomically, and never handed to two claimers. */
    claim: apply.define('keypackage.claim', {
      run: (want: ClaimRequest, now): Array<Claimed & { event: NostrEvent }> => {
        const exists = (id: string) => ctx.store.has(id);
        const claims = want.perDevice
          ? claimPerDevice(t, want.owner, now, exists, want.filter)
          : [claimOne(t, want.owner, now, exists, want.filter)].filter((c) => c !== undefined);
        return claims.flatMap((c) => {
          const event = ctx.store.get(c.record.id);
          return event ? [{ ...c, event }] : [];
        });
      },
    }),
    /** Expired mailbox items and KeyPackages (an expired KeyPackage's event goes too). */
    sweep: apply.define('gateway.sweep', {
      run: (_: null, now) => {
        const recipients = sweepMailboxes(t, now, SWEEP_BATCH);
        const expired = sweepKeyPackages(t, now, SWEEP_BATCH);
        for (const r of expired) ctx.writer.removeById(r.id);
        return { recipients, expiredOwners: [...new Set(expired.map((r) => r.owner))] };
      },
      after: (_, r) => {
        for (const rcp of r.recipients) gw.refreshMailbox(rcp);
      },
    }),
    /** Group messages and rosters older than their archive TTLs. */
    archive: apply.define('gateway.archive', {
      run: (_: null, now) => {
        const cfg = gw.cfg();
        // No deadline: a clock-bound scan could stop at different places on different instances.
        const old = (kind: number, days: number) =>
          ctx.store.query([{ kinds: [kind], until: now - days * DAY, limit: SWEEP_BATCH }], {
            limitDefault: SWEEP_BATCH,
            limitMax: SWEEP_BATCH,
            deadline: Number.MAX_SAFE_INTEGER,
          }).events;
        const messages = old(445, cfg.message_archive_ttl_days);
        const rosters = old(450, cfg.roster_policy_ttl_days);
        for (const e of messages) ctx.writer.removeById(e.id);
        for (const e of rosters) {
          ctx.writer.removeById(e.id);
          const group = onlyTag(e, 'h');
          const seq = parseSeq(onlyTag(e, 'seq'));
          if (group !== undefined && seq !== undefined && t.rosterLog.get([group, seq])?.id === e.id) t.rosterLog.removeSync([group, seq]);
        }
        return messages.length + rosters.length;
      },
    }),
  };
}

export type GatewayOps = ReturnType<typeof defineGatewayOps>;
