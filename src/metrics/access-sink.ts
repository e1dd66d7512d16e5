import type { RelayContext } from '../relay-context.js';

/**
 * What access control reports: a refusal by an auth/list rule, and a refusal by a named rate
 * limiter. The counters are rnostr's nostr_relay_auth_unauthorized{command,reason} and
 * nostr_relay_rate_limiter_exceeded{command,name}.
 */
export interface AccessMetricsSink {
  unauthorized(command: string, reason: string): void;
  rateLimited(command: string, name: string): void;
}

/**
 * The sink for one relay. It resolves `ctx.telemetry` at each call rather than now, so it
 * can be built before installMetrics runs (access control is installed first) and costs
 * nothing when metrics were never installed (unit tests that build a bare context).
 */
export function accessMetricsSink(ctx: Pick<RelayContext, 'telemetry'>): AccessMetricsSink {
  return {
    unauthorized: (command, reason) => ctx.telemetry?.unauthorized(command, reason),
    rateLimited: (command, name) => ctx.telemetry?.rateLimited(command, name),
  };
}
