/**
 * Access control: [auth] allow/deny lists, [rate_limiter] rules and the REQ / connection rate limits, as
 * small steps pushed onto ctx.hooks (khatru style). Every step reads ctx.config() on each call, so a
 * `--watch` reload applies to the next message; compiled lists are cached per config object.
 */
import type { RateLimitRule } from '../config/types.js';
import { log } from '../log.js';
import { onAuthRejected } from '../pipeline/auth.js';
import type { ConnectPolicy, EventPolicy, ReqPolicy } from '../pipeline/types.js';
import type { RelayContext } from '../relay-context.js';
import { IpList, rateSubject } from './ip.js';
import { addressDenial, compileRules, eventDenial, readDenial, type Denial } from './lists.js';
import { RateBuckets } from './rate-limit.js';

export type AccessCommand = 'EVENT' | 'REQ' | 'COUNT' | 'AUTH' | 'CONNECT';

/**
 * Where rejections are counted (Prometheus metrics plug in here). `reason` and `name` are short stable
 * labels: ip_blacklist, ip_whitelist, pubkey_blacklist, pubkey_whitelist, event_pubkey_blacklist,
 * event_pubkey_whitelist; for AUTH: malformed, kind, challenge, relay, created_at, signature,
 * too_many_pubkeys; rate limits: the [[rate_limiter.event]] rule name, req_per_minute,
 * connections_per_minute.
 */
export interface AccessSink {
  unauthorized(command: AccessCommand, reason: string): void;
  rateLimited(command: string, name: string): void;
}

export interface AccessControl {
  /** Live rate-limit buckets (for diagnostics and tests of the sweep). */
  bucketCount(): number;
  /** Stops the bucket sweep timer. */
  stop(): void;
}

const MINUTE = 60_000;
// setTimeout stores its delay in 32 bits; a longer clear_interval would fire at once, over and over.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function installAccessControl(ctx: RelayContext, sink?: AccessSink): AccessControl {
  const buckets = new RateBuckets();
  const count = {
    unauthorized(command: AccessCommand, reason: string): void {
      try {
        sink?.unauthorized(command, reason);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'access sink failed');
      }
    },
    rateLimited(command: string, name: string): void {
      try {
        sink?.rateLimited(command, name);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'access sink failed');
      }
    },
  };
  const deny = (command: AccessCommand, d: Denial): string => {
    count.unauthorized(command, d.label);
    return d.message;
  };

  onAuthRejected(ctx, (failure) => count.unauthorized('AUTH', failure));

  /** Refused before the upgrade only when the address could neither read nor publish. */
  const connectLists: ConnectPolicy = (remote) => {
    const auth = ctx.config().auth;
    if (!auth.enabled) return undefined;
    const read = addressDenial(compileRules(auth.req), remote, 'read');
    const publish = addressDenial(compileRules(auth.event), remote, 'publish');
    if (!read || !publish) return undefined;
    const label = read.label === 'ip_blacklist' ? read.label : publish.label;
    count.unauthorized('CONNECT', label);
    return 'blocked: your address may not use this relay';
  };

  const connectRate: ConnectPolicy = (remote) => {
    const rl = ctx.config().rate_limiter;
    if (!rl.enabled || rl.connections_per_minute === 0 || exempt(rl.ip_whitelist, remote)) return undefined;
    if (buckets.take([`conn|${rateSubject(remote)}`], rl.connections_per_minute, MINUTE, Date.now())) return undefined;
    count.rateLimited('CONNECT', 'connections_per_minute');
    return `rate-limited: too many new connections from your address (max ${rl.connections_per_minute} per minute)`;
  };

  const eventLists: EventPolicy = (event, client) => {
    const auth = ctx.config().auth;
    if (!auth.enabled) return undefined;
    const d = eventDenial(compileRules(auth.event), event, client);
    return d && deny('EVENT', d);
  };

  const eventRate: EventPolicy = (event, client) => {
    const rl = ctx.config().rate_limiter;
    if (!rl.enabled) return undefined;
    const now = Date.now();
    for (let i = 0; i < rl.event.length; i++) {
      const rule = rl.event[i]!;
      if (!appliesTo(rule, event.kind) || exempt(rule.ip_whitelist, client.remote)) continue;
      const name = rule.name || `event_rule_${i}`;
      // Keyed by address AND by every authenticated pubkey: neither reconnecting nor rotating
      // addresses under the same identity buys a fresh allowance.
      const keys = [`ev|${name}|ip|${rateSubject(client.remote)}`, ...client.pubkeys.map((p) => `ev|${name}|pk|${p}`)];
      if (!buckets.take(keys, rule.limit, rule.period, now)) {
        count.rateLimited('EVENT', name);
        return `rate-limited: ${rule.description || name}`;
      }
    }
    return undefined;
  };

  const reqLists: ReqPolicy = (_filters, client, command) => {
    const auth = ctx.config().auth;
    if (!auth.enabled) return undefined;
    const d = readDenial(compileRules(auth.req), client);
    return d && deny(command, d);
  };

  const reqRate: ReqPolicy = (_filters, client, command) => {
    const rl = ctx.config().rate_limiter;
    if (!rl.enabled || rl.req_per_minute === 0 || exempt(rl.ip_whitelist, client.remote)) return undefined;
    const keys = [`req|ip|${rateSubject(client.remote)}`, ...client.pubkeys.map((p) => `req|pk|${p}`)];
    if (buckets.take(keys, rl.req_per_minute, MINUTE, Date.now())) return undefined;
    count.rateLimited(command, 'req_per_minute');
    return `rate-limited: too many subscription requests (max ${rl.req_per_minute} per minute)`;
  };

  // Address gates before rate limits: a refused client should not use up anybody's allowance.
  ctx.hooks.connect.push(connectLists, connectRate);
  ctx.hooks.event.push(eventLists);
  ctx.hooks.preVerify.push(eventRate);
  ctx.hooks.req.push(reqLists, reqRate);

  warnIfListsIgnored(ctx);

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(sweep, Math.min(ctx.config().rate_limiter.clear_interval, MAX_TIMER_MS));
    timer.unref();
  };
  const sweep = (): void => {
    const dropped = buckets.sweep(Date.now());
    log.debug({ dropped, remaining: buckets.size }, 'rate-limit buckets swept');
    schedule();
  };
  schedule();

  return {
    bucketCount: () => buckets.size,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function appliesTo(rule: RateLimitRule, kind: number): boolean {
  return rule.kinds.length === 0 || rule.kinds.some(([start, end]) => kind >= start && kind < end);
}

const exemptLists = new WeakMap<string[], IpList>();
function exempt(list: string[], remote: string): boolean {
  if (list.length === 0) return false;
  let compiled = exemptLists.get(list);
  if (!compiled) {
    compiled = new IpList(list);
    exemptLists.set(list, compiled);
  }
  return compiled.has(remote);
}

/** Lists under a disabled [auth] are easy to mistake for protection: say so at start-up. */
function warnIfListsIgnored(ctx: RelayContext): void {
  const auth = ctx.config().auth;
  if (auth.enabled) return;
  const set = [auth.req, auth.event].flatMap((rules) => Object.entries(rules).filter(([, v]) => Array.isArray(v)).map(([k]) => k));
  if (set.length > 0) log.warn({ keys: [...new Set(set)] }, '[auth] enabled = false: the allow/deny lists are not applied');
}
