import type { Filter, NostrEvent } from '../protocol/types.js';
import type { EventStore } from '../storage/event-store.js';
import type { Client } from './types.js';
import type { Visibility } from './visibility.js';

export interface ReadLimits {
  maxLimit: number;
  timeoutMs: number;
}

/** Counting by reading events (when read rules apply) is capped so a COUNT stays a bounded scan. */
const VISIBLE_COUNT_CAP = 100_000;

/**
 * Stored reads for a client: the store's query and count with the read rules applied,
 * so no path (REQ, COUNT, REST) can forget them.
 */
export class Reader {
  constructor(
    private readonly store: EventStore,
    private readonly visibility: Visibility,
  ) {}

  query(filters: readonly Filter[], client: Client, limits: ReadLimits): { events: NostrEvent[]; timedOut: boolean } {
    const r = this.store.query(filters, {
      limitDefault: limits.maxLimit,
      limitMax: limits.maxLimit,
      deadline: Date.now() + limits.timeoutMs,
    });
    if (!this.visibility.restricted) return r;
    return { events: r.events.filter((e) => this.visibility.mayRead(e, client)), timedOut: r.timedOut };
  }

  count(filters: readonly Filter[], client: Client, timeoutMs: number): { count: number; timedOut: boolean } {
    const deadline = Date.now() + timeoutMs;
    if (!this.visibility.restricted) return this.store.count(filters, { deadline });
    // Read rules look at each event, so count what a limitless query returns and the client may see.
    const unlimited = filters.map((f) => ({ ...f, limit: VISIBLE_COUNT_CAP }));
    const r = this.store.query(unlimited, { limitDefault: VISIBLE_COUNT_CAP, limitMax: VISIBLE_COUNT_CAP, deadline });
    let count = 0;
    for (const e of r.events) if (this.visibility.mayRead(e, client)) count++;
    return { count, timedOut: r.timedOut };
  }
}
