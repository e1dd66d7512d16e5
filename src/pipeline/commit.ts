import type { NostrEvent } from '../protocol/types.js';
import type { WriteOutcome, Writer } from '../storage/writer.js';
import type { Apply, Op } from './apply.js';
import type { Client } from './types.js';

/**
 * The commit point: where an accepted change becomes durable. Alone, it is the local
 * writer; in cluster mode (src/cluster/) it is the replicated log, and the change is
 * applied here once the log has it. Either way a caller's answer (OK, a REST reply) waits
 * for the verdict of the apply.
 */
export interface Commit {
  event(event: NostrEvent, client: Client): Promise<WriteOutcome>;
  op<A, R>(op: Op<A, R>, args: A): Promise<R>;
  /** The `error:` answer every write gets now (storage degraded, log unreachable), or undefined. */
  readonly refusing: string | undefined;
}

/** The time a change is made, in seconds: what the change carries, and the only clock its apply reads. */
export const nowSec = (): number => Math.floor(Date.now() / 1000);

/** One process, LMDB alone: the change is applied at once, at this instance's time. */
export function localCommit(apply: Apply, writer: Writer): Commit {
  return {
    event: (event, client) => apply.event(event, client, nowSec()),
    op: (op, args) => apply.op(op.name, args, nowSec()),
    get refusing() {
      return writer.refusing;
    },
  };
}
