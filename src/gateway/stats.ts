/**
 * The gateway's counters as plain numbers, for whoever publishes metrics (prom-client lives
 * elsewhere): mls_gateway_events_processed_total{kind}, _groups_updated_total,
 * _keypackages_stored_total, _keypackages_claimed_total, _roster_updates_total,
 * _rejected_total{kind,reason}, and mailbox depths (gauges).
 */
export interface GatewayStats {
  events_processed: Record<string, number>;
  groups_updated: number;
  keypackages_stored: number;
  keypackages_claimed: number;
  keypackage_requests: number;
  roster_updates: number;
  /** Mailbox items deposited (accepted 1059s and REST deposits), handed out by pickups, and acknowledged. */
  mailbox_deposits: number;
  mailbox_pickups: number;
  mailbox_acks: number;
  /** Keyed "kind:reason" where reason is the message prefix (invalid, restricted, ...). */
  rejected: Record<string, number>;
}

export interface GatewayStatsSnapshot extends Omit<GatewayStats, 'rejected'> {
  rejected: Array<{ kind: string; reason: string; count: number }>;
  mailbox_depth: { welcome: number; keypackage: number; recipients: number };
  groups: number;
  /** Owners with fewer than keypackage_low_water KeyPackages in stock (recomputed at most once a minute). */
  keypackage_owners_low?: number;
}

export function newStats(): GatewayStats {
  return {
    events_processed: {},
    groups_updated: 0,
    keypackages_stored: 0,
    keypackages_claimed: 0,
    keypackage_requests: 0,
    roster_updates: 0,
    mailbox_deposits: 0,
    mailbox_pickups: 0,
    mailbox_acks: 0,
    rejected: {},
  };
}

export function countRejection(stats: GatewayStats, kind: number | string, message: string): void {
  const i = message.indexOf(':');
  const reason = i > 0 ? message.slice(0, i) : 'error';
  const key = `${kind}:${reason}`;
  stats.rejected[key] = (stats.rejected[key] ?? 0) + 1;
}

let current: (() => GatewayStatsSnapshot) | undefined;

/** Set by installGateway; the metrics module calls gatewayStats() (undefined when the gateway is off). */
export function publishStats(fn: (() => GatewayStatsSnapshot) | undefined): void {
  current = fn;
}

export function gatewayStats(): GatewayStatsSnapshot | undefined {
  return current?.();
}
