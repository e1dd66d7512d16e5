import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Cluster } from '../cluster/cluster.js';

/**
 * Cluster mode's series (`mls_relay_cluster_*`, labelled by `stream`), read from the cluster room
 * at scrape time and, for appends, observed as they happen. Registered whether or not the relay
 * runs in a cluster; a single process exposes no samples (so no alert on them can fire there).
 */
export function observeCluster(registry: Registry, cluster: Cluster | undefined): void {
  const labelNames = ['stream'];
  const labels = { stream: cluster?.cfg.stream ?? '' };
  const gauge = (name: string, help: string, fn: (c: Cluster) => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        if (cluster?.applier !== undefined) this.set(labels, fn(cluster));
      },
    });
  gauge('mls_relay_cluster_log_position', 'Highest log sequence this instance knows the stream holds', (c) => c.applier!.logEnd);
  gauge('mls_relay_cluster_applied_position', "Highest log sequence applied to this instance's store", (c) => c.applier!.applied);
  gauge('mls_relay_cluster_apply_lag', 'Log messages the stream holds that this instance has not applied yet', (c) => c.applier!.lag);
  gauge('mls_relay_cluster_apply_stalled_seconds', 'While messages wait to be applied here: seconds since this instance last applied one (0 when caught up)', (c) => {
    const a = c.applier!;
    return a.lag > 0 && a.lastAppliedAt > 0 ? (Date.now() - a.lastAppliedAt) / 1000 : 0;
  });
  gauge('mls_relay_cluster_connected', '1 while this instance is connected to NATS', (c) => (c.log.connected ? 1 : 0));
  gauge('mls_relay_cluster_peers', 'Other instances heard from on the log in the last 30 s', (c) => (c.snapshot().peers as unknown[]).length);
  const append = new Histogram({
    name: 'mls_relay_cluster_append_seconds',
    help: "Appends to the cluster log, from the first try to the stream's acknowledgement (retries included)",
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const failed = new Counter({ name: 'mls_relay_cluster_append_failures_total', help: 'Appends the stream did not acknowledge within append_timeout', labelNames, registers: [registry] });
  if (cluster !== undefined) {
    failed.inc(labels, 0);
    cluster.onAppend = (ms, ok) => {
      if (ok) append.observe(labels, ms / 1000);
      else failed.inc(labels);
    };
  }
}
