import { log } from '../log.js';
import type { MatchPool } from '../match/match-pool.js';
import { eventFrame, eventJson } from '../protocol/messages.js';
import type { NostrEvent } from '../protocol/types.js';
import type { Client } from './types.js';
import type { Visibility } from './visibility.js';

/** The receiving side of fan-out: a live connection that can take an encoded EVENT frame. */
export interface Subscriber extends Client {
  /** `frame` is the UTF-8 text of ["EVENT", subId, event], shared by every receiver of that subId. */
  deliver(subId: string, frame: Buffer): void;
}

/**
 * Live delivery (ARCHITECTURE.md step 6): the match worker finds the subscriptions whose
 * filters want the event, the read rules drop what a subscriber may not see, and each
 * connection sends. The event is serialized once, whatever the number of receivers, and
 * each EVENT frame is encoded once per subscription id: clients that name their
 * subscriptions alike (most do) share one buffer instead of one UTF-8 encode each.
 */
export class Fanout {
  delivered = 0;

  constructor(
    private readonly match: MatchPool,
    private readonly subscribers: ReadonlyMap<number, Subscriber>,
    private readonly visibility: Visibility,
  ) {}

  /** `json`: the event's stored bytes when it was stored (ephemeral events are encoded here). */
  publish(event: NostrEvent, json?: Buffer): void {
    const t0 = performance.now();
    this.match.match([event]).then(
      ([targets]) => {
        const before = this.delivered;
        if (targets && targets.length > 0) {
          // The bytes the writer stored, framed like stored results.
          const bytes = json ?? eventJson(event);
          const frames = new Map<string, Buffer>();
          for (const [connId, subId] of targets) {
            const sub = this.subscribers.get(connId);
            if (!sub || !this.visibility.mayRead(event, sub)) continue;
            let frame = frames.get(subId);
            if (frame === undefined) frames.set(subId, (frame = eventFrame(subId, bytes)));
            sub.deliver(subId, frame);
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
