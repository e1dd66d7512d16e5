import type { RelayContext } from '../relay-context.js';

/** Access control (NIP-42 gates, allow/deny lists, rate limits): pushes its steps into ctx.hooks. */
export function installAccessControl(_ctx: RelayContext): void {
  // Filled in by the access-control work (issue 3).
}
