import type { Config } from './config/types.js';
import type { EventStore } from './storage/event-store.js';
import type { Writer } from './storage/writer.js';
import type { VerifyPool } from './verify/pool.js';
import type { MatchPool } from './match/match-pool.js';
import type { Supervisor } from '../actors/supervisor.js';
import type { Ingest } from './pipeline/ingest.js';
import type { Apply } from './pipeline/apply.js';
import type { Commit } from './pipeline/commit.js';
import type { Fanout, Subscriber } from './pipeline/fanout.js';
import type { Hooks } from './pipeline/hooks.js';
import type { Reader } from './pipeline/reader.js';
import type { Visibility } from './pipeline/visibility.js';
import type { RelayTelemetry } from './metrics/telemetry.js';

/**
 * What the rest of the relay needs of a live WebSocket (actors/connection.ts implements it):
 * an interface, so this context does not import the actor that imports it.
 */
export interface LiveConnection extends Subscriber {
  readonly connId: number;
  /** Bytes waiting in the socket's send buffer. */
  readonly queuedBytes: number;
  heartbeat(now: number, timeoutMs: number): void;
}

/** Plain counters bumped where they happen; /metrics reads them at scrape time. */
export interface RelayCounters {
  connectionsTotal: number;
  eventsAccepted: number;
  slowConsumerCutoffs: number;
}

/**
 * Everything an actor may reach, passed explicitly (no module-level singletons), so a
 * test or the CLI can run several relays in one process. `config` is a getter because
 * `--watch` swaps the configuration live.
 */
export interface RelayContext {
  config: () => Config;
  store: EventStore;
  writer: Writer;
  /** The deterministic apply of accepted changes (operations are defined on it at start-up). */
  apply: Apply;
  /** Where writes become durable: the writer alone, or the cluster log (src/cluster/). */
  commit: Commit;
  verify: VerifyPool;
  match: MatchPool;
  supervisor: Supervisor;
  ingest: Ingest;
  fanout: Fanout;
  reader: Reader;
  visibility: Visibility;
  hooks: Hooks;
  connections: Map<number, LiveConnection>;
  metrics: RelayCounters;
  /**
   * Prometheus registry and debug spans, set by installMetrics. Optional so a context built
   * without it (unit tests, tools) still type-checks; callers use `ctx.telemetry?.`.
   */
  telemetry?: RelayTelemetry;
  startedAt: number;
  /** Cluster mode's log, apply and snapshots (src/cluster/); absent for a single process. */
  cluster?: import('./cluster/cluster.js').Cluster;
  /** Set by the MLS gateway when enabled: its counters and mailbox depths for the metrics module. */
  gateway?: { stats(): import('./gateway/stats.js').GatewayStatsSnapshot };
}
