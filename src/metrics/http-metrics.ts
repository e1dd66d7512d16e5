import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Router } from '../http/router.js';

const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * A route's label: its pattern, not the client's path (paths carry group ids and keys, and
 * would make the label set unbounded). `/^\/api\/v1\/groups\/([^/]+)$/` becomes
 * `/api/v1/groups/{}`.
 */
export function routeLabel(path: string | RegExp): string {
  if (typeof path === 'string') return path;
  return path.source
    .replace(/^\^/, '')
    .replace(/\$$/, '')
    .replace(/\((?:[^()\\]|\\.)*\)/g, '{}')
    .replace(/\\\//g, '/');
}

/**
 * REST and the other HTTP endpoints: requests by route, method and status, and latency by
 * route, observed when the response is finished. Labels come from the route table, so they
 * are bounded: an unknown path counts as `unmatched`.
 */
export function observeHttp(router: Router, registry: Registry): void {
  const requests = new Counter({
    name: 'mls_relay_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'mls_relay_http_request_duration_seconds',
    help: 'Time from request to finished response, by route pattern',
    labelNames: ['route'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const labels = new Map<string | RegExp, string>();
  router.observe = (route, method, status, ms) => {
    let label = 'unmatched';
    if (route !== undefined) {
      label = labels.get(route) ?? routeLabel(route);
      labels.set(route, label);
    }
    requests.inc({ route: label, method: METHODS.has(method) ? method : 'other', status: String(status) });
    seconds.observe({ route: label }, ms / 1000);
  };
}

/** Plain HTTP sockets open now and refused at accept by the caps (limitation.max_http_connections*). */
export function observeSockets(registry: Registry, front: { httpSockets(): number; refusedSockets(): { total: number; address: number } }): void {
  new Gauge({ name: 'mls_relay_http_sockets', help: 'Plain HTTP sockets open (requests, keep-alive, handshakes not yet upgraded)', registers: [registry], collect() {
    this.set(front.httpSockets());
  } });
  const seen = { total: 0, address: 0 };
  new Counter({
    name: 'mls_relay_http_sockets_refused_total',
    help: 'Plain HTTP sockets closed at accept: cap="total" (max_http_connections) or "address" (max_http_connections_per_ip)',
    labelNames: ['cap'],
    registers: [registry],
    collect() {
      const now = front.refusedSockets();
      for (const cap of ['total', 'address'] as const) {
        this.inc({ cap }, now[cap] - seen[cap]);
        seen[cap] = now[cap];
      }
    },
  });
}
