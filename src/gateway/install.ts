import type { Router } from '../http/router.js';
import type { RelayContext } from '../relay-context.js';

/**
 * The MLS gateway: kind rules (event hooks and write effects), read rules (visibility),
 * group/roster/mailbox actors, and the REST API routes. Returns a stop function.
 */
export async function installGateway(_ctx: RelayContext, _router: Router): Promise<() => Promise<void>> {
  // Filled in by the gateway work (issue 4).
  return async () => undefined;
}
