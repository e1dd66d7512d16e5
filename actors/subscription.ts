import { closedMsg, eoseMsg, eventFrames } from '../src/protocol/messages.js';
import type { Filter } from '../src/protocol/types.js';
import type { Supervised } from './supervisor.js';
import type { Client } from '../src/pipeline/types.js';
import type { MatchPool } from '../src/match/match-pool.js';
import type { Reader, ReadLimits } from '../src/pipeline/reader.js';
import type { RelayTelemetry } from '../src/metrics/telemetry.js';
import { filterToWire } from '../src/metrics/debug-view.js';
import { storeKind } from './store-logic.js';

/** What a subscription needs from its connection. */
export interface SubscriptionOwner extends Client {
  send(frame: string | Buffer): void;
}

export interface SubscriptionDeps {
  reader: Reader;
  match: MatchPool;
  limits: () => ReadLimits;
  /** nostr_relay_db_get and the `query` span; absent when metrics are not installed. */
  telemetry?: RelayTelemetry;
}

interface SubscriptionState {
  filters: Filter[];
  eoseSent: boolean;
  stored: number;
  status: 'querying' | 'live' | 'closed';
}

const subscriptionStore = storeKind<SubscriptionState, { type: 'eose'; stored: number } | { type: 'closed' }>({
  eose: (ctx, e) => ({ ...ctx, eoseSent: true, stored: e.stored, status: 'live' }),
  closed: (ctx) => ({ ...ctx, status: 'closed' }),
});

/**
 * One REQ: runs the stored query, sends EOSE, then receives live matches until CLOSE.
 * State (filters, EOSE sent, status) is an @xstate/store so the debug view reads
 * the same thing the actor acts on.
 */
export class SubscriptionActor implements Supervised {
  readonly kind = 'subscription';
  readonly id: string;
  readonly state: ReturnType<typeof subscriptionStore>;
  // A plain field: a store transition per delivery copied the whole context and was a
  // quarter of the main thread's fan-out time; only the debug view reads it.
  private delivered = 0;

  constructor(
    private readonly owner: SubscriptionOwner,
    readonly subId: string,
    filters: Filter[],
    private readonly deps: SubscriptionDeps,
  ) {
    this.id = `sub:${owner.connId}:${subId}`;
    this.state = subscriptionStore({ filters, eoseSent: false, stored: 0, status: 'querying' });
  }

  get filters(): Filter[] {
    return this.state.getSnapshot().context.filters;
  }

  /**
   * Register for live events first, then query: an event committed in between is then
   * delivered (perhaps twice, which NIP-01 clients tolerate) rather than lost.
   */
  start(): void {
    const { reader, match, limits } = this.deps;
    match.add(this.owner.connId, this.subId, this.filters);
    const wantsStored = this.filters.some((f) => f.limit !== 0);
    let sent = 0;
    if (wantsStored) {
      const t0 = performance.now();
      const { events, timedOut } = reader.query(this.filters, this.owner, limits());
      this.deps.telemetry?.queried('REQ', this.owner.connId, this.subId, this.filters.length, events.length, timedOut, t0);
      if (timedOut) {
        this.stop('query timed out');
        this.owner.send(closedMsg(this.subId, 'error: query timed out, narrow the filters'));
        return;
      }
      // The stored JSON bytes framed as they are: the same builder as live delivery.
      const frame = eventFrames(this.subId);
      for (const json of events) this.owner.send(frame(json));
      sent = events.length;
    }
    this.owner.send(eoseMsg(this.subId));
    this.state.trigger.eose({ stored: sent });
  }

  /** A live match, already encoded as this subscription's EVENT frame. */
  deliver(frame: Buffer): void {
    if (this.state.getSnapshot().context.status !== 'live') return;
    this.owner.send(frame);
    this.delivered++;
  }

  snapshot(): Record<string, unknown> {
    const c = this.state.getSnapshot().context;
    return { conn: this.owner.connId, subId: this.subId, filters: c.filters.map(filterToWire), eose_sent: c.eoseSent, stored_sent: c.stored, delivered: this.delivered, status: c.status };
  }

  stop(_reason: string): void {
    if (this.state.getSnapshot().context.status === 'closed') return;
    this.state.trigger.closed();
    this.deps.match.remove(this.owner.connId, this.subId);
  }
}
