import { sweepMailboxes } from '../../actors/mailbox.js';
import type { Router } from '../http/router.js';
import { log } from '../log.js';
import type { RelayContext } from '../relay-context.js';
import { gatewayRoutes } from './api.js';
import { Gateway, RESTRICTED_KINDS } from './gateway.js';
import { sweepKeyPackages } from './keypackages.js';
import { publishStats } from './stats.js';
import { parseSeq } from '../../actors/roster.js';
import { cachedOwnersBelow } from './stock-levels.js';
import { onlyTag } from './tags.js';
import { nowSec } from './tables.js';

/** How often expired KeyPackages, mailbox items and archived messages are removed (reads already hide them). */
const SWEEP_MS = 10_000;
const SWEEP_BATCH = 500;
const DAY = 86_400;

/**
 * The MLS gateway: kind rules (event hooks and write effects), read rules (visibility),
 * group/roster/mailbox actors, and the REST API routes. Returns a stop function.
 */
export async function installGateway(ctx: RelayContext, router: Router): Promise<() => Promise<void>> {
  const gw = new Gateway(ctx);
  ctx.hooks.event.push(gw.policy);
  ctx.hooks.eventAsync.push(gw.inspect);
  ctx.hooks.effects.push(gw.effect);
  ctx.writer.protectFromDeletion([450], "kind 450 roster events are the group's audit trail and cannot be deleted (they are kept for roster_policy_ttl_days)");
  ctx.hooks.afterAccept.push(gw.afterAccept);
  ctx.hooks.req.push(gw.reqPolicy);
  ctx.visibility.add(gw.mayRead, RESTRICTED_KINDS);
  await gw.start();

  const cfg = gw.cfg();
  router.add(...gatewayRoutes(gw));
  if (!cfg.enable_api) log.info('MLS gateway REST API disabled (enable_api = false)');
  ctx.gateway = { stats: () => gw.snapshotStats() };
  const lowStock = cachedOwnersBelow(gw.t, () => gw.cfg().keypackage_low_water);
  publishStats(() => ({ ...gw.snapshotStats(), keypackage_owners_low: lowStock() }));
  log.info(
    { group_policy: cfg.group_policy, api_prefix: cfg.api_prefix, admins: cfg.admin_pubkeys.length, system_key: gw.system() !== undefined },
    'MLS gateway enabled',
  );

  let sweeping = false;
  const sweep = async (): Promise<void> => {
    // While storage refuses writes the sweep cannot commit; reads already hide what expired.
    if (sweeping || ctx.writer.refusing !== undefined) return;
    sweeping = true;
    try {
      await sweepOnce(gw);
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'gateway sweep failed');
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  timer.unref();

  return async () => {
    clearInterval(timer);
    publishStats(undefined);
  };
}

/** One retention pass: TTLs of PROTOCOL.md, each in a short writer task. */
async function sweepOnce(gw: Gateway): Promise<void> {
  const { ctx, t } = gw;
  const cfg = gw.cfg();
  const now = nowSec();
  const { recipients, expiredOwners } = await ctx.writer.run(() => {
    const recipients = sweepMailboxes(t, now, SWEEP_BATCH);
    const expired = sweepKeyPackages(t, now, SWEEP_BATCH);
    // An expired KeyPackage is useless to anyone: drop the event too.
    for (const r of expired) ctx.writer.removeById(r.id);
    return { recipients, expiredOwners: new Set(expired.map((r) => r.owner)) };
  });
  for (const r of recipients) gw.refreshMailbox(r);
  for (const owner of expiredOwners) void gw.requestKeyPackages(owner);

  const deadline = Date.now() + 1000;
  const old = (kind: number, days: number) =>
    ctx.store.query([{ kinds: [kind], until: now - days * DAY, limit: SWEEP_BATCH }], {
      limitDefault: SWEEP_BATCH,
      limitMax: SWEEP_BATCH,
      deadline,
    }).events;
  gw.rates.prune(3_600_000);
  const messages = old(445, cfg.message_archive_ttl_days);
  const rosters = old(450, cfg.roster_policy_ttl_days);
  if (messages.length === 0 && rosters.length === 0) return;
  await ctx.writer.run(() => {
    for (const e of messages) ctx.writer.removeById(e.id);
    for (const e of rosters) {
      ctx.writer.removeById(e.id);
      const group = onlyTag(e, 'h');
      const seq = parseSeq(onlyTag(e, 'seq'));
      if (group !== undefined && seq !== undefined && t.rosterLog.get([group, seq])?.id === e.id) t.rosterLog.removeSync([group, seq]);
    }
  });
}
