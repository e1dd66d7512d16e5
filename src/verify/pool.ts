import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { NostrEvent } from '../protocol/types.js';
import type { VerifyResult } from './check-event.js';

export { VERIFY_OK, VERIFY_BAD_ID, VERIFY_BAD_SIG, type VerifyResult } from './check-event.js';

export interface VerifyPoolOptions {
  /** Worker threads; default max(1, cores - 1) so the main thread keeps a core for I/O. */
  threads?: number;
  /** Force a backend (bcrypto|wasm|noble); default: $MLS_RELAY_VERIFY_BACKEND, else fastest available. */
  backend?: string;
  /** Most events in one task. */
  maxBatch?: number;
}

export interface VerifyPoolStats {
  /** Events waiting for a free worker. */
  queued: number;
  /** Tasks being worked on now (at most `threads`). */
  inFlight: number;
  /** Tasks sent since start. */
  batches: number;
  lastBatchSize: number;
}

interface Pending {
  event: NostrEvent;
  resolve(r: VerifyResult): void;
  reject(e: unknown): void;
}

const DEFAULT_MAX_BATCH = 256;

/**
 * Id and signature checks on worker threads, in batches: while every worker is busy,
 * submitted events queue up and leave together as the next task of the first worker to
 * free up, so per-task overhead shrinks exactly when load is high, and an idle pool
 * sends a lone event at once.
 */
export class VerifyPool {
  readonly backendName: string;
  readonly threads: number;
  private readonly piscina: Piscina;
  private readonly maxBatch: number;
  private pending: Pending[] = [];
  private inFlight = 0;
  private batches = 0;
  private lastBatchSize = 0;
  private scheduled = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  /** Observer of each task's size (the metrics histogram); set by whoever exports metrics. */
  onBatch: ((size: number) => void) | undefined;

  static async create(opts: VerifyPoolOptions = {}): Promise<VerifyPool> {
    const threads = opts.threads !== undefined && opts.threads > 0 ? Math.floor(opts.threads) : Math.max(1, availableParallelism() - 1);
    const piscina = new Piscina({
      filename: fileURLToPath(new URL('../../workers/verify.js', import.meta.url)),
      minThreads: threads,
      maxThreads: threads,
      // Batching already keeps each worker busy with one task; a deeper per-worker queue would only add latency.
      concurrentTasksPerWorker: 1,
      idleTimeout: 2 ** 31 - 1,
      workerData: { backend: opts.backend },
    });
    let backend: string;
    try {
      // Also proves the backend loads in a worker before the relay takes traffic.
      backend = ((await piscina.run({ op: 'info' })) as { backend: string }).backend;
    } catch (err) {
      await piscina.destroy();
      throw err;
    }
    return new VerifyPool(piscina, threads, backend, opts.maxBatch ?? DEFAULT_MAX_BATCH);
  }

  private constructor(piscina: Piscina, threads: number, backendName: string, maxBatch: number) {
    this.piscina = piscina;
    this.threads = threads;
    this.backendName = backendName;
    this.maxBatch = Math.max(1, maxBatch);
  }

  get stats(): VerifyPoolStats {
    return { queued: this.pending.length, inFlight: this.inFlight, batches: this.batches, lastBatchSize: this.lastBatchSize };
  }

  /** 0 ok, 1 the id is not the hash of the event, 2 the signature does not verify. */
  verify(event: NostrEvent): Promise<VerifyResult> {
    if (this.closing) return Promise.reject(new Error('verify pool is closed'));
    return new Promise<VerifyResult>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      this.schedule();
    });
  }

  /** Finishes everything already submitted, then stops the workers. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      if (this.pending.length > 0 || this.inFlight > 0) {
        await new Promise<void>((resolve) => (this.drained = resolve));
      }
      await this.piscina.destroy();
    })();
    return this.closed;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.threads) return;
    this.scheduled = true;
    // Deferred to the check phase so events from all frames read in this I/O turn share a task.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.threads && this.pending.length > 0) {
      // Spread what is waiting over the idle workers rather than filling one and idling the rest.
      const idle = this.threads - this.inFlight;
      const size = Math.min(this.maxBatch, Math.ceil(this.pending.length / idle));
      this.dispatch(this.pending.splice(0, size));
    }
  }

  private dispatch(batch: Pending[]): void {
    this.inFlight++;
    this.batches++;
    this.lastBatchSize = batch.length;
    this.onBatch?.(batch.length);
    const events = batch.map((p) => p.event);
    this.piscina.run({ events }).then(
      (res: unknown) => {
        if (!(res instanceof Uint8Array) || res.length !== batch.length) {
          const err = new Error('verify worker returned a malformed answer');
          for (const p of batch) p.reject(err);
          return;
        }
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(res[i] as VerifyResult);
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    ).finally(() => {
      this.inFlight--;
      // What queued up during this task goes out now: it has already waited one task's time.
      this.pump();
      if (this.drained && this.pending.length === 0 && this.inFlight === 0) this.drained();
    });
  }
}
