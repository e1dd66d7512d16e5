import type { Op } from '../pipeline/apply.js';
import { nowSec, type Commit } from '../pipeline/commit.js';
import type { Client } from '../pipeline/types.js';
import type { NostrEvent } from '../protocol/types.js';
import { StorageUnavailable, type WriteOutcome, type Writer } from '../storage/writer.js';
import type { Applier } from './applier.js';
import { appendId, encodeEntry, type LogEntry } from './entry.js';
import type { NatsLog } from './nats-log.js';

/** Refused before any append: nothing of it exists anywhere. */
const UNREACHABLE = 'error: the cluster log is unreachable, try again';
/** After an append was tried, the outcome is unknown: it may still be applied everywhere. */
const NOT_TAKEN = 'error: the cluster log did not confirm the change in time; it may still apply, try again';
const NOT_APPLIED = 'error: the change is in the cluster log but was not applied here in time; it will apply, try again';
const RETRY_MS = 100;
const notApplied = () => new StorageUnavailable(NOT_APPLIED.slice(7));

/** Append latency observer (metrics), in ms. */
export type AppendObserver = (ms: number, ok: boolean) => void;

/**
 * Cluster mode's commit point: a change is appended to the log and answered with the
 * verdict of this instance's apply of it, so OK true (and every REST success) means the
 * stream's replicas have it and this instance has applied it. An append that fails or
 * times out is retried with the same id until `append_timeout` (the stream stores it once);
 * after that the caller gets `error:`, never a hang.
 */
export class ClusterCommit implements Commit {
  onAppend: AppendObserver | undefined;

  constructor(
    private readonly deps: { log: NatsLog; applier: Applier; writer: Writer; instanceId: string; timeoutMs: () => number },
  ) {}

  get refusing(): string | undefined {
    const { log, writer, applier } = this.deps;
    if (writer.refusing !== undefined) return writer.refusing;
    if (!log.connected) return UNREACHABLE;
    if (applier.failure !== undefined || applier.stalled) return 'error: this instance cannot apply the cluster log now, try another';
    return undefined;
  }

  async event(event: NostrEvent, client: Client): Promise<WriteOutcome> {
    const refused = this.refusing;
    if (refused !== undefined) return { ok: false, stored: false, message: refused, removed: [] };
    const id = appendId();
    const entry: LogEntry = { v: 1, k: 'e', id, o: this.deps.instanceId, at: nowSec(), ev: event, pk: [...client.pubkeys] };
    try {
      return await this.append<WriteOutcome>(entry, client);
    } catch (err) {
      return { ok: false, stored: false, message: err instanceof StorageUnavailable ? `error: ${err.message}` : NOT_TAKEN, removed: [] };
    }
  }

  async op<A, R>(op: Op<A, R>, args: A): Promise<R> {
    const refused = this.refusing;
    if (refused !== undefined) throw new StorageUnavailable(refused.slice('error: '.length));
    const id = appendId();
    return this.append<R>({ v: 1, k: 'o', id, o: this.deps.instanceId, at: nowSec(), op: op.name, a: args }, undefined);
  }

  private async append<T>(entry: LogEntry, client: Client | undefined): Promise<T> {
    const { log, applier } = this.deps;
    const deadline = Date.now() + this.deps.timeoutMs();
    const verdict = applier.expect<T>(entry.id, client);
    const data = encodeEntry(entry);
    const t0 = performance.now();
    for (;;) {
      try {
        await log.append(entry.id, data, Math.max(1, deadline - Date.now()));
        this.onAppend?.(performance.now() - t0, true);
        break;
      } catch {
        if (Date.now() + RETRY_MS >= deadline || !log.connected) {
          applier.forget(entry.id);
          // Abandoned: this instance may have applied the message already and rejected the
          // verdict (an operation that threw, or shutdown); unobserved, that is an unhandled rejection.
          verdict.catch(() => undefined);
          this.onAppend?.(performance.now() - t0, false);
          throw new StorageUnavailable(NOT_TAKEN.slice(7));
        }
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    applier.due(entry.id, deadline, notApplied);
    return verdict;
  }
}
