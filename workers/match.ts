/**
 * Piscina worker: live fan-out matching. Unlike the other workers this one is stateful — the
 * SubscriptionIndex lives in this module for the life of the thread — so the pool that feeds it
 * must run exactly one thread and send every task to it in order (see src/match/match-pool.ts).
 */
import { randomUUID } from 'node:crypto';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { Filter } from '../src/protocol/types.js';
import { SubscriptionIndex, type IndexStats, type MatchEvent } from '../src/match/sub-index.js';

/**
 * `handle` names one version of a subscription (a new one for every add): matches are answered
 * with handles, which cost 8 bytes each to send back instead of a connId and a subId string,
 * and which tell the sender whether the subscription was removed or replaced meanwhile.
 */
export type MatchOp =
  | { op: 'add'; connId: number; subId: string; filters: Filter[]; handle: number }
  | { op: 'remove'; connId: number; subId: string }
  | { op: 'removeConnection'; connId: number }
  /** Replaces the whole index: how the pool rebuilds a thread that Piscina replaced. */
  | { op: 'reset'; subs: Array<[connId: number, subId: string, filters: Filter[], handle: number]> }
  | { op: 'match'; events: MatchEvent[] }
  | { op: 'stats' };

/**
 * Matches of n events in one buffer, moved (not copied) to the caller: entries 0..n are offsets,
 * and the handles matching event i are at n + 1 + [r[i], r[i + 1]).
 */
export type MatchResult = Float64Array;

export interface Batch {
  op: 'batch';
  /**
   * The thread the sender believes it is talking to. If Piscina replaced the thread (crash), the
   * index here is empty and matching would silently drop deliveries, so the batch is refused
   * unless it starts with a reset.
   */
  instance?: string;
  ops: MatchOp[];
}

export interface BatchReply {
  instance: string;
  /** Set when the batch was refused (see Batch.instance); nothing was applied. */
  stale?: true;
  /** One per 'match' op, in order. */
  results: MatchResult[];
  /** One per 'stats' op, in order. */
  stats: IndexStats[];
  size: number;
}

const index = new SubscriptionIndex<number>();
const INSTANCE = randomUUID();

/** A single op (the 'match' op answers a MatchResult, 'stats' an IndexStats), or a batch. */
export default function run(msg: MatchOp | Batch): BatchReply | MatchResult | IndexStats | number {
  if (msg.op === 'batch') return runBatch(msg);
  const reply = apply([msg]);
  if (msg.op === 'match') return move(reply.results[0]!) as MatchResult;
  if (msg.op === 'stats') return reply.stats[0]!;
  return reply.size;
}

function runBatch(batch: Batch): BatchReply {
  if (batch.instance !== undefined && batch.instance !== INSTANCE && batch.ops[0]?.op !== 'reset') {
    return { instance: INSTANCE, stale: true, results: [], stats: [], size: index.size };
  }
  const reply = apply(batch.ops);
  if (reply.results.length === 0) return reply;
  // Piscina's Transferable protocol: the caller receives `reply`, with the result buffers moved
  // rather than copied. (Piscina.move alone handles a single buffer, not an object holding several.)
  const moved = { [transferableSymbol]: reply.results.map((r) => r.buffer), [valueSymbol]: reply };
  return move(moved as unknown as Parameters<typeof move>[0]) as unknown as BatchReply;
}

function apply(ops: readonly MatchOp[]): BatchReply {
  const results: MatchResult[] = [];
  const stats: IndexStats[] = [];
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        index.add(op.connId, op.subId, op.filters, op.handle);
        break;
      case 'remove':
        index.remove(op.connId, op.subId);
        break;
      case 'removeConnection':
        index.removeConnection(op.connId);
        break;
      case 'reset':
        index.clear();
        for (const [connId, subId, filters, handle] of op.subs) index.add(connId, subId, filters, handle);
        break;
      case 'match':
        results.push(matchAll(op.events));
        break;
      case 'stats':
        stats.push(index.stats());
        break;
      default:
        throw new Error(`match worker: unknown op ${(op as { op: unknown }).op}`);
    }
  }
  return { instance: INSTANCE, results, stats, size: index.size };
}

/** Grows as needed and is reused, so a batch allocates only its exact-size result. */
let scratch = new Float64Array(1 << 16);

function matchAll(events: readonly MatchEvent[]): MatchResult {
  const n = events.length;
  let used = n + 1;
  if (scratch.length < used) scratch = new Float64Array(used * 2);
  scratch[0] = 0;
  for (let i = 0; i < n; i++) {
    for (const sub of index.match(events[i]!)) {
      if (used === scratch.length) {
        const bigger = new Float64Array(scratch.length * 2);
        bigger.set(scratch);
        scratch = bigger;
      }
      scratch[used++] = sub.data!;
    }
    scratch[i + 1] = used - n - 1;
  }
  return scratch.slice(0, used);
}
