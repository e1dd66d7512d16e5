import type { NatsConnection, Subscription } from '@nats-io/transport-node';

const BEAT_MS = 5_000;
/** A peer not heard from for this long is dropped from the view. */
const GONE_MS = 30_000;

export interface PeerSeen {
  instance_id: string;
  applied: number;
  last_seen_ms_ago: number;
}

/**
 * Which instances share the log, for the debug view and metrics: each instance says
 * its id and applied position on `<stream>.peers` (core NATS, not the log) every few
 * seconds. Nothing decides from it.
 */
export class Peers {
  private readonly seen = new Map<string, { applied: number; at: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly sub: Subscription;

  constructor(nc: NatsConnection, stream: string, private readonly self: string, applied: () => number) {
    const subject = `${stream}.peers`;
    this.sub = nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        try {
          const { id, applied: pos } = m.json<{ id: string; applied: number }>();
          if (typeof id === 'string' && id !== self && typeof pos === 'number') this.seen.set(id, { applied: pos, at: Date.now() });
        } catch {
          /* not a beat */
        }
      },
    });
    const beat = () => {
      try {
        nc.publish(subject, JSON.stringify({ id: self, applied: applied() }));
      } catch {
        /* disconnected: the next beat tries again */
      }
    };
    beat();
    this.timer = setInterval(beat, BEAT_MS);
    this.timer.unref();
  }

  list(): PeerSeen[] {
    const now = Date.now();
    const out: PeerSeen[] = [];
    for (const [id, p] of this.seen) {
      if (now - p.at > GONE_MS) this.seen.delete(id);
      else out.push({ instance_id: id, applied: p.applied, last_seen_ms_ago: now - p.at });
    }
    return out.sort((a, b) => a.instance_id.localeCompare(b.instance_id));
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
  }
}
