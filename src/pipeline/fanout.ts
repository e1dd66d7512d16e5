import { log } from '../log.js';
import type { MatchPool } from '../match/match-pool.js';
import type { NostrEvent } from '../protocol/types.js';
import type { Client } from './types.js';
import type { Visibility } from './visibility.js';

/** The receiving side of fan-out: a live connection that can take a serialized EVENT. */
export interface Subscriber extends Client {
  deliver(subId: string, event: NostrEvent, eventJson: string): void;
}

/**
 * Live delivery (ARCHITECTURE.md step 6): the match worker finds the subscriptions whose
 * filters want the event, the read rules drop what a subscriber may not see, and each
 * connection sends. The event is serialized once, whatever the number of receivers.
 */
export class Fanout {
  delivered = 0;

  constructor(
    private readonly match: MatchPool,
    private readonly subscribers: ReadonlyMap<number, Subscriber>,
    private readonly visibility: Visibility,
  ) {}

  publish(event: NostrEvent): void {
    const t0 = performance.now();
    this.match.match([event]).then(
      ([targets]) => {
        const before = this.delivered;
        if (targets && targets.length > 0) {
          const json = JSON.stringify(event);
          for (const [connId, subId] of targets) {
            const sub = this.subscribers.get(connId);
            if (!sub || !this.visibility.mayRead(event, sub)) continue;
            sub.deliver(subId, event, json);
            this.delivered++;
          }
        }
        // The `fanout` span: ids and counts only, never the event itself.
        if (log.isLevelEnabled('debug')) {
          const ms = Math.round((performance.now() - t0) * 1000) / 1000;
          log.debug({ id: event.id, kind: event.kind, matched: targets?.length ?? 0, receivers: this.delivered - before, ms }, 'fanout');
        }
      },
      (err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'fan-out match failed'),
    );
  }
}
