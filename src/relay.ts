import { Supervisor } from '../actors/supervisor.js';
import type { Config } from './config/types.js';
import { installAccessControl } from './access/install.js';
import { installGateway } from './gateway/install.js';
import { coreRoutes } from './http/core-routes.js';
import { accessMetricsSink, installMetrics } from './metrics/install.js';
import { Router } from './http/router.js';
import { observeSockets } from './metrics/http-metrics.js';
import { createHttpFront } from './http/server.js';
import { log } from './log.js';
import { MatchPool } from './match/match-pool.js';
import { Fanout } from './pipeline/fanout.js';
import { Ingest } from './pipeline/ingest.js';
import { Apply } from './pipeline/apply.js';
import { localCommit } from './pipeline/commit.js';
import { coreHooks } from './pipeline/hooks.js';
import { Reader } from './pipeline/reader.js';
import { Visibility } from './pipeline/visibility.js';
import type { LiveConnection, RelayContext } from './relay-context.js';
import { EventStore } from './storage/event-store.js';
import { Writer } from './storage/writer.js';
import { backupDir, restoreOnStart, startBackups } from './lifecycle/backups.js';
import { Cluster } from './cluster/cluster.js';
import { keepFilesPrivate } from './lifecycle/faults.js';
import { Lifecycle } from './lifecycle/machine.js';
import { closeHttp, closeSockets, SHUTDOWN_BUDGET } from './lifecycle/shutdown.js';
import { VerifyPool } from './verify/pool.js';

export interface RunningRelay {
  host: string;
  port: number;
  ctx: RelayContext;
  /** Replace the live configuration (from --watch); restart-only keys are the caller's to report. */
  setConfig(next: Config): void;
  stop(): Promise<void>;
}

const EXPIRY_SWEEP_MS = 60_000;

/** Composition root: open storage and pools, wire the pipeline, start serving. */
export async function startRelay(initial: Config): Promise<RunningRelay> {
  let config = initial;
  const getConfig = () => config;
  const startedAt = Date.now();
  const lifecycle = new Lifecycle();

  await keepFilesPrivate(config.data.path);
  // Cluster mode restores from the cluster's snapshots (and the log); [data] backups are the single-process way.
  const cluster = config.cluster.enabled ? await Cluster.open(config.cluster, config.data.path) : undefined;
  if (cluster === undefined) await restoreOnStart(config);
  else if (backupDir(config) !== undefined) log.warn('cluster mode: [data] backup_path is ignored; the cluster log and its snapshots are the durable copy');
  const store = await EventStore.open({ path: config.data.path, mapSize: config.data.map_size });
  const writer = new Writer(store);
  writer.onStateChange = (state) => lifecycle.storage(state);
  // Only our own storage may end the process: an unusable environment (not a full disk,
  // which degrades) is logged by the writer, and every OK already sent is durable.
  const die = () => {
    setTimeout(() => process.exit(1), SHUTDOWN_BUDGET.totalMs).unref();
    void Promise.resolve()
      .then(() => stop())
      .catch(() => undefined)
      .finally(() => process.exit(1));
  };
  writer.onFatal = die;
  const backups = cluster === undefined ? startBackups(store, config) : undefined;
  const [verify, match] = await Promise.all([
    VerifyPool.create({ threads: config.thread.verify || undefined }),
    MatchPool.create(),
  ]);
  log.info({ backend: verify.backendName }, 'signature verification backend');

  const supervisor = new Supervisor();
  const connections = new Map<number, LiveConnection>();
  const visibility = new Visibility();
  const hooks = coreHooks();
  const fanout = new Fanout(match, connections, visibility);
  const reader = new Reader(store, visibility);
  const metrics = { connectionsTotal: 0, eventsAccepted: 0, slowConsumerCutoffs: 0 };
  hooks.afterAccept.push(() => metrics.eventsAccepted++);
  const apply = new Apply({ writer, hooks, fanout });
  const commit = cluster === undefined ? localCommit(apply, writer) : cluster.attach(store, writer, apply, () => config.cluster.append_timeout);
  // NIP-40: due events are removed in the writer's order, at the time the sweep was asked for.
  const expire = apply.define('store.expire', { run: (_: null, now) => store.expireDue(now) });
  const ingest = new Ingest({ config: getConfig, store, commit, verify, hooks });
  const ctx: RelayContext = {
    config: getConfig,
    store,
    writer,
    apply,
    commit,
    verify,
    match,
    supervisor,
    ingest,
    fanout,
    reader,
    visibility,
    hooks,
    connections,
    metrics,
    startedAt,
    ...(cluster !== undefined ? { cluster } : {}),
  };

  supervisor.add({ actor: lifecycle, onFailure: 'stop' });
  if (cluster !== undefined) supervisor.add({ actor: cluster, onFailure: 'stop' });
  const router = new Router().add(...coreRoutes(ctx, lifecycle));
  const access = installAccessControl(ctx, accessMetricsSink(ctx));
  installMetrics(ctx, router);
  const stopGateway = config.extensions.mls_gateway.enabled ? await installGateway(ctx, router) : async () => undefined;
  const front = createHttpFront(ctx, router);
  if (ctx.telemetry) observeSockets(ctx.telemetry.registry, front);
  if (cluster !== undefined) front.hold('starting: catching up with the cluster log');
  const addr = await front.listen(config.network.host, config.network.port);

  const heartbeat = setInterval(() => {
    const now = Date.now();
    const timeout = config.network.heartbeat_timeout;
    for (const conn of connections.values()) conn.heartbeat(now, timeout);
  }, config.network.heartbeat_interval);
  heartbeat.unref();

  const sweep = setInterval(() => {
    if (commit.refusing !== undefined) return; // cannot commit now; reads hide expired events anyway
    commit.op(expire, null).then(
      (n) => {
        if (n > 0) log.info({ removed: n }, 'expired events removed');
      },
      (err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'expiry sweep failed'),
    );
  }, EXPIRY_SWEEP_MS);
  sweep.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const stopBegan = Date.now();
      lifecycle.send('DRAIN');
      clearInterval(heartbeat);
      clearInterval(sweep);
      access.stop();
      const closed = front.stopAccepting();
      // Sockets stay open until every EVENT already being processed has its OK.
      const unfinished = await ingest.drain(SHUTDOWN_BUDGET.drainMs);
      if (unfinished > 0) log.warn({ unfinished }, 'EVENTs still processing at the drain deadline get no OK');
      await supervisor.shutdown('relay shutting down');
      const cut = await closeSockets(front.wss, SHUTDOWN_BUDGET.closeGraceMs);
      if (cut > 0) log.warn({ sockets: cut }, 'sockets that did not answer the close frame were cut');
      await closeHttp(front.server, closed, SHUTDOWN_BUDGET.httpGraceMs);
      await stopGateway();
      await cluster?.stop();
      await writer.close();
      const copyDone = backups ? await backups.stop(stopBegan + SHUTDOWN_BUDGET.totalMs - Date.now()) : true;
      // Closing LMDB under a running copy is unsafe; every commit is durable already, so exiting without close loses nothing.
      if (copyDone) await store.close();
      await Promise.all([verify.close(), match.close()]);
      lifecycle.send('STOPPED');
    })());

  if (cluster !== undefined) {
    // /health and /ready answer meanwhile (503 "catching_up"); WebSockets wait for a complete view.
    log.info({ host: addr.host, port: addr.port }, 'cluster: HTTP is up (/ready 503 until caught up); catching up with the log');
    try {
      await cluster.catchUp(lifecycle, die);
    } catch (err) {
      await stop().catch(() => undefined);
      throw err;
    }
    front.hold(undefined);
  }
  lifecycle.send('STARTED');
  // A commit may have failed while the pools started: the machine ignored it in `starting`.
  if (writer.state !== 'writable') lifecycle.storage(writer.state);

  return {
    host: addr.host,
    port: addr.port,
    ctx,
    setConfig: (next) => {
      config = next;
    },
    stop,
  };
}
