import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Writer } from '../storage/writer.js';
import { gatewayStats, type GatewayStatsSnapshot } from '../gateway/stats.js';

type Labels = Record<string, string>;
type Read = (s: GatewayStatsSnapshot) => Array<[Labels, number]>;

/** The samples `read` takes from the gateway's stats at scrape time; none while the gateway is off. */
function eachSample(read: Read, fn: (labels: Labels, v: number) => void): void {
  const s = gatewayStats();
  if (s !== undefined) for (const [labels, v] of read(s)) fn(labels, v);
}

/**
 * A counter whose values live in the gateway's stats object, one series per label set: the
 * delta since the last scrape is added, so the series stay monotonic however often Prometheus
 * asks. A label set seen once keeps being reported.
 */
function pulled(registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      eachSample(read, (labels, v) => {
        const key = JSON.stringify(labels);
        const before = seen.get(key) ?? 0;
        if (v > before) this.inc(labels, v - before);
        else if (!seen.has(key)) this.inc(labels, 0);
        seen.set(key, Math.max(before, v));
      });
    },
  });
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  new Gauge({ name, help, labelNames, registers: [registry], collect() {
    eachSample(read, (labels, v) => this.set(labels, v));
  } });
}

/**
 * The MLS gateway's series, under the names its original documentation gives
 * (`mls_gateway_*`), read from the gateway's counters at scrape time. With the gateway off
 * they are registered but have no samples.
 */
export function observeGateway(registry: Registry, writer: Writer): void {
  // Every storage operation that is not an event (claims, deposits, pickups' marks, acks, sweeps)
  // is a writer task: its time from the call to the durable commit.
  const ops = new Histogram({
    name: 'mls_gateway_db_operation_duration_seconds',
    help: 'Writer tasks (KeyPackage claims, mailbox deposits and acks, registry updates, sweeps) from call to durable commit',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  writer.onTaskSettled = (ms) => ops.observe(ms / 1000);

  pulled(registry, 'mls_gateway_events_processed_total', 'Gateway-kind events accepted, by kind', ['kind'], (s) =>
    Object.entries(s.events_processed).map(([kind, n]) => [{ kind }, n]),
  );
  pulled(registry, 'mls_gateway_errors_total', 'Gateway refusals, by kind and NIP-01 prefix of the answer', ['kind', 'reason'], (s) =>
    s.rejected.map((r) => [{ kind: r.kind, reason: r.reason }, r.count]),
  );
  const single = (name: string, help: string, read: (s: GatewayStatsSnapshot) => number) => pulled(registry, name, help, [], (s) => [[{}, read(s)]]);
  single('mls_gateway_groups_updated_total', 'Group registry updates (metadata, epochs, last event)', (s) => s.groups_updated);
  single('mls_gateway_keypackages_stored_total', 'KeyPackages added to the stock', (s) => s.keypackages_stored);
  single('mls_gateway_keypackages_claimed_total', 'KeyPackages handed out by claims', (s) => s.keypackages_claimed);
  single('mls_gateway_keypackage_requests_total', 'Low-stock KeyPackage requests (447) published by the relay', (s) => s.keypackage_requests);
  single('mls_gateway_mailbox_deposits_total', 'Mailbox items deposited (accepted gift wraps and REST deposits)', (s) => s.mailbox_deposits);
  single('mls_gateway_mailbox_pickups_total', 'Mailbox items handed out by pickups (an item picked up twice counts twice)', (s) => s.mailbox_pickups);
  single('mls_gateway_mailbox_acks_total', 'Mailbox items acknowledged (deleted) by their recipient', (s) => s.mailbox_acks);
  single('mls_gateway_membership_updates_total', 'Roster changes applied (450s and gift-wrap joins)', (s) => s.roster_updates);
  gauge(registry, 'mls_gateway_mailbox_items', 'Pending mailbox items, by box', ['box'], (s) => [
    [{ box: 'welcome' }, s.mailbox_depth.welcome],
    [{ box: 'keypackage' }, s.mailbox_depth.keypackage],
  ]);
  gauge(registry, 'mls_gateway_mailbox_recipients', 'Recipients with pending mailbox items', [], (s) => [[{}, s.mailbox_depth.recipients]]);
  gauge(registry, 'mls_gateway_keypackage_owners_low', 'Owners whose KeyPackage stock is below keypackage_low_water (owners with none left are not counted: they have no stock entry)', [], (s) => [
    [{}, s.keypackage_owners_low ?? 0],
  ]);
  gauge(registry, 'mls_gateway_groups', 'Groups the gateway holds an actor for', [], (s) => [[{}, s.groups]]);
}
