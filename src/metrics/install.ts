import type { Router } from '../http/router.js';
import type { RelayContext } from '../relay-context.js';

/** Prometheus metrics: registers collectors and the /metrics route. */
export function installMetrics(_ctx: RelayContext, _router: Router): void {
  // Filled in by the observability work (issue 3).
}
