import type { IncomingMessage } from 'node:http';
import { bearerToken, keyMatches } from '../http/core-routes.js';
import { sendError } from '../http/respond.js';
import type { Router } from '../http/router.js';
import { log } from '../log.js';
import type { RelayContext } from '../relay-context.js';
import { observeCluster } from './cluster-metrics.js';
import { observeGateway } from './gateway-metrics.js';
import { observeHttp } from './http-metrics.js';
import { RelayTelemetry } from './telemetry.js';

export { accessMetricsSink, type AccessMetricsSink } from './access-sink.js';
export { RelayTelemetry } from './telemetry.js';

/**
 * Prometheus metrics: builds this relay's telemetry (ctx.telemetry, read by the actors and
 * the pipeline), registers the scrape-time collectors and serves GET /metrics.
 *
 * The telemetry exists whether or not `[metrics] enabled` is set, because `--watch` may turn
 * metrics on later and the counters must already be running then; the route checks the
 * live config on every request.
 */
export function installMetrics(ctx: RelayContext, router: Router): RelayTelemetry {
  const telemetry = ctx.telemetry ?? new RelayTelemetry();
  ctx.telemetry = telemetry;
  ctx.ingest.telemetry = telemetry;
  ctx.apply.telemetry = telemetry;
  telemetry.watch(ctx);
  observeHttp(router, telemetry.registry);
  observeGateway(telemetry.registry, ctx.writer);
  observeCluster(telemetry.registry, ctx.cluster);
  ctx.hooks.afterAccept.push((event) => telemetry.accepted(event.kind));

  const cfg = ctx.config().metrics;
  if (cfg.enabled && !cfg.auth) log.warn('[metrics] is enabled without auth: anyone who can reach the port can read /metrics');

  router.add({
    method: 'GET',
    path: '/metrics',
    handler: async (req, res, _params, url) => {
      const { enabled, auth } = ctx.config().metrics;
      // Disabled looks like no such route at all, as in rnostr.
      if (!enabled) return sendError(res, 404, 'not_found', 'not found');
      if (auth && !presentedKeyMatches(req, url, auth)) return sendError(res, 401, 'unauthorized', 'unauthorized');
      const body = await telemetry.render();
      res.writeHead(200, { 'content-type': telemetry.contentType, 'cache-control': 'no-store' });
      res.end(body);
    },
  });
  return telemetry;
}

/** rnostr's `?auth=KEY`, or `Authorization: Bearer KEY` (which keeps the key out of URLs). */
function presentedKeyMatches(req: IncomingMessage, url: URL, expected: string): boolean {
  // Both are checked (no short-circuit) so the answer time does not say which one was tried.
  const byQuery = keyMatches(url.searchParams.get('auth') ?? undefined, expected);
  const byHeader = keyMatches(bearerToken(req), expected);
  return byQuery || byHeader;
}
