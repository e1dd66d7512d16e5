import type { Filter, NostrEvent } from '../protocol/types.js';
import type { EventStore } from '../storage/event-store.js';
import type { Position } from '../storage/position.js';
import type { Client } from './types.js';
import type { Visibility } from './visibility.js';

export interface ReadLimits {
  maxLimit: number;
  timeoutMs: number;
}

/**
 * Stored reads for a client: the store's query and count with the read rules applied
 * during the scan, so no path (REQ, COUNT, REST) can forget them and a `limit` counts
 * only events the client may see.
 */
export class Reader {
  constructor(
    private readonly store: EventStore,
    private readonly visibility: Visibility,
  ) {}

  private readonly restricted = (kind: number) => this.visibility.concerns(kind);

  private acceptFor(filters: readonly Filter[], client: Client): ((e: NostrEvent, position: Position) => boolean) | undefined {
    return this.visibility.restricts(filters) ? (e, position) => this.visibility.mayRead(e, client, position) : undefined;
  }

  /** Matching events as their stored JSON bytes, ready to be framed (messages.ts eventFrames). */
  query(filters: readonly Filter[], client: Client, limits: ReadLimits): { events: Buffer[]; timedOut: boolean } {
    return this.store.queryJson(filters, {
      limitDefault: limits.maxLimit,
      limitMax: limits.maxLimit,
      deadline: Date.now() + limits.timeoutMs,
      accept: this.acceptFor(filters, client),
      restricted: this.restricted,
    });
  }

  /** `timedOut`: the deadline cut the count and `count` is a lower bound. */
  count(filters: readonly Filter[], client: Client, timeoutMs: number): { count: number; timedOut: boolean } {
    return this.store.count(filters, { deadline: Date.now() + timeoutMs, accept: this.acceptFor(filters, client), restricted: this.restricted });
  }
}
