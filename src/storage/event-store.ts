import { open, type Database, type DatabaseOptions, type Key, type RootDatabase } from 'lmdb';
import { matchFilter } from '../protocol/filter-match.js';
import { expirationOf } from '../protocol/kinds.js';
import type { Filter, NostrEvent } from '../protocol/types.js';
import { decodeRecord, MAX_SEQ, MAX_TS, MIN_TS, openStoreDbs, type StoreDbs } from './keys.js';
import { migrateRecords } from './migrate.js';
import { planFilter, type IndexName } from './planner.js';
import type { Position } from './position.js';
import { eventOf, runCount, runQuery, type CountOptions, type CountResult, type QueryOptions } from './query.js';
import { isTombstonedIn, sweepExpiredIn, Writer, type WriterHost } from './writer.js';

export interface OpenOptions {
  path: string;
  /** Initial map size in bytes; lmdb-js grows the map on demand when omitted. */
  mapSize?: number;
  /** Sub-databases in the environment, ours (12) plus the other rooms' tables. */
  maxDbs?: number;
}

export interface StoreStats {
  /** Events currently stored. */
  events: number;
  /** Current LMDB map size in bytes. */
  mapSize: number;
  /** Bytes of the map in use (last page × page size). */
  usedBytes: number;
  /** Highest sequence number handed out. */
  seq: number;
}

const NONE_PROTECTED: ReadonlyMap<number, string> = new Map();

/** Events removed by one sweep call at most, so one transaction stays short. */
export const SWEEP_BATCH = 1000;

/**
 * The event store: an LMDB environment, the read API (has, tombstone check, query,
 * count, export) and its one Writer. Opening scans nothing: the next seq is read
 * from the last key of the events table.
 */
export class EventStore implements WriterHost {
  private closed = false;
  private attached: Writer | undefined;
  private readonly lastSeqAtOpen: number;

  private constructor(
    private readonly env: RootDatabase,
    private readonly dbs: StoreDbs,
    private readonly path: string,
  ) {
    let last = 0;
    for (const k of dbs.events.getKeys({ reverse: true, limit: 1 })) last = k;
    this.lastSeqAtOpen = last;
  }

  /** The store's single writer (`new Writer(store)` and this getter give the same one). */
  get writer(): Writer {
    return this.attached ?? new Writer(this);
  }

  /** @internal Handed to the Writer constructor once; a second writer is refused. */
  internals(writer: Writer): { env: RootDatabase; dbs: StoreDbs; lastSeq: number; path: string } {
    if (this.attached !== undefined) throw new Error('this store already has a writer');
    if (this.closed) throw new Error('store is closed');
    this.attached = writer;
    return { env: this.env, dbs: this.dbs, lastSeq: this.lastSeqAtOpen, path: this.path };
  }

  static open(opts: OpenOptions): EventStore {
    const env = open({
      path: opts.path,
      maxDbs: opts.maxDbs ?? 64,
      // The writer already batches one transaction per turn. lmdb-js's own turn batching
      // adds a batch-start write whose commit promise nobody can reach: when a commit fails
      // (disk full) it rejects unhandled, which ends the process.
      eventTurnBatching: false,
      ...(opts.mapSize !== undefined ? { mapSize: opts.mapSize } : {}),
    });
    const dbs = openStoreDbs(env);
    try {
      migrateRecords(env, dbs);
    } catch (err) {
      void env.close();
      throw err;
    }
    return new EventStore(env, dbs, opts.path);
  }

  /**
   * A table for another room (gateway state) in the same environment, so its writes
   * made from a WriteEffect commit in the event's transaction.
   */
  openDB<V = unknown, K extends Key = Key>(name: string, opts: DatabaseOptions = {}): Database<V, K> {
    if (name.startsWith('ev:')) throw new Error(`table name ${name} is reserved for the event store`);
    return this.env.openDB<V, K>(name, opts);
  }

  /** Pre-check before signature verification: is this id stored? */
  has(id: string): boolean {
    return this.dbs.ids.doesExist(id);
  }

  /** Pre-check before signature verification: has NIP-09 deleted this event? */
  isTombstoned(event: NostrEvent): boolean {
    return isTombstonedIn(this.dbs, event, this.attached?.undeletable ?? NONE_PROTECTED);
  }

  /** One stored event by id (expired ones included, as they are until swept). */
  get(id: string): NostrEvent | undefined {
    const seq = this.dbs.ids.get(id);
    if (seq === undefined) return undefined;
    const rec = this.dbs.events.get(seq);
    return rec === undefined ? undefined : decodeRecord(rec);
  }

  /** The stored event at a position (see position.ts), if it is still stored. */
  getAt(position: Position): NostrEvent | undefined {
    const rec = this.dbs.events.get(position);
    return rec === undefined ? undefined : decodeRecord(rec);
  }

  /** Every stored event of `kinds` with its position, in no particular order (one-off index builds). */
  *withPositions(kinds: readonly number[]): Iterable<[Position, NostrEvent]> {
    for (const kind of kinds) {
      for (const k of this.dbs.kind.getKeys({ start: [kind, MIN_TS], end: [kind, MAX_TS, MAX_SEQ] })) {
        const seq = (k as number[])[2]!;
        const rec = this.dbs.events.get(seq);
        if (rec !== undefined) yield [seq, decodeRecord(rec)];
      }
    }
  }

  /** Stored events matching any filter, NIP-01 order, parsed (for the gateway's own reads). */
  query(filters: readonly Filter[], opts: QueryOptions): { events: NostrEvent[]; timedOut: boolean } {
    const { hits, timedOut } = runQuery(this.dbs, filters, opts);
    return { events: hits.map(eventOf), timedOut };
  }

  /**
   * As query, but each event as its stored canonical JSON bytes, never parsed or
   * re-encoded unless a filter or read rule needed it: what REQ frames are built from.
   */
  queryJson(filters: readonly Filter[], opts: QueryOptions): { events: Buffer[]; timedOut: boolean } {
    const { hits, timedOut } = runQuery(this.dbs, filters, opts);
    return { events: hits.map((h) => h.json), timedOut };
  }

  count(filters: readonly Filter[], opts: CountOptions): CountResult {
    return runCount(this.dbs, filters, opts);
  }

  /** The index the planner picks for this filter (for tests and the debug view). */
  explain(filter: Filter): IndexName {
    return planFilter(this.dbs, filter).index;
  }

  /**
   * Delete up to `max` events whose NIP-40 expiration <= nowSec, as a task of the
   * writer's next transaction (every write goes through the writer); resolves with how
   * many once that commit is durable.
   */
  sweepExpired(nowSec: number, max = SWEEP_BATCH): Promise<number> {
    return this.writer.run(() => this.expireDue(nowSec, max));
  }

  /** The body of `sweepExpired`, for a caller already inside a writer task (an operation). */
  expireDue(nowSec: number, max = SWEEP_BATCH): number {
    return sweepExpiredIn(this.dbs, nowSec, max, this.writer.removalHooks);
  }

  /**
   * Every stored, unexpired event matching `filter` (all when omitted), oldest first
   * by created_at. Lazy: the CLI streams a dump of any size through it.
   */
  *exportEvents(filter?: Filter): Iterable<NostrEvent> {
    const now = Math.floor(Date.now() / 1000);
    const start = [filter?.since ?? MIN_TS];
    const end = [filter?.until ?? MAX_TS, MAX_SEQ];
    for (const k of this.dbs.created.getKeys({ start, end })) {
      const rec = this.dbs.events.get((k as number[])[1]!);
      if (rec === undefined) continue;
      const e = decodeRecord(rec);
      const exp = expirationOf(e);
      if (exp !== undefined && exp <= now) continue;
      if (filter !== undefined && !matchFilter(filter, e)) continue;
      yield e;
    }
  }

  stats(): StoreStats {
    const env = this.env.getStats() as { mapSize: number; lastPageNumber: number; pageSize: number };
    const events = this.dbs.events.getStats() as { entryCount: number };
    return {
      events: events.entryCount,
      mapSize: env.mapSize,
      usedBytes: (env.lastPageNumber + 1) * env.pageSize,
      seq: this.attached?.lastSeq ?? this.lastSeqAtOpen,
    };
  }

  /** LMDB's last committed transaction id: unchanged means nothing at all was written since. */
  lastTxnId(): number {
    return (this.env.getStats() as { lastTxnId: number }).lastTxnId;
  }

  /**
   * A consistent copy of the whole environment (events and every room's tables) as
   * `<dir>/data.mdb`; `dir` must exist. LMDB copies inside one read transaction on a
   * thread of its own, so the writer goes on meanwhile. File naming and rotation are
   * storage/backup.ts's; do not close the store while a copy runs.
   *
   * Never compacted: lmdb-js 3.5's compacting copy gives files that crash the process on
   * the first busy write after they are reopened (kriszyp/lmdb-js#198; reproduced by
   * test/lifecycle/snapshot-writable.test.ts), so a restored relay would crash in a loop.
   * The copy keeps the free pages: larger, but safe to restore.
   */
  backup(dir: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return this.env.backup(dir, false);
  }

  /** Waits for everything queued in the writer to commit, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.attached !== undefined) await this.attached.close();
    // After a failed commit, lmdb-js's close waits for that commit's flush, which never
    // comes. Nothing depends on it: every acknowledged write followed a durable commit.
    if (this.attached !== undefined && this.attached.state !== 'writable') return;
    await this.env.close();
  }
}
