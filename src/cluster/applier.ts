import { setTimeout as sleep } from 'node:timers/promises';
import { log } from '../log.js';
import type { Apply } from '../pipeline/apply.js';
import { isEphemeral } from '../protocol/kinds.js';
import type { Client } from '../pipeline/types.js';
import type { Writer } from '../storage/writer.js';
import { StorageUnavailable } from '../storage/writer.js';
import { decodeEntry } from './entry.js';
import type { NatsLog } from './nats-log.js';

/** Log messages handed to the writer and not yet committed, at most: the consumer waits beyond it. */
const MAX_IN_FLIGHT = 4096;
const STALL_RETRY_MS = 1000;
/** How often waiters with a deadline (see `due`) are checked against it. */
const DUE_SWEEP_MS = 50;

interface Waiter {
  client: Client | undefined;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
  /** Set by `due`: when the caller stops waiting, and what it is told then. */
  deadline?: number;
  late?: () => Error;
}

/** The publishing connection as far as another instance knows it: the pubkeys it proved. */
function remoteClient(pubkeys: string[]): Client {
  return { connId: 0, remote: 'cluster', pubkeys };
}

/** Thrown into the apply loop when the local store refuses writes: apply again from the mark later. */
class Stall extends Error {}

/**
 * Applies the log, in stream order, into this instance's store through the same Apply as a
 * single process (pipeline/apply.ts): each message's sequence is the stored event's position,
 * and the writer records the last applied sequence in the transaction that applies it, so a
 * restart resumes exactly after what is durable. Fan-out runs from here, so subscribers on
 * every instance see every accepted event. The instance that appended a message waits here
 * for the verdict of its apply (`expect`).
 */
export class Applier {
  /** Highest sequence whose apply has settled here. */
  applied = 0;
  /** Highest sequence the stream is known to hold (from the consumer's pending count). */
  logEnd = 0;
  /** When the last message was applied (ms): lag in time for the metrics. */
  lastAppliedAt = 0;
  /** Messages the stream is known to hold that are not applied here yet. */
  get lag(): number {
    return Math.max(0, this.logEnd - this.applied);
  }
  /** Why the applier stopped for good, if it did. */
  failure: string | undefined;
  /** Set while the local store refuses writes and the log waits to be applied again. */
  stalled = false;
  /** Called once when the log cannot be applied any more (a gap, an entry of an unknown version). */
  onFatal: ((reason: string) => void) | undefined;

  private readonly waiters = new Map<string, Waiter>();
  /** Runs while a waiter has a deadline. */
  private sweeper: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private next = 0;
  private stopped = false;
  private messages: { stop(): void } | undefined;
  /** The last write-backed apply: an ephemeral event is delivered after everything before it. */
  private lastWrite: Promise<unknown> = Promise.resolve();
  private idle: Array<() => void> = [];
  private loop: Promise<void> | undefined;

  constructor(
    private readonly deps: { log: NatsLog; apply: Apply; writer: Writer },
  ) {}

  /** Register before appending: the promise settles with the verdict of this instance's apply. */
  expect<T>(id: string, client: Client | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(id, { client, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** The caller gave up (append failed or timed out): the message, if it is in the log, still applies. */
  forget(id: string): void {
    this.waiters.delete(id);
  }

  /**
   * The verdict for `id` is wanted by `deadline` (ms): past it the waiter is forgotten and
   * rejected with `late()` (the message, being in the log, still applies). One sweep for all
   * waiters instead of a timer and a Promise.race per append. No-op once the verdict is in.
   */
  due(id: string, deadline: number, late: () => Error): void {
    const w = this.waiters.get(id);
    if (w === undefined) return;
    w.deadline = deadline;
    w.late = late;
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(this.sweepDue, DUE_SWEEP_MS);
      this.sweeper.unref();
    }
  }

  private readonly sweepDue = (): void => {
    const now = Date.now();
    let left = 0;
    for (const [id, w] of this.waiters) {
      if (w.deadline === undefined) continue;
      if (w.deadline > now) {
        left++;
        continue;
      }
      this.waiters.delete(id);
      w.reject(w.late!());
    }
    if (left === 0) this.stopSweep();
  };

  private stopSweep(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Start applying after `mark` (the last sequence the store holds). */
  start(mark: number): void {
    this.next = mark + 1;
    this.applied = mark;
    this.loop = this.run();
  }

  /** Resolves once everything the stream held at `target` is applied here (start-up catch-up). */
  async caughtUp(target: number, progress: (applied: number) => void): Promise<void> {
    let lastReport = Date.now();
    while (this.applied < target || this.inFlight > 0) {
      if (this.failure !== undefined) throw new Error(this.failure);
      if (this.stopped) throw new Error('cluster: stopped during catch-up');
      await new Promise((r) => setTimeout(r, 20));
      if (Date.now() - lastReport >= 5000) {
        lastReport = Date.now();
        progress(this.applied);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
    await this.settled();
    this.stopSweep();
    for (const w of this.waiters.values()) w.reject(new StorageUnavailable('cluster: relay is shutting down'));
    this.waiters.clear();
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.failure === undefined) {
      try {
        const messages = await this.deps.log.read(this.next);
        this.messages = messages;
        for await (const m of messages) {
          if (this.stopped || this.stalled || this.failure !== undefined) break;
          this.take(m.seq, m.data, m.info.pending);
          if (this.inFlight >= MAX_IN_FLIGHT) await this.settled();
        }
      } catch (err) {
        if (!this.stopped) log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cluster: reading the log failed; retrying');
      }
      this.messages?.stop();
      this.messages = undefined;
      if (this.stopped || this.failure !== undefined) break;
      if (this.stalled) {
        // Nothing after the refused item committed (the writer refuses what was queued behind a
        // failed commit), so the store's mark is exactly where to start again.
        await this.settled();
        while (!this.stopped && this.deps.writer.state === 'degraded') await sleep(STALL_RETRY_MS);
        if (this.deps.writer.state === 'failed') break;
        this.next = this.deps.writer.appliedMark() + 1;
        this.applied = this.next - 1;
        this.stalled = false;
        log.info({ from: this.next }, 'cluster: storage writable again; applying the log from the last durable position');
      } else {
        await sleep(STALL_RETRY_MS);
      }
    }
  }

  /** Hands one log message to the apply (synchronously: no promise of its own per message). */
  private take(seq: number, data: Uint8Array, pending: number): void {
    if (seq < this.next) return; // delivered again after a resume
    if (seq > this.next) return this.fatal(`the log skips from ${this.next - 1} to ${seq} (purged past this instance's position); restart with an empty data directory to restore the newest snapshot`);
    this.next = seq + 1;
    if (seq + pending > this.logEnd) this.logEnd = seq + pending;
    const entry = decodeEntry(data);
    if (typeof entry === 'string') return this.fatal(`log message ${seq} cannot be applied: ${entry}`);
    const waiter = this.waiters.get(entry.id);
    if (waiter !== undefined) this.waiters.delete(entry.id);
    const place = { position: seq, mark: seq };
    const { apply } = this.deps;
    let work: Promise<unknown>;
    if (entry.k === 'e') {
      const client = waiter?.client ?? remoteClient(entry.pk);
      const run = () =>
        apply.event(entry.ev, client, entry.at, place).then((o) => {
          if (o.storage) throw new Stall(o.message);
          return o;
        });
      // After the write before it, whatever that write's outcome: only the order is borrowed.
      work = isEphemeral(entry.ev.kind) ? this.lastWrite.then(run, run) : (this.lastWrite = run());
    } else {
      work = this.lastWrite = apply.op(entry.op, entry.a, entry.at, place).catch((err: unknown) => {
        throw err instanceof StorageUnavailable ? new Stall(err.message) : err;
      });
    }
    this.inFlight++;
    work.then(
      (v) => {
        this.settle(seq);
        waiter?.resolve(v);
        this.left();
      },
      (err: unknown) => {
        if (err instanceof Stall) {
          if (!this.stalled) log.error({ seq, reason: err.message }, 'cluster: the store refused a log message; applying pauses until it is writable');
          this.stalled = true;
          // The waiter stays: the same message is applied again from the mark.
          if (waiter !== undefined) this.waiters.set(entry.id, waiter);
          this.messages?.stop();
        } else {
          this.settle(seq);
          waiter?.reject(err);
        }
        this.left();
      },
    );
  }

  /** One applied (or refused) message is no longer in flight. */
  private left(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const done of this.idle.splice(0)) done();
  }

  private settle(seq: number): void {
    if (seq > this.applied) this.applied = seq;
    this.lastAppliedAt = Date.now();
  }

  private settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private fatal(reason: string): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    log.fatal({ reason }, 'cluster: the log cannot be applied here any more');
    this.messages?.stop();
    this.onFatal?.(reason);
  }
}
