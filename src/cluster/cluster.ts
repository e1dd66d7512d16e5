import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Supervised } from '../../actors/supervisor.js';
import type { ClusterConfig } from '../config/types.js';
import type { Lifecycle } from '../lifecycle/machine.js';
import { log } from '../log.js';
import type { Apply } from '../pipeline/apply.js';
import type { EventStore } from '../storage/event-store.js';
import type { Writer } from '../storage/writer.js';
import { Applier } from './applier.js';
import { ClusterCommit } from './cluster-commit.js';
import { NatsLog } from './nats-log.js';
import { Peers } from './peers.js';
import { Snapshots, type SnapshotMeta } from './snapshots.js';

/** Longest start-up waits to connect to NATS and find (or create) the stream. */
const OPEN_TIMEOUT_MS = 30_000;
/** How often an instance checks whether the cluster's newest snapshot is older than snapshot_interval. */
const SNAPSHOT_CHECK_MS = 60_000;

/**
 * Cluster mode, the room between the pipeline and the writer: the log (nats-log.ts), its
 * apply into this instance's LMDB (applier.ts), the commit point that appends and waits for
 * the apply (cluster-commit.ts), snapshots as the log's compaction point (snapshots.ts) and
 * the peers view. Start-up order: `open` before the store (an empty data directory gets the
 * newest snapshot), `attach` once the writer exists, `catchUp` once every operation is
 * defined (the gateway is installed): only then is the instance ready.
 */
export class Cluster implements Supervised {
  readonly id = 'cluster';
  readonly kind = 'cluster';
  applier: Applier | undefined;
  commit: ClusterCommit | undefined;
  /** Append latency samples and outcomes, for the metrics (ms). */
  onAppend: ((ms: number, ok: boolean) => void) | undefined;
  private peers: Peers | undefined;
  private timer: NodeJS.Timeout | undefined;
  private store: EventStore | undefined;
  private writer: Writer | undefined;
  private lastSnapshot: SnapshotMeta | undefined;
  private catchUpMs: number | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly cfg: ClusterConfig,
    readonly instanceId: string,
    readonly log: NatsLog,
    readonly snapshots: Snapshots,
    readonly restored: SnapshotMeta | undefined,
  ) {}

  /** Connect, make sure the stream exists, and restore the newest snapshot into an empty data directory. */
  static async open(cfg: ClusterConfig, dataPath: string): Promise<Cluster> {
    const instanceId = cfg.instance_id ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    // Our own deadline: nats.js's connect() can stay pending for good when every server refuses
    // the login for a reason other than bad credentials (e.g. an account connection limit).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
    });
    const natsLog = await Promise.race([NatsLog.open(cfg, instanceId), deadline])
      .catch((err: unknown) => {
        throw new Error(`cluster: cannot open the log on NATS (${cfg.nats_url.join(', ')}): ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => clearTimeout(timer));
    try {
      const snapshots = await Snapshots.open(natsLog, cfg);
      const restored = await snapshots.restoreInto(dataPath);
      log.info({ instance_id: instanceId, stream: cfg.stream, replicas: cfg.replicas, restored: restored?.name }, 'cluster mode: connected to the log');
      return new Cluster(cfg, instanceId, natsLog, snapshots, restored);
    } catch (err) {
      await natsLog.close();
      throw err;
    }
  }

  /** The commit point of this instance, once its store and writer exist. */
  attach(store: EventStore, writer: Writer, apply: Apply, timeoutMs: () => number): ClusterCommit {
    this.store = store;
    this.writer = writer;
    this.applier = new Applier({ log: this.log, apply, writer });
    this.commit = new ClusterCommit({ log: this.log, applier: this.applier, writer, instanceId: this.instanceId, timeoutMs });
    this.commit.onAppend = (ms, ok) => this.onAppend?.(ms, ok);
    return this.commit;
  }

  /**
   * Apply the log from the store's mark to the stream's end as of now, then follow it live.
   * Refuses a store that is not a view of this log, and one the log has been purged past.
   */
  async catchUp(lifecycle: Lifecycle, onFatal: (reason: string) => void): Promise<void> {
    const { store, writer, applier } = this;
    if (store === undefined || writer === undefined || applier === undefined) throw new Error('cluster: catchUp before attach');
    const mark = writer.appliedMark();
    if (mark === 0 && store.stats().events > 0) {
      throw new Error('cluster: the data directory holds events that did not come from the cluster log; start cluster mode with an empty data directory');
    }
    const bounds = await this.log.bounds();
    if (bounds.messages > 0 && bounds.first > mark + 1) {
      throw new Error(
        `cluster: the log starts at ${bounds.first} but this store has applied up to ${mark}` +
          (mark === 0 ? ' and there is no snapshot that covers the gap' : '; start with an empty data directory to restore the newest snapshot'),
      );
    }
    this.log.onConnection = (up) =>
      lifecycle.fault('log', up ? undefined : ['degraded: the cluster log (NATS) is unreachable; writes are refused, reads are served', 'log_unreachable']);
    applier.onFatal = (reason) => {
      lifecycle.fail([`the cluster log cannot be applied: ${reason}`, 'log_failed']);
      onFatal(reason);
    };
    const target = bounds.last;
    const t0 = Date.now();
    lifecycle.progress = [`catching up with the cluster log: ${mark} of ${target} applied`, 'catching_up'];
    applier.start(mark);
    await applier.caughtUp(target, (applied) => {
      lifecycle.progress = [`catching up with the cluster log: ${applied} of ${target} applied`, 'catching_up'];
      log.info({ applied, target }, 'cluster: catching up with the log');
    });
    this.catchUpMs = Date.now() - t0;
    log.info({ from: mark, to: target, ms: this.catchUpMs, restored: this.restored?.name }, 'cluster: caught up with the log; ready');
    this.peers = new Peers(this.log.nc, this.cfg.stream, this.instanceId, () => applier.applied);
    const check = () => void this.takeSnapshot(false);
    // Spread over instances: whoever finds the newest snapshot too old first takes the next one.
    this.timer = setInterval(check, Math.min(SNAPSHOT_CHECK_MS, this.cfg.snapshot_interval) + Math.floor(Math.random() * 1000));
    this.timer.unref();
  }

  /** Take a snapshot now if one is due (or `force`); errors are logged, never thrown. */
  async takeSnapshot(force: boolean): Promise<SnapshotMeta | undefined> {
    if (this.store === undefined || this.writer === undefined) return undefined;
    try {
      const s = await this.snapshots.maybeTake(this.store, this.writer, force);
      if (s !== undefined) this.lastSnapshot = s;
      return s;
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'cluster: snapshot failed');
      return undefined;
    }
  }

  /** The debug view (GET /debug/actors, kind cluster). */
  snapshot(): Record<string, unknown> {
    const a = this.applier;
    return {
      instance_id: this.instanceId,
      stream: this.cfg.stream,
      replicas: this.cfg.replicas,
      connected: this.log.connected,
      server: this.log.connected ? this.log.nc.info?.server_name : undefined,
      position: a?.logEnd ?? 0,
      applied: a?.applied ?? 0,
      lag: a?.lag ?? 0,
      stalled: a?.stalled ?? false,
      failure: a?.failure,
      catch_up_ms: this.catchUpMs,
      restored_snapshot: this.restored?.name,
      last_snapshot: this.lastSnapshot?.name,
      peers: this.peers?.list() ?? [],
    };
  }

  /** Idempotent: the supervisor's shutdown and the relay's stop() both call it. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      clearInterval(this.timer);
      this.peers?.stop();
      await this.applier?.stop();
      await this.log.close();
    })());
  }
}
