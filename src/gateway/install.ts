import type { Router } from '../http/router.js';
import { log } from '../log.js';
import type { RelayContext } from '../relay-context.js';
import { gatewayRoutes } from './api.js';
import { defineGatewayOps, type GatewayOps } from './ops.js';
import { Gateway, RESTRICTED_KINDS } from './gateway.js';
import { publishStats } from './stats.js';
import { cachedOwnersBelow } from './stock-levels.js';

/** How often expired KeyPackages, mailbox items and archived messages are removed (reads already hide them). */
const SWEEP_MS = 10_000;

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
  const ops = defineGatewayOps(gw);
  router.add(...gatewayRoutes(gw, ops));
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
    if (sweeping || ctx.commit.refusing !== undefined) return;
    sweeping = true;
    try {
      await sweepOnce(gw, ops);
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

/** One retention pass: TTLs of PROTOCOL.md, each a short operation in the writer's order. */
async function sweepOnce(gw: Gateway, ops: GatewayOps): Promise<void> {
  const { expiredOwners } = await gw.ctx.commit.op(ops.sweep, null);
  for (const owner of expiredOwners) void gw.requestKeyPackages(owner);
  gw.rates.prune(3_600_000);
  await gw.ctx.commit.op(ops.archive, null);
}
