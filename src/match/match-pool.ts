import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Filter, NostrEvent } from '../protocol/types.js';
import type { IndexStats, MatchEvent } from './sub-index.js';
import type { Batch, BatchReply, MatchOp } from '../../workers/match.js';
import { ByConnection } from './by-connection.js';

/**
 * Subscriptions that want one event. The pairs are shared between answers (one per subscription,
 * not one per match), hence readonly.
 */
export type Matches = Array<readonly [connId: number, subId: string]>;

export interface MatchPoolOptions {
  /** The compiled worker module; defaults to dist/workers/match.js next to this file's build. */
  filename?: string;
}

export interface MatchPoolStats {
  subscriptions: number;
  connections: number;
  /** Ops waiting for the in-flight task to finish. */
  queuedOps: number;
  inFlight: boolean;
  tasks: number;
  events: number;
  /** Largest number of events sent in one task: how well coalescing works under load. */
  maxTaskEvents: number;
  /** Matches dropped because their subscription was removed or replaced after match() was called. */
  staleDropped: number;
  /** Times the worker thread was found replaced and the index rebuilt. */
  resets: number;
  failedTasks: number;
  lastError?: string;
  /** Index size the worker reported with its last reply. */
  workerSize: number;
}

interface Waiter {
  start: number;
  count: number;
  resolve: (r: Matches[]) => void;
  reject: (e: Error) => void;
}

/** A match op not yet sent: the events of every match() call coalesced into it. */
interface PendingMatch {
  op: 'match';
  events: MatchEvent[];
  /** Sequence number when it was queued: a subscription added after it has a larger handle. */
  seq: number;
  waiters: Waiter[];
}

interface PendingStats {
  op: 'stats';
  resolve: (s: IndexStats) => void;
  reject: (e: Error) => void;
}

type Queued = Exclude<MatchOp, { op: 'match' } | { op: 'stats' }> | PendingMatch | PendingStats;

class Mirrored {
  constructor(
    readonly filters: Filter[],
    /** The seq of the add that made this version of the subscription; the worker answers with it. */
    readonly handle: number,
    readonly pair: readonly [number, string],
  ) {}
  get subId(): string {
    return this.pair[1];
  }
}

const NO_MATCHES: Matches = [];
Object.freeze(NO_MATCHES);

const defaultWorker = fileURLToPath(new URL('../../workers/match.js', import.meta.url));

/**
 * Main-thread side of live matching. The index is state held in ONE worker thread, so the Piscina
 * pool has exactly one thread, one task at a time and stricterFIFO (Piscina's default reorders,
 * see the constructor), which orders every add/remove before any later match
 * (test/unit/match.test.ts checks this). A plain worker_threads.Worker would give
 * the same ordering; Piscina is used because it is the project's pool and it replaces a crashed
 * thread, which this class detects and repairs from its own mirror of the subscriptions.
 *
 * All calls are queued and sent as one batch per task; while a task is in flight the next batch
 * accumulates, so under load many events travel in one message.
 */
export class MatchPool {
  private readonly piscina: Piscina;
  /** Every subscription as the caller last set it: the source for rebuilding a replaced thread. */
  private readonly mirror = new ByConnection<Mirrored>();
  /** Live subscription versions by handle; a removed or replaced version is no longer here. */
  private readonly byHandle = new Map<number, Mirrored>();
  private queue: Queued[] = [];
  private seq = 0;
  private inFlight = false;
  private scheduled = false;
  private closed = false;
  private instance: string | undefined;
  private needReset = false;
  private drainWaiters: Array<() => void> = [];
  private readonly counters = {
    tasks: 0,
    events: 0,
    maxTaskEvents: 0,
    staleDropped: 0,
    resets: 0,
    failedTasks: 0,
    lastError: undefined as string | undefined,
    workerSize: 0,
  };

  private constructor(options: MatchPoolOptions) {
    this.piscina = new Piscina({
      filename: options.filename ?? defaultWorker,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      // Without it Piscina 5 requeues a task that found the worker busy at the TAIL of its queue,
      // reordering tasks even with one thread. flush() keeps one task in flight, so the queue
      // stays empty, but the index's correctness should not rest on that alone.
      stricterFIFO: true,
      // A thread held in reserve never idles out; the index must not be thrown away.
      idleTimeout: Number.POSITIVE_INFINITY,
    });
    // Piscina emits 'error' for a thread that fails with no task running; left unhandled that
    // would kill the process. The replacement thread is caught by the instance check instead.
    this.piscina.on('error', (err: Error) => {
      this.counters.lastError = err.message;
      this.needReset = true;
    });
  }

  /** Resolves once the worker has loaded, so a broken worker fails at startup, not on the first event. */
  static async create(options: MatchPoolOptions = {}): Promise<MatchPool> {
    const pool = new MatchPool(options);
    try {
      const reply = (await pool.piscina.run({ op: 'batch', ops: [] } satisfies Batch)) as BatchReply;
      pool.instance = reply.instance;
    } catch (err) {
      await pool.piscina.destroy();
      throw err;
    }
    return pool;
  }

  /** Adds or replaces a subscription. Filters are kept by reference: do not mutate them afterwards. */
  add(connId: number, subId: string, filters: Filter[]): void {
    if (this.closed) return;
    const old = this.mirror.get(connId, subId);
    if (old !== undefined) this.byHandle.delete(old.handle);
    const handle = ++this.seq;
    const m = new Mirrored(filters, handle, Object.freeze([connId, subId] as const));
    this.mirror.set(connId, m);
    this.byHandle.set(handle, m);
    this.enqueue({ op: 'add', connId, subId, filters, handle });
  }

  remove(connId: number, subId: string): void {
    if (this.closed) return;
    const m = this.mirror.delete(connId, subId);
    if (m === undefined) return;
    this.byHandle.delete(m.handle);
    this.enqueue({ op: 'remove', connId, subId });
  }

  removeConnection(connId: number): void {
    if (this.closed) return;
    const subs = this.mirror.deleteConnection(connId);
    if (subs.length === 0) return;
    for (const m of subs) this.byHandle.delete(m.handle);
    this.enqueue({ op: 'removeConnection', connId });
  }

  /**
   * For each event, the subscriptions that want it, as of this call: adds and removes made before
   * it are seen, and a subscription removed or replaced after it is left out of the answer (its
   * owner has moved on; delivering under a reused subId could send what the new filters exclude).
   */
  match(events: readonly NostrEvent[]): Promise<Matches[]> {
    if (this.closed) return Promise.reject(new Error('match pool is closed'));
    if (events.length === 0) return Promise.resolve([]);
    // Nobody subscribed now means nobody can match (a later REQ gets a larger handle and
    // would be dropped as too new anyway): skip the worker round trip, which cost ~5% of
    // the main thread at full ingest with no subscribers.
    if (this.byHandle.size === 0) return Promise.resolve(events.map(() => NO_MATCHES));
    return new Promise<Matches[]>((resolve, reject) => {
      let pending = this.queue[this.queue.length - 1];
      if (pending === undefined || pending.op !== 'match') {
        pending = { op: 'match', events: [], seq: ++this.seq, waiters: [] };
        this.enqueue(pending);
      }
      pending.waiters.push({ start: pending.events.length, count: events.length, resolve, reject });
      for (const e of events) pending.events.push(strip(e));
    });
  }

  /** The worker's own view of its index (queued behind everything issued so far). */
  indexStats(): Promise<IndexStats> {
    if (this.closed) return Promise.reject(new Error('match pool is closed'));
    return new Promise((resolve, reject) => this.enqueue({ op: 'stats', resolve, reject }));
  }

  stats(): MatchPoolStats {
    const { lastError, ...rest } = this.counters;
    return {
      subscriptions: this.byHandle.size,
      connections: this.mirror.size,
      queuedOps: this.queue.length,
      inFlight: this.inFlight,
      ...rest,
      ...(lastError !== undefined ? { lastError } : {}),
    };
  }

  /** Lets queued work finish, then stops the thread. Later match() calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inFlight || this.queue.length > 0 || this.scheduled) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    await this.piscina.destroy();
  }

  private enqueue(op: Queued): void {
    this.queue.push(op);
    if (this.inFlight || this.scheduled) return;
    // Wait for the rest of this tick so calls made together (add then match) share one task.
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) {
      this.notifyDrain();
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.inFlight = true;
    let events = 0;
    for (const q of batch) if (q.op === 'match') events += q.events.length;
    this.counters.tasks++;
    this.counters.events += events;
    if (events > this.counters.maxTaskEvents) this.counters.maxTaskEvents = events;
    try {
      const reply = await this.send(batch);
      this.deliver(batch, reply);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.counters.failedTasks++;
      this.counters.lastError = error.message;
      // The thread may have applied part of the batch or died; only a rebuild restores agreement.
      this.needReset = true;
      for (const q of batch) {
        if (q.op === 'match') for (const w of q.waiters) w.reject(error);
        else if (q.op === 'stats') q.reject(error);
      }
    }
    this.inFlight = false;
    if (this.queue.length > 0) void this.flush();
    else this.notifyDrain();
  }

  /** Sends a batch; if the thread was replaced (or a task failed), rebuilds it first. Retries once. */
  private async send(batch: Queued[]): Promise<BatchReply> {
    for (let attempt = 0; ; attempt++) {
      const ops: MatchOp[] = [];
      if (this.needReset) {
        // The mirror already holds every add/remove issued so far, including this batch's, so the
        // batch's own add/remove ops are superseded and only its matches and stats remain.
        ops.push({ op: 'reset', subs: this.snapshot() });
        for (const q of batch) if (q.op === 'match' || q.op === 'stats') ops.push(wire(q));
      } else {
        for (const q of batch) ops.push(wire(q));
      }
      try {
        const reply = (await this.piscina.run({
          op: 'batch',
          ops,
          ...(this.instance !== undefined ? { instance: this.instance } : {}),
        } satisfies Batch)) as BatchReply;
        this.instance = reply.instance;
        if (reply.stale !== true) {
          if (this.needReset) this.counters.resets++;
          this.needReset = false;
          this.counters.workerSize = reply.size;
          return reply;
        }
        this.needReset = true;
      } catch (err) {
        this.needReset = true;
        if (attempt >= 1) throw err;
        continue;
      }
      if (attempt >= 1) throw new Error('match worker refused the rebuild');
    }
  }

  private deliver(batch: Queued[], reply: BatchReply): void {
    let r = 0;
    let s = 0;
    for (const q of batch) {
      if (q.op === 'stats') q.resolve(reply.stats[s++]!);
      if (q.op !== 'match') continue;
      const res = reply.results[r++]!;
      const base = q.events.length + 1;
      for (const w of q.waiters) {
        const out: Matches[] = new Array(w.count);
        for (let i = 0; i < w.count; i++) {
          const from = base + res[w.start + i]!;
          const to = base + res[w.start + i + 1]!;
          const list: Matches = [];
          for (let k = from; k < to; k++) {
            const handle = res[k]!;
            const m = this.byHandle.get(handle);
            // handle > seq: added after this match() call; only a rebuilt thread can report it.
            if (m !== undefined && handle < q.seq) list.push(m.pair);
            else this.counters.staleDropped++;
          }
          out[i] = list;
        }
        w.resolve(out);
      }
    }
  }

  private snapshot(): Array<[number, string, Filter[], number]> {
    const subs: Array<[number, string, Filter[], number]> = [];
    for (const m of this.byHandle.values()) subs.push([m.pair[0], m.pair[1], m.filters, m.handle]);
    return subs;
  }

  private notifyDrain(): void {
    if (this.inFlight || this.queue.length > 0 || this.scheduled) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** For tests: the worker thread, so a test can kill it and check the rebuild. */
  get threadsForTest(): readonly import('node:worker_threads').Worker[] {
    return this.piscina.threads;
  }
}

function wire(q: Queued): MatchOp {
  if (q.op === 'match') return { op: 'match', events: q.events };
  if (q.op === 'stats') return { op: 'stats' };
  return q;
}

/**
 * Only what matching reads crosses the thread boundary: content and sig are dropped, and a tag is
 * cut to its name and first value (the only parts a filter tests) when it is longer.
 */
function strip(e: NostrEvent): MatchEvent {
  let tags = e.tags;
  for (let i = 0; i < tags.length; i++) {
    if (tags[i]!.length > 2) {
      tags = tags.map((t) => (t.length > 2 ? [t[0]!, t[1]!] : t));
      break;
    }
  }
  return { id: e.id, pubkey: e.pubkey, kind: e.kind, created_at: e.created_at, tags };
}
