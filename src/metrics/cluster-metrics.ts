import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Cluster } from '../cluster/cluster.js';

/**
 * Cluster mode's series (`mls_relay_cluster_*`), read from the cluster room at scrape time
 * and, for appends, observed as they happen. Registered whether or not the relay runs in a
 * cluster, so dashboards see the names; a single process reports zeros.
 */
export function observeCluster(registry: Registry, cluster: Cluster | undefined): void {
  const read = (fn: (c: Cluster) => number) =>
    function (this: Gauge) {
      if (cluster?.applier !== undefined) this.set(fn(cluster));
    };
  new Gauge({ name: 'mls_relay_cluster_log_position', help: 'Highest log sequence this instance knows the stream holds', registers: [registry], collect: read((c) => c.applier!.logEnd) });
  new Gauge({ name: 'mls_relay_cluster_applied_position', help: 'Highest log sequence applied to this instance\'s store', registers: [registry], collect: read((c) => c.applier!.applied) });
  new Gauge({
    name: 'mls_relay_cluster_apply_lag',
    help: 'Log messages the stream holds that this instance has not applied yet',
    registers: [registry],
    collect: read((c) => Math.max(0, c.applier!.logEnd - c.applier!.applied)),
  });
  new Gauge({ name: 'mls_relay_cluster_connected', help: '1 while this instance is connected to NATS', registers: [registry], collect: read((c) => (c.log.connected ? 1 : 0)) });
  new Gauge({ name: 'mls_relay_cluster_peers', help: 'Other instances heard from on the log in the last 30 s', registers: [registry], collect: read((c) => (c.snapshot().peers as unknown[]).length) });
  const append = new Histogram({
    name: 'mls_relay_cluster_append_seconds',
    help: 'Appends to the cluster log, from the first try to the stream\'s acknowledgement (retries included)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const failed = new Counter({ name: 'mls_relay_cluster_append_failures_total', help: 'Appends the stream did not acknowledge within append_timeout', registers: [registry] });
  if (cluster !== undefined) {
    cluster.onAppend = (ms, ok) => {
      if (ok) append.observe(ms / 1000);
      else failed.inc();
    };
  }
}
