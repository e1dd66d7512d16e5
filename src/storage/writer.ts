import { statfs } from 'node:fs/promises';
import type { RootDatabase } from 'lmdb';
import { log } from '../log.js';
import { dTag, expirationOf, isAddressable, isEphemeral, isReplaceable } from '../protocol/kinds.js';
import type { NostrEvent } from '../protocol/types.js';
import type { Position } from './position.js';
import {
  dKeyPart,
  EMPTY,
  decodeRecord,
  encodeRecord,
  recordJson,
  forEachIndexKey,
  MAX_SEQ,
  MIN_TS,
  type StoreDbs,
} from './keys.js';

export interface WriteOutcome {
  ok: boolean;
  stored: boolean;
  message: string;
  /** Ids removed by this write: the replaced event, or the targets of a deletion. */
  removed: string[];
  /** When stored: the event's canonical JSON bytes as stored, for fan-out to frame as they are. */
  json?: Buffer;
  /**
   * The refusal is the store's state (closed, degraded, a failed commit), not a verdict on
   * the event: a log applier must apply the same item again once the store is writable.
   */
  storage?: true;
}

/**
 * Where an item sits in a replicated log (cluster mode): `position` is the event's
 * position (the log's sequence) instead of the writer's own counter, and `mark` is
 * recorded in the same transaction as the item, so "applied up to here" is exactly as
 * durable as what was applied.
 */
export interface LogPlace {
  position?: Position;
  mark: number;
}

/**
 * Runs inside the write transaction right after the event and its indexes were
 * written, so side tables (gateway) commit atomically with the event. It runs only
 * for events actually stored, and is given the event's position (see position.ts), so
 * decisions such as "the first Commit of an epoch" are taken in the relay's order. If it
 * throws, the item's child transaction is rolled back and the event is not stored.
 */
export type WriteEffect = (position: Position) => void;

/**
 * Called inside the write transaction for every stored event that is removed, whatever
 * removes it (replacement, NIP-09, NIP-40 expiry, a gateway sweep), so side indexes that
 * name positions stay exact. Must not throw.
 */
export type RemovalHook = (position: Position, event: NostrEvent) => void;

/**
 * Thrown by an effect to refuse the event with a client-facing OK message (it must
 * carry a NIP-01 prefix such as "blocked:"); any other error becomes the generic
 * "error: could not store event" so internals never leak.
 */
export class WriteRejection extends Error {}

export interface WriterStats {
  /** Write transactions committed. */
  batches: number;
  /** Events in the last committed transaction. */
  lastBatchSize: number;
  /** Wall time of the last transaction including the durable commit, in ms. */
  lastCommitMs: number;
  /** Events stored since open. */
  stored: number;
  /** Items waiting for the next transaction. */
  queued: number;
  /** Write transactions (batches and probes) whose commit failed. */
  failedCommits: number;
}

/**
 * `writable`: normal. `degraded`: a commit failed (disk or map full, or an I/O error):
 * every new write is refused at once with `error:`, reads go on, and a probe commit is
 * tried every PROBE_MS; the first commit that succeeds makes the store writable again.
 * `failed`: the environment itself is unusable (LMDB panic, corruption, closed under
 * us): writes are refused for good and `onFatal` is called so the process can exit.
 */
export type StorageState = 'writable' | 'degraded' | 'failed';

/** Thrown (rejected) to `run()` callers while the store refuses writes. */
export class StorageUnavailable extends Error {}

// Outcomes are built fresh per item: callers own (and may mutate) `removed`.
const outcome = (ok: boolean, message: string): WriteOutcome => ({ ok, stored: false, message, removed: [] });
const DUPLICATE = 'duplicate: already have this event';
const DELETED = 'blocked: this event has been deleted';
const HAVE_NEWER = 'duplicate: have newer event';
const FAILED = 'error: could not store event';
const CLOSED = 'error: storage is closed';
const FULL = 'error: storage is full, writes are refused';
const FAILING = 'error: storage is failing, writes are refused';
const BROKEN = 'error: storage has failed, writes are refused';
const storageRefusal = (message: string): WriteOutcome => ({ ok: false, stored: false, message, removed: [], storage: true });

/** `ev:meta` key of the last log position applied (cluster mode). */
export const APPLIED_KEY = 'log:applied';

/** How often a degraded writer tries a probe commit. */
export const PROBE_MS = 1000;
/**
 * The probe rewrites one record this large: a commit that can allocate and write it has
 * real room again (a tiny probe would fit in pages LMDB already has free while a batch
 * of events would not, and the writer would flap between writable and degraded).
 */
const PROBE_BYTES = 256 * 1024;
/**
 * After "no room", the file system must also show this much free space before a probe is
 * tried: the freed pages of earlier commits can take a probe while the disk is still full.
 */
const FREE_MIN_BYTES = 4 * 1024 * 1024;
const PROBE_VALUE = Buffer.alloc(PROBE_BYTES);
const PROBE_KEY = 'probe';

/** errno and LMDB codes that mean "no room": recoverable once space returns. */
const NO_ROOM = new Set([
  5, // EIO: LMDB reports a short write (a full file system) as EIO
  27, // EFBIG
  28, // ENOSPC
  122, // EDQUOT
  -30792, // MDB_MAP_FULL
]);
/** LMDB codes after which the environment must not be used again. */
const FATAL = new Set([
  -30796, // MDB_CORRUPTED
  -30795, // MDB_PANIC
  -30794, // MDB_VERSION_MISMATCH
  -30793, // MDB_INVALID
]);

interface Item {
  event: NostrEvent;
  effect: WriteEffect | undefined;
  resolve: (o: WriteOutcome) => void;
  place: LogPlace | undefined;
}

/** Work not caused by an event (gateway claims, acks, sweeps), run in the next batch transaction. */
interface Task {
  event?: undefined;
  place: LogPlace | undefined;
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
  /** When run() was called: a task's latency is queueing plus the durable commit. */
  queuedAt: number;
}

/** What a Writer needs from its store; EventStore.internals() hands it over once. */
export interface WriterHost {
  internals(writer: Writer): { env: RootDatabase; dbs: StoreDbs; lastSeq: number; path: string };
}

/** The [kind, pubkey, d] slot of a replaceable or addressable event. */
function slotOf(e: NostrEvent): [number, string, string] | undefined {
  if (isReplaceable(e.kind)) return [e.kind, e.pubkey, ''];
  if (isAddressable(e.kind)) return [e.kind, e.pubkey, dKeyPart(dTag(e))];
  return undefined;
}

/** Read-only NIP-09 check shared by the pipeline's pre-check and the writer. */
export function isTombstonedIn(dbs: StoreDbs, e: NostrEvent, undeletable: ReadonlyMap<number, string>): boolean {
  // Deleting a deletion has no effect (NIP-09), so a kind 5 is never refused; nor is a
  // kind deletion may not remove (a tombstone for its id may predate its arrival).
  if (e.kind === 5 || undeletable.has(e.kind)) return false;
  if (dbs.tomb.doesExist([e.id, e.pubkey])) return true;
  const slot = slotOf(e);
  if (slot === undefined) return false;
  const deletedUpTo = dbs.coordTomb.get(slot);
  return deletedUpTo !== undefined && e.created_at <= deletedUpTo;
}

/**
 * The single writer (strfry's Writer thread): callers queue events, and on each turn of
 * the event loop everything queued goes into one lmdb-js async `transaction()`. Its
 * callback runs on this thread inside a write transaction held by lmdb's write thread,
 * which then commits; lmdb chains the transactions queued while a commit is running into
 * the next one, so under load one commit serves many events without a flush delay.
 * Outcomes resolve only once the commit is flushed to disk (`flushed`, overlappingSync),
 * so OK true still means durable, but the fsync no longer blocks this thread: measured,
 * it cost the synchronous version a fifth of the main thread's time at 5.5k events/s.
 *
 * Every other write in the process goes through `run()`, so nothing writes outside this
 * order. Every refusal is decided before an item writes anything, and an item with an
 * effect runs in a child transaction, so a failure (or a WriteRejection from an effect)
 * costs only that item, never the batch.
 */
export class Writer {
  readonly stats: WriterStats = { batches: 0, lastBatchSize: 0, lastCommitMs: 0, stored: 0, queued: 0, failedCommits: 0 };
  /** Writable, degraded (refusing writes, probing) or failed; see StorageState. */
  state: StorageState = 'writable';
  /** Told of every change of `state` (the relay's lifecycle follows it). */
  onStateChange: ((state: StorageState) => void) | undefined;
  /** Told how long each run() task took from call to durable commit, in ms (metrics). */
  onTaskSettled: ((ms: number) => void) | undefined;
  /** Called once when the state becomes `failed`; the owner of the process decides to exit. */
  onFatal: ((err: unknown) => void) | undefined;
  /** Kinds NIP-09 deletion may not remove, with the reason a refused deletion is given. */
  readonly undeletable = new Map<number, string>();
  /** Side-index upkeep for removed events; see RemovalHook. */
  readonly removalHooks: RemovalHook[] = [];
  /** The client-facing refusal while not writable. */
  private refusal = FULL;

  /** What a write is answered with now: undefined while writable, else the `error:` refusal. */
  get refusing(): string | undefined {
    return this.state === 'writable' ? undefined : this.refusal;
  }
  private probeTimer: NodeJS.Timeout | undefined;
  /** Events and tasks in submission order: a log applier's order must be the commit order. */
  private queue: Array<Item | Task> = [];
  private scheduled = false;
  /** Transactions handed to lmdb whose outcomes are not yet resolved. */
  private committing = 0;
  /** A transaction is handed to lmdb and not yet committed. */
  private uncommitted = false;
  private closed = false;
  private idle: (() => void) | undefined;
  private readonly flushBound = () => this.flush();
  private readonly env: RootDatabase;
  /** The data path, for the free-space check of a degraded store. */
  private readonly path: string;
  private readonly dbs: StoreDbs;
  private nextSeq: number;

  /** One writer per store: a second `new Writer(store)` throws (two seq counters would collide). */
  constructor(store: WriterHost) {
    const { env, dbs, lastSeq, path } = store.internals(this);
    this.env = env;
    this.path = path;
    this.dbs = dbs;
    this.nextSeq = lastSeq + 1;
  }

  /** Highest seq handed out so far (0 when the store is empty). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  submit(event: NostrEvent, effect?: WriteEffect, place?: LogPlace): Promise<WriteOutcome> {
    if (this.closed) return Promise.resolve(storageRefusal(CLOSED));
    if (this.state !== 'writable') return Promise.resolve(storageRefusal(this.refusal));
    return new Promise((resolve) => {
      this.queue.push({ event, effect, resolve, place });
      this.schedule();
    });
  }

  /** The last log position applied (0 when none): read at start by a log applier. */
  appliedMark(): number {
    return (this.dbs.meta.get(APPLIED_KEY) as number | undefined) ?? 0;
  }

  /**
   * Run `task` inside the next batch transaction, after that batch's events, so it is
   * serialized with every event write (read-modify-write without races). The promise
   * settles once the transaction is durable; a throw rolls back only this task (child
   * transaction) and rejects with the error. The task must be synchronous.
   */
  run<T>(task: () => T, place?: LogPlace): Promise<T> {
    if (this.closed) return Promise.reject(new StorageUnavailable('storage is closed'));
    if (this.state !== 'writable') return Promise.reject(new StorageUnavailable(this.refusal.slice('error: '.length)));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: task, resolve: resolve as (v: unknown) => void, reject, queuedAt: performance.now(), place });
      this.schedule();
    });
  }

  /**
   * Remove one stored event by id; only valid inside a `run` task (or an effect). For the
   * gateway's retention sweeps. Returns whether it existed.
   */
  removeById(id: string): boolean {
    const seq = this.dbs.ids.get(id);
    if (seq === undefined) return false;
    const rec = this.dbs.events.get(seq);
    if (rec === undefined) return false;
    removeEvent(this.dbs, seq, decodeRecord(rec), this.removalHooks);
    return true;
  }

  /** Register a RemovalHook (at start-up, before any write). */
  onRemove(hook: RemovalHook): void {
    this.removalHooks.push(hook);
  }

  /**
   * NIP-09 deletion may not remove events of `kinds` (e.g. an audit trail that must be
   * kept for a retention period): a kind 5 that would remove one is refused with
   * `blocked: <reason>`, a tombstone never keeps one out, and one carrying a NIP-40
   * expiration tag is refused with `invalid: ...`. Removal by `removeById` (retention
   * sweeps) is unaffected.
   */
  protectFromDeletion(kinds: Iterable<number>, reason: string): void {
    for (const k of kinds) this.undeletable.set(k, reason);
  }

  /** Stop accepting items and resolve once everything queued is committed. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    if (this.queue.length === 0 && !this.scheduled && this.committing === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private schedule(): void {
    this.stats.queued = this.queue.length;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushBound);
  }

  private flush(): void {
    this.scheduled = false;
    // One transaction at a time until it has committed: what arrives meanwhile goes into
    // the next one. Every commit rewrites each B-tree page it touched, so fewer, larger
    // commits write fewer pages per event; the flush still overlaps the next transaction.
    if (this.uncommitted) return;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) {
      this.committing++;
      void this.commit(batch).catch(writerBug).finally(() => {
        this.committing--;
        this.settleIdle();
      });
    }
    if (this.queue.length > 0) this.schedule();
    else this.settleIdle();
  }

  /**
   * A commit failed: decide between degraded (no room, or an I/O error: refuse writes,
   * keep serving reads, probe until a commit succeeds) and failed (the environment is
   * unusable). Nothing acknowledged is at stake either way: an OK is only sent after the
   * commit holding the event is flushed, and a failed commit leaves the previous one intact.
   */
  private async commitFailed(err: unknown): Promise<void> {
    this.stats.failedCommits++;
    const cause = await commitCause(err);
    const code = (cause as { code?: unknown } | undefined)?.code;
    const detail = { code, err: cause instanceof Error ? cause.message : String(cause) };
    if (typeof code === 'number' && FATAL.has(code)) return this.fail(cause, detail);
    if (this.state !== 'writable') return; // already degraded (or failed); the probe goes on
    this.state = 'degraded';
    this.onStateChange?.('degraded');
    this.refusal = typeof code === 'number' && NO_ROOM.has(code) ? FULL : FAILING;
    log.error({ ...detail, retry_ms: PROBE_MS }, 'storage commit failed: writes are refused until a commit succeeds; reads go on');
    this.scheduleProbe();
  }

  private fail(err: unknown, detail: Record<string, unknown>): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.onStateChange?.('failed');
    this.refusal = BROKEN;
    clearTimeout(this.probeTimer);
    log.fatal(detail, 'storage environment is unusable: writes are refused for good (every acknowledged event is already durable)');
    try {
      this.onFatal?.(err);
    } catch (e) {
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'storage failure handler threw');
    }
  }

  private recovered(): void {
    this.state = 'writable';
    this.onStateChange?.('writable');
    this.refusal = FULL;
    clearTimeout(this.probeTimer);
    log.warn('storage accepts writes again');
  }

  private scheduleProbe(): void {
    if (this.closed || this.state !== 'degraded') return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.probe().catch(writerBug), PROBE_MS);
    this.probeTimer.unref();
  }

  /** One probe commit while degraded; it runs alone (new writes are refused meanwhile). */
  private async probe(): Promise<void> {
    if (this.closed || this.state !== 'degraded') return;
    // A batch queued before the failure may still be committing; it is a probe of its own.
    if (this.committing > 0) return this.scheduleProbe();
    this.committing++;
    try {
      if (this.refusal === FULL && !(await this.hasFreeSpace())) return this.scheduleProbe();
      const committed = this.env.transaction(() => this.dbs.probe.putSync(PROBE_KEY, PROBE_VALUE));
      const flushed = new Promise<void>((resolve, reject) => this.env.flushed.then(() => resolve(), reject));
      await committed;
      await flushed;
      if (this.state === 'degraded') this.recovered();
    } catch (err) {
      await this.commitFailed(err);
      this.scheduleProbe();
    } finally {
      this.committing--;
      this.settleIdle();
    }
  }

  /** True when the data path's file system has FREE_MIN_BYTES available (or cannot say: FUSE, ...). */
  private async hasFreeSpace(): Promise<boolean> {
    try {
      const st = await statfs(this.path);
      return st.bavail * st.bsize >= FREE_MIN_BYTES;
    } catch {
      return true;
    }
  }

  private settleIdle(): void {
    if (this.idle === undefined || this.scheduled || this.committing > 0 || this.queue.length > 0) return;
    this.idle();
    this.idle = undefined;
  }

  private async commit(batch: Array<Item | Task>): Promise<void> {
    // One slot per item: a WriteOutcome for events, { ok, value } for tasks.
    const results: Array<WriteOutcome | { ok: boolean; value: unknown }> = new Array(batch.length);
    const t0 = performance.now();
    let stored = 0;
    let events = 0;
    try {
      const committed = this.env.transaction(() => {
        let mark = 0;
        for (let i = 0; i < batch.length; i++) {
          const item = batch[i]!;
          if (item.event !== undefined) {
            events++;
            const o = this.applyEvent(item.event, item.effect, item.place?.position);
            if (o.stored) stored++;
            results[i] = o;
          } else {
            try {
              results[i] = { ok: true, value: this.env.childTransaction(item.run) };
            } catch (err) {
              results[i] = { ok: false, value: err };
            }
          }
          if (item.place !== undefined) mark = item.place.mark;
        }
        // Once per transaction: everything in it commits together, so the last mark covers it.
        if (mark > 0) this.dbs.meta.putSync(APPLIED_KEY, mark);
      });
      // `flushed` resolves with the flush of the batch lmdb is filling at the moment it is
      // read: read now, that is the batch holding this transaction. Read after the commit,
      // it would be a later batch's, and every OK would wait one more commit cycle.
      const flushed = new Promise<void>((resolve, reject) => this.env.flushed.then(() => resolve(), reject));
      this.uncommitted = true;
      try {
        await committed;
      } finally {
        this.uncommitted = false;
        if (this.queue.length > 0) this.schedule();
      }
      await flushed;
      // A batch queued before a failure may still fit in pages LMDB had free; only the
      // probe says there is room again.
    } catch (err) {
      // The commit itself failed (disk full, map full...): nothing of the batch exists, and
      // nothing queued behind it may commit before it (a log applier re-applies from its
      // mark, so a later item committed first would skip this batch's): refuse those now.
      const failed = new StorageUnavailable('the commit failed', { cause: err });
      const behind = this.queue;
      this.queue = [];
      for (const item of behind) {
        if (item.event !== undefined) item.resolve(storageRefusal(FAILED));
        else item.reject(failed);
      }
      for (let i = 0; i < batch.length; i++) results[i] = batch[i]!.event !== undefined ? storageRefusal(FAILED) : { ok: false, value: failed };
      stored = 0;
      await this.commitFailed(err);
    }
    const settled = performance.now();
    const s = this.stats;
    s.batches++;
    if (events > 0) s.lastBatchSize = events;
    s.lastCommitMs = performance.now() - t0;
    s.stored += stored;
    s.queued = this.queue.length;
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!;
      if (item.event !== undefined) {
        item.resolve(results[i] as WriteOutcome);
        continue;
      }
      const r = results[i] as { ok: boolean; value: unknown };
      this.onTaskSettled?.(settled - item.queuedAt);
      if (r.ok) item.resolve(r.value);
      else item.reject(r.value);
    }
  }

  /** NIP-01/09 rules for one event, inside the batch transaction. */
  private applyEvent(e: NostrEvent, effect: WriteEffect | undefined, at: Position | undefined): WriteOutcome {
    const dbs = this.dbs;
    try {
      if (isEphemeral(e.kind)) return outcome(true, '');
      if (dbs.ids.doesExist(e.id)) return outcome(true, DUPLICATE);
      if (isTombstonedIn(dbs, e, this.undeletable)) return outcome(false, DELETED);
      if (this.undeletable.size > 0) {
        const refusal = e.kind === 5 ? protectedTarget(dbs, e, this.undeletable) : expiringProtected(e, this.undeletable);
        if (refusal !== undefined) return outcome(false, refusal);
      }

      // Decide everything that can refuse the event before writing anything, so the
      // common refusals cost no child transaction.
      const slot = slotOf(e);
      let oldSeq: number | undefined;
      let old: NostrEvent | undefined;
      if (slot !== undefined) {
        oldSeq = dbs.replace.get(slot);
        const rec = oldSeq === undefined ? undefined : dbs.events.get(oldSeq);
        if (rec !== undefined) {
          old = decodeRecord(rec);
          if (old.created_at > e.created_at || (old.created_at === e.created_at && old.id < e.id)) {
            return outcome(true, HAVE_NEWER);
          }
        }
      }

      const removed: string[] = [];
      let json: Buffer | undefined;
      const hooks = this.removalHooks;
      const write = () => {
        if (old !== undefined) {
          removeEvent(dbs, oldSeq!, old, hooks);
          removed.push(old.id);
        }
        if (e.kind === 5) applyDeletion(dbs, e, removed, hooks);
        // A log position only ever grows; the writer's own counter follows it.
        const position = at !== undefined && at >= this.nextSeq ? at : this.nextSeq;
        json = insertEvent(dbs, e, position, slot);
        if (effect !== undefined) effect(position);
        // Only once nothing can throw: a rolled-back item must not use up a position.
        this.nextSeq = position + 1;
      };
      // Our own writes cannot fail once the checks above passed (keys are bounded in
      // keys.ts), so they run straight in the batch transaction. An effect is foreign
      // code that may throw after the event is written: only then do we pay for a
      // child transaction (measured ~30% of apply time) so the throw rolls it all back.
      if (effect === undefined) write();
      else this.env.childTransaction(write);
      return { ok: true, stored: true, message: '', removed, json };
    } catch (err) {
      return outcome(false, err instanceof WriteRejection ? err.message : FAILED);
    }
  }
}

/** commit() and probe() handle every storage error themselves; anything else is a bug, logged, never an unhandled rejection. */
function writerBug(err: unknown): void {
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'writer bug: unexpected error after a commit');
}

/**
 * lmdb-js rejects a failed commit with "Commit failed" and the real error (errno or LMDB
 * code) in a second promise, `commitError`, rejected in the same tick and otherwise never
 * handled (an unhandled rejection ends the process). Take it, bounded in case it never settles.
 */
async function commitCause(err: unknown): Promise<unknown> {
  const inner = (err as { commitError?: unknown } | undefined)?.commitError;
  if (!(inner instanceof Promise)) return err;
  let timer: NodeJS.Timeout | undefined;
  const cause = await Promise.race([
    inner.then(
      () => err,
      (e: unknown) => e,
    ),
    new Promise<unknown>((resolve) => (timer = setTimeout(() => resolve(err), 100))),
  ]);
  clearTimeout(timer);
  return cause;
}

/** Event ids are 64 lowercase hex: anything else in an `e` tag names nothing (and may exceed LMDB's key size). */
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The refusal for a kind 5 that would remove an event of a kind in `undeletable`, decided
 * before anything is written: an `e` target the deleter wrote, or an `a` coordinate of
 * the deleter naming such a kind. Targets of other authors are no-ops, not refusals.
 */
function protectedTarget(dbs: StoreDbs, del: NostrEvent, undeletable: ReadonlyMap<number, string>): string | undefined {
  for (const tag of del.tags) {
    const v = tag[1];
    if (v === undefined) continue;
    let kind: number | undefined;
    if (tag[0] === 'e' && HEX64.test(v)) {
      const seq = dbs.ids.get(v);
      const rec = seq === undefined ? undefined : dbs.events.get(seq);
      const target = rec === undefined ? undefined : decodeRecord(rec);
      if (target !== undefined && target.pubkey === del.pubkey) kind = target.kind;
    } else if (tag[0] === 'a') {
      const m = /^(\d+):([0-9a-f]{64}):/.exec(v);
      if (m !== null && m[2] === del.pubkey) kind = Number(m[1]);
    }
    const reason = kind === undefined ? undefined : undeletable.get(kind);
    if (reason !== undefined) return `blocked: ${reason}`;
  }
  return undefined;
}

/** NIP-40 would remove the event as surely as NIP-09: a kind deletion may not remove may not expire either. */
function expiringProtected(e: NostrEvent, undeletable: ReadonlyMap<number, string>): string | undefined {
  const reason = undeletable.get(e.kind);
  if (reason === undefined || !e.tags.some((t) => t[0] === 'expiration')) return undefined;
  return `invalid: an expiration tag is not allowed here: ${reason}`;
}

/** Returns the stored JSON bytes (a view into the record, which nothing writes to again). */
function insertEvent(dbs: StoreDbs, e: NostrEvent, seq: number, slot: [number, string, string] | undefined): Buffer {
  const rec = encodeRecord(e);
  dbs.events.putSync(seq, rec);
  dbs.ids.putSync(e.id, seq);
  forEachIndexKey(dbs, e, seq, (db, key) => db.putSync(key, EMPTY));
  if (slot !== undefined) dbs.replace.putSync(slot, seq);
  const exp = expirationOf(e);
  if (exp !== undefined) dbs.expiration.putSync([exp, seq], EMPTY);
  return recordJson(rec);
}

function removeEvent(dbs: StoreDbs, seq: number, e: NostrEvent, hooks: readonly RemovalHook[]): void {
  dbs.events.removeSync(seq);
  dbs.ids.removeSync(e.id);
  forEachIndexKey(dbs, e, seq, (db, key) => db.removeSync(key));
  const slot = slotOf(e);
  // Only clear the slot if it still points at this event (a newer one may own it).
  if (slot !== undefined && dbs.replace.get(slot) === seq) dbs.replace.removeSync(slot);
  const exp = expirationOf(e);
  if (exp !== undefined) dbs.expiration.removeSync([exp, seq]);
  for (const h of hooks) h(seq, e);
}

/**
 * NIP-09. `e` targets are removed only when the deleter wrote them; unknown ids
 * are remembered as (id, deleter) so the event is refused if it arrives later with
 * that author. `a` targets remove the coordinate's event up to the deletion's
 * created_at and remember that bound for later arrivals.
 */
function applyDeletion(dbs: StoreDbs, del: NostrEvent, removed: string[], hooks: readonly RemovalHook[]): void {
  for (const tag of del.tags) {
    const v = tag[1];
    if (v === undefined || tag.length < 2) continue;
    if (tag[0] === 'e' && HEX64.test(v)) {
      const seq = dbs.ids.get(v);
      if (seq !== undefined) {
        const rec = dbs.events.get(seq);
        const target = rec === undefined ? undefined : decodeRecord(rec);
        if (target === undefined || target.pubkey !== del.pubkey || target.kind === 5) continue;
        removeEvent(dbs, seq, target, hooks);
        removed.push(v);
      }
      dbs.tomb.putSync([v, del.pubkey], EMPTY);
    } else if (tag[0] === 'a') {
      const slot = parseCoordinate(v);
      if (slot === undefined || slot[1] !== del.pubkey) continue;
      const seq = dbs.replace.get(slot);
      const rec = seq === undefined ? undefined : dbs.events.get(seq);
      const target = rec === undefined ? undefined : decodeRecord(rec);
      if (target !== undefined && target.created_at <= del.created_at) {
        removeEvent(dbs, seq!, target, hooks);
        dbs.tomb.putSync([target.id, del.pubkey], EMPTY);
        removed.push(target.id);
      }
      const prev = dbs.coordTomb.get(slot);
      if (prev === undefined || prev < del.created_at) dbs.coordTomb.putSync(slot, del.created_at);
    }
  }
}

/** Remove up to `max` events whose expiration <= now; returns how many. */
export function sweepExpiredIn(dbs: StoreDbs, now: number, max: number, hooks: readonly RemovalHook[] = []): number {
  // Collect first: removing under an open cursor of the same table is undefined.
  const due: [number, number][] = [];
  for (const k of dbs.expiration.getKeys({ start: [MIN_TS], end: [now, MAX_SEQ], inclusiveEnd: true, limit: max })) {
    due.push(k as [number, number]);
  }
  let n = 0;
  for (const key of due) {
    const seq = key[1];
    const rec = dbs.events.get(seq);
    if (rec === undefined) {
      dbs.expiration.removeSync(key); // stale entry; drop it so it is not met again
      continue;
    }
    removeEvent(dbs, seq, decodeRecord(rec), hooks);
    n++;
  }
  return n;
}

/** `kind:pubkey:d` (d may itself contain ':') into a replace slot, or undefined. */
function parseCoordinate(a: string): [number, string, string] | undefined {
  const i = a.indexOf(':');
  if (i <= 0) return undefined;
  const j = a.indexOf(':', i + 1);
  if (j < 0) return undefined;
  const kindStr = a.slice(0, i);
  if (!/^\d+$/.test(kindStr)) return undefined;
  const kind = Number(kindStr);
  const pubkey = a.slice(i + 1, j);
  if (isReplaceable(kind)) return [kind, pubkey, ''];
  if (isAddressable(kind)) return [kind, pubkey, dKeyPart(a.slice(j + 1))];
  return undefined;
}
