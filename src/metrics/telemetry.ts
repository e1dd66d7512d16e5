import { faultCount } from '../lifecycle/faults.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { log } from '../log.js';
import { isAddressable, isEphemeral, isReplaceable } from '../protocol/kinds.js';
import type { IngestResult } from '../pipeline/types.js';
import type { Supervisor } from '../../actors/supervisor.js';
import type { MatchPool } from '../match/match-pool.js';
import type { Fanout } from '../pipeline/fanout.js';
import type { VerifyPool } from '../verify/pool.js';
import type { Writer } from '../storage/writer.js';
import type { WriterStats } from '../storage/writer.js';

/** The parts of the relay the scrape-time collectors read (the relay context has them all). */
export interface WatchedRelay {
  connections: ReadonlyMap<number, { readonly queuedBytes: number }>;
  metrics: { connectionsTotal: number; eventsAccepted: number; slowConsumerCutoffs: number };
  verify: VerifyPool;
  writer: Writer;
  match: MatchPool;
  fanout: Fanout;
  supervisor: Supervisor;
}
import { VERSION } from '../version.js';

type Child = ReturnType<Counter<string>['labels']>;

/** Commands counted by nostr_relay_message_total; anything else is "unknown". */
const COMMANDS = ['EVENT', 'REQ', 'CLOSE', 'COUNT', 'AUTH', 'unknown'] as const;

/** Publish outcomes: the NIP-01 prefixes of the OK message, so the label set is closed. */
const OUTCOMES = ['accepted', 'duplicate', 'invalid', 'blocked', 'rate-limited', 'auth-required', 'restricted', 'pow', 'mute', 'error', 'other'];

/**
 * Kinds counted one by one in mls_relay_new_event_by_kind_total; every other kind falls into its
 * NIP-01 class. Kinds are client-chosen (0..65535), so a raw kind label would be unbounded.
 */
const NAMED_KINDS = new Set([0, 1, 3, 5, 7, 443, 444, 445, 1059, 10002, 10050, 10051]);

/** Label sets a policy may create per metric before the rest are folded into "other". */
const MAX_POLICY_LABELS = 64;

// Buckets in seconds: LMDB reads are sub-millisecond when indexed, a durable commit is an fsync.
const QUERY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const PUBLISH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/**
 * The relay's observability handle: one prom-client Registry per relay (never the global one, so
 * several relays in one process keep separate numbers), the few counters that must be bumped on the
 * hot path (pre-bound label children, O(1)), and the debug-level spans (publish, query).
 *
 * Everything that an existing stats object already counts is read at scrape time instead
 * (`watch`), so a relay nobody scrapes pays nothing for it.
 */
export class RelayTelemetry {
  readonly registry = new Registry();
  private readonly messages: Record<string, Child> = {};
  private readonly unknownMessage: Child;
  private readonly publishSeconds: Histogram<'outcome'>;
  private readonly publishByOutcome = new Map<string, ReturnType<Histogram<'outcome'>['labels']>>();
  private readonly dbGet: Histogram;
  private readonly dbWrite: Histogram;
  private readonly writerBatchSize: Histogram;
  private readonly verifyBatchSize: Histogram;
  private readonly verifyEvents: Counter;
  private readonly sessionStop: Counter<'reason'>;
  private readonly byKind: Counter<'kind'>;
  private readonly byKindChildren = new Map<number, Child>();
  private readonly unauthorizedCounter: Counter<'command' | 'reason'>;
  private readonly rateLimitedCounter: Counter<'command' | 'name'>;
  private readonly policyChildren = new Map<string, Child>();
  private readonly policyLabelSets = { u: 0, r: 0 };
  /** Writer batch last seen by sampleWriter, so each commit is observed once. */
  private writerBatchSeen = 0;
  private watching = false;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    new Gauge({ name: 'mls_relay_build_info', help: 'Relay version (value is always 1)', labelNames: ['version'], registers }).set(
      { version: VERSION },
      1,
    );

    const messages = new Counter({
      name: 'nostr_relay_message_total',
      help: 'Client messages by command (unknown: not parsable as a NIP-01 client message, or oversized/binary)',
      labelNames: ['command'],
      registers,
    });
    // Every command starts at 0 so rate() sees the first message of a kind.
    for (const c of COMMANDS) (this.messages[c] = messages.labels(c)).inc(0);
    this.unknownMessage = this.messages.unknown!;

    this.sessionStop = new Counter({
      name: 'nostr_relay_session_stop_total',
      help: 'Connections closed by the relay, by reason',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['heartbeat timeout', 'slow consumer']) this.sessionStop.labels(reason).inc(0);

    this.publishSeconds = new Histogram({
      name: 'mls_relay_publish_seconds',
      help: 'Time from an EVENT frame to its OK, by outcome (the OK prefix)',
      labelNames: ['outcome'],
      buckets: PUBLISH_BUCKETS,
      registers,
    });
    for (const o of OUTCOMES) this.publishByOutcome.set(o, this.publishSeconds.labels(o));

    this.dbGet = new Histogram({
      name: 'nostr_relay_db_get',
      help: 'Time of one stored query (the filters of one REQ or COUNT), in seconds',
      buckets: QUERY_BUCKETS,
      registers,
    });
    this.dbWrite = new Histogram({
      name: 'nostr_relay_db_write',
      help: 'Time of one write transaction including its durable commit, in seconds',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.verifyBatchSize = new Histogram({
      name: 'mls_relay_verify_batch_size',
      help: 'Events in one verify task (one message to a worker thread)',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.writerBatchSize = new Histogram({
      name: 'mls_relay_writer_batch_size',
      help: 'Events in one write transaction',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.verifyEvents = new Counter({
      name: 'mls_relay_verify_events_total',
      help: 'Events handed to the verify pool by EVENT ingest; divided by mls_relay_verify_batches_total it is the mean batch size',
      registers,
    });
    this.byKind = new Counter({
      name: 'mls_relay_new_event_by_kind_total',
      help: 'Accepted events by kind (common and MLS kinds by number, the rest by class: regular, replaceable, ephemeral, addressable)',
      labelNames: ['kind'],
      registers,
    });
    this.unauthorizedCounter = new Counter({
      name: 'nostr_relay_auth_unauthorized',
      help: 'Messages refused by access control, by command and reason',
      labelNames: ['command', 'reason'],
      registers,
    });
    this.rateLimitedCounter = new Counter({
      name: 'nostr_relay_rate_limiter_exceeded',
      help: 'Messages refused by a rate limiter, by command and limiter name',
      labelNames: ['command', 'name'],
      registers,
    });
  }

  // ---- hot path -------------------------------------------------------------------------

  /** One client frame; `type` is the parsed command, or anything else for unknown. */
  message(type: string): void {
    (this.messages[type] ?? this.unknownMessage).inc();
  }

  sessionStopped(reason: 'heartbeat timeout' | 'slow consumer'): void {
    this.sessionStop.labels(reason).inc();
  }

  /** An event goes to the verify pool. */
  verifying(): void {
    this.verifyEvents.inc();
  }

  /**
   * Called when a writer submit resolves. The writer resolves every item of a batch right
   * after its commit and no other commit can run before those callbacks, so the first caller
   * after a commit sees that commit's stats: each batch holding a submitted event is observed
   * exactly once, without a hook inside the writer.
   */
  sampleWriter(stats: WriterStats): void {
    if (stats.batches === this.writerBatchSeen) return;
    this.writerBatchSeen = stats.batches;
    this.dbWrite.observe(stats.lastCommitMs / 1000);
    this.writerBatchSize.observe(stats.lastBatchSize);
  }

  accepted(kind: number): void {
    let child = this.byKindChildren.get(kind);
    if (child === undefined) {
      const label = NAMED_KINDS.has(kind)
        ? String(kind)
        : isEphemeral(kind)
          ? 'ephemeral'
          : isReplaceable(kind)
            ? 'replaceable'
            : isAddressable(kind)
              ? 'addressable'
              : 'regular';
      child = this.byKind.labels(label);
      this.byKindChildren.set(kind, child);
    }
    child.inc();
  }

  /**
   * The `publish` span and its latency histogram. `result` is undefined when ingest threw.
   * Logs the id (always 64 hex once validated), kind and outcome: never content or signature.
   */
  published(conn: number, raw: unknown, result: IngestResult | undefined, t0: number): void {
    const seconds = (performance.now() - t0) / 1000;
    const outcome = outcomeOf(result);
    this.publishByOutcome.get(outcome)!.observe(seconds);
    if (!log.isLevelEnabled('debug')) return;
    const kind = (raw as { kind?: unknown } | null)?.kind;
    log.debug(
      {
        conn,
        id: result?.id,
        kind: typeof kind === 'number' ? kind : undefined,
        outcome,
        ms: round(seconds * 1000),
      },
      'publish',
    );
  }

  /** The `query` span (REQ stored query or COUNT) and nostr_relay_db_get. */
  queried(
    op: 'REQ' | 'COUNT',
    conn: number,
    sub: string,
    filters: number,
    results: number,
    timedOut: boolean,
    t0: number,
  ): void {
    const seconds = (performance.now() - t0) / 1000;
    this.dbGet.observe(seconds);
    if (!log.isLevelEnabled('debug')) return;
    log.debug({ op, conn, sub, filters, results, timed_out: timedOut, ms: round(seconds * 1000) }, 'query');
  }

  // ---- access control sink --------------------------------------------------------------

  unauthorized(command: string, reason: string): void {
    this.policyChild(this.unauthorizedCounter, 'u', command, reason).inc();
  }

  rateLimited(command: string, name: string): void {
    this.policyChild(this.rateLimitedCounter, 'r', command, name).inc();
  }

  /**
   * Reasons and limiter names come from policy code (and, for reasons, may be built from
   * input), so each metric keeps at most MAX_POLICY_LABELS label sets; later ones count as
   * "other" instead of growing the registry without bound.
   */
  private policyChild(counter: Counter<string>, tag: 'u' | 'r', command: string, detail: string): Child {
    const key = `${tag}\0${command}\0${detail}`;
    let child = this.policyChildren.get(key);
    if (child !== undefined) return child;
    const cmd = (COMMANDS as readonly string[]).includes(command) ? command : 'unknown';
    if (this.policyLabelSets[tag] >= MAX_POLICY_LABELS) return counter.labels(cmd, 'other');
    child = counter.labels(cmd, String(detail).slice(0, 64));
    this.policyLabelSets[tag]++;
    this.policyChildren.set(key, child);
    return child;
  }

  // ---- pull collectors ------------------------------------------------------------------

  /** Registers the series read from the relay's own stats objects at scrape time. */
  watch(ctx: WatchedRelay): void {
    if (this.watching) return;
    this.watching = true;
    const registers = [this.registry];

    new Gauge({ name: 'nostr_relay_session', help: 'Open WebSocket connections', registers, collect() {
      this.set(ctx.connections.size);
    } });
    pullCounter(this.registry, 'nostr_relay_session_total', 'WebSocket connections opened', () => ctx.metrics.connectionsTotal);
    pullCounter(this.registry, 'nostr_relay_new_event', 'Events accepted (stored, or ephemeral and broadcast)', () => ctx.metrics.eventsAccepted);
    new Gauge({
      name: 'mls_relay_outbound_queued_bytes',
      help: 'Bytes queued for sending over all connections (sum of ws.bufferedAmount)',
      registers,
      collect() {
        let sum = 0;
        for (const c of ctx.connections.values()) sum += c.queuedBytes;
        this.set(sum);
      },
    });
    new Gauge({
      name: 'mls_relay_outbound_queued_bytes_max',
      help: 'Largest outbound queue of one connection, in bytes (slow consumers are cut off above limitation.max_outbound_bytes)',
      registers,
      collect() {
        let max = 0;
        for (const c of ctx.connections.values()) if (c.queuedBytes > max) max = c.queuedBytes;
        this.set(max);
      },
    });
    pullCounter(
      this.registry,
      'mls_relay_slow_consumer_cutoffs_total',
      'Connections cut off because their outbound queue exceeded limitation.max_outbound_bytes',
      () => ctx.metrics.slowConsumerCutoffs,
    );

    // Verify pool.
    new Gauge({ name: 'mls_relay_verify_backend_info', help: 'Active signature verification backend (value is always 1)', labelNames: ['backend'], registers }).set(
      { backend: ctx.verify.backendName },
      1,
    );
    new Gauge({ name: 'mls_relay_verify_threads', help: 'Verify pool worker threads', registers }).set(ctx.verify.threads);
    const verifyBatch = this.verifyBatchSize;
    ctx.verify.onBatch = (size) => verifyBatch.observe(size);
    new Gauge({ name: 'mls_relay_verify_queue_depth', help: 'Events waiting for a free verify worker', registers, collect() {
      this.set(ctx.verify.stats.queued);
    } });
    new Gauge({ name: 'mls_relay_verify_in_flight', help: 'Verify tasks being worked on now', registers, collect() {
      this.set(ctx.verify.stats.inFlight);
    } });
    new Gauge({ name: 'mls_relay_verify_last_batch_size', help: 'Events in the last verify task sent', registers, collect() {
      this.set(ctx.verify.stats.lastBatchSize);
    } });
    pullCounter(this.registry, 'mls_relay_verify_batches_total', 'Verify tasks sent to workers', () => ctx.verify.stats.batches);

    // Writer.
    new Gauge({ name: 'mls_relay_writer_queue_depth', help: 'Events waiting for the next write transaction', registers, collect() {
      this.set(ctx.writer.stats.queued);
    } });
    pullCounter(this.registry, 'mls_relay_writer_batches_total', 'Write transactions committed', () => ctx.writer.stats.batches);
    pullCounter(this.registry, 'mls_relay_writer_stored_total', 'Events stored', () => ctx.writer.stats.stored);
    new Gauge({ name: 'mls_relay_storage_writable', help: 'Whether storage takes writes (0 while a full disk or map, or a failed environment, refuses them)', registers, collect() {
      this.set(ctx.writer.state === 'writable' ? 1 : 0);
    } });
    pullCounter(this.registry, 'mls_relay_storage_commit_failures_total', 'Write transactions whose commit failed (events in them got OK false "error:")', () => ctx.writer.stats.failedCommits);

    // Match worker and fan-out.
    new Gauge({ name: 'mls_relay_subscriptions', help: 'Live subscriptions in the match index', registers, collect() {
      this.set(ctx.match.stats().subscriptions);
    } });
    new Gauge({ name: 'mls_relay_match_queue_depth', help: 'Match operations waiting for the in-flight task', registers, collect() {
      this.set(ctx.match.stats().queuedOps);
    } });
    pullCounter(this.registry, 'mls_relay_match_tasks_total', 'Tasks sent to the match worker', () => ctx.match.stats().tasks);
    pullCounter(this.registry, 'mls_relay_match_events_total', 'Events matched against subscriptions', () => ctx.match.stats().events);
    pullCounter(this.registry, 'mls_relay_match_failed_tasks_total', 'Match tasks that failed', () => ctx.match.stats().failedTasks);
    pullCounter(this.registry, 'mls_relay_match_resets_total', 'Times the match worker was replaced and its index rebuilt', () => ctx.match.stats().resets);
    pullCounter(this.registry, 'mls_relay_fanout_deliveries_total', 'Live events sent to subscriptions', () => ctx.fanout.delivered);

    // Actors.
    // A kind seen once keeps reporting (0 when none is left) so its series does not vanish from graphs.
    const actorKinds = new Set(['connection', 'subscription']);
    new Gauge({ name: 'mls_relay_actors', help: 'Live supervised actors by kind', labelNames: ['kind'], registers, collect() {
      const byKind = (ctx.supervisor.snapshot().children ?? {}) as Record<string, number>;
      for (const kind of Object.keys(byKind)) actorKinds.add(kind);
      for (const kind of actorKinds) this.set({ kind }, byKind[kind] ?? 0);
    } });
    pullCounter(this.registry, 'mls_relay_actor_failures_total', 'Actor failures handled by the supervisor', () => ctx.supervisor.state.getSnapshot().context.failures);
    pullCounter(this.registry, 'mls_relay_actor_restarts_total', 'Actors rebuilt by the supervisor after a failure', () => ctx.supervisor.state.getSnapshot().context.restarts);
    pullCounter(this.registry, 'mls_relay_faults_total', 'Throws that escaped every handler and were caught by the process backstop (each is a bug)', faultCount);
  }

  /** Prometheus text exposition of this relay's registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A counter whose value lives in an existing stats object: the delta is added at scrape time. */
function pullCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  let seen = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v > seen) {
        this.inc(v - seen);
        seen = v;
      }
    },
  });
}

function outcomeOf(r: IngestResult | undefined): string {
  if (r === undefined) return 'error';
  if (r.id === undefined) return 'invalid';
  if (r.ok) return r.message.startsWith('duplicate:') ? 'duplicate' : 'accepted';
  const colon = r.message.indexOf(':');
  const prefix = colon > 0 ? r.message.slice(0, colon) : '';
  return OUTCOMES.includes(prefix) ? prefix : 'other';
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
