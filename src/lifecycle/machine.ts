import { createActor, createMachine } from 'xstate';
import type { Supervised } from '../../actors/supervisor.js';

/**
 * The relay process's lifecycle, the one place in the relay that is a real state machine:
 * starting (restore, open storage, start pools, catch up with the cluster log) → ready,
 * ready ⇄ degraded while something writes need is down (storage refusing writes, the
 * cluster log unreachable) and back, failed when storage or the log cannot be used again,
 * and draining → stopped on SIGTERM. /ready and the debug view read it; events that do not
 * apply in a state (a storage recovery while draining) are ignored by the machine itself.
 */
export const relayLifecycle = createMachine({
  id: 'relay',
  initial: 'starting',
  states: {
    starting: { on: { STARTED: 'ready', FAILED: 'failed', DRAIN: 'draining' } },
    ready: { on: { DEGRADED: 'degraded', FAILED: 'failed', DRAIN: 'draining' } },
    degraded: { on: { RECOVERED: 'ready', FAILED: 'failed', DRAIN: 'draining' } },
    failed: { on: { DRAIN: 'draining' } },
    draining: { on: { STOPPED: 'stopped' } },
    stopped: { type: 'final' },
  },
});

export type LifecycleState = 'starting' | 'ready' | 'degraded' | 'failed' | 'draining' | 'stopped';
export type LifecycleEvent = 'STARTED' | 'DEGRADED' | 'RECOVERED' | 'FAILED' | 'DRAIN' | 'STOPPED';

/** Why the relay is not ready: the /ready error text and its code. */
export type Why = [error: string, code: string];

/** The running machine, supervised like the other actors so /debug/actors shows it. */
export class Lifecycle implements Supervised {
  readonly id = 'lifecycle';
  readonly kind = 'lifecycle';
  private readonly actor = createActor(relayLifecycle).start();
  private since = Date.now();
  /** What degrades the relay now, by source ('storage', 'log'): degraded while any is set. */
  private readonly faults = new Map<string, Why>();
  private failure: Why | undefined;
  /** What start-up is doing (shown by /ready while starting). */
  progress: Why | undefined;

  constructor() {
    this.actor.subscribe(() => {
      this.since = Date.now();
    });
  }

  get state(): LifecycleState {
    return this.actor.getSnapshot().value as LifecycleState;
  }

  send(type: LifecycleEvent): void {
    this.actor.send({ type });
    // A fault reported while starting (the machine ignores it there) holds from the first moment of ready.
    if (type === 'STARTED' && this.faults.size > 0) this.actor.send({ type: 'DEGRADED' });
  }

  /** Storage's own state, as the writer reports it. */
  storage(state: 'writable' | 'degraded' | 'failed'): void {
    if (state === 'failed') return this.fail(['storage has failed', 'storage_failed']);
    this.fault('storage', state === 'degraded' ? ['degraded: storage refuses writes until a commit succeeds; reads are served', 'storage_degraded'] : undefined);
  }

  /** Set (or clear, with undefined) one source of degradation. */
  fault(source: string, why: Why | undefined): void {
    if (why === undefined) this.faults.delete(source);
    else this.faults.set(source, why);
    this.send(this.faults.size > 0 ? 'DEGRADED' : 'RECOVERED');
  }

  fail(why: Why): void {
    this.failure ??= why;
    this.send('FAILED');
  }

  /** Why /ready is not 200 now, or undefined when it is. */
  why(): Why | undefined {
    switch (this.state) {
      case 'ready':
        return undefined;
      case 'starting':
        return this.progress ?? ['storage is not open yet', 'not_ready'];
      case 'degraded':
        return [...this.faults.values()][0] ?? ['degraded', 'degraded'];
      case 'failed':
        return this.failure ?? ['failed', 'failed'];
      default:
        return ['shutting down', 'shutting_down'];
    }
  }

  snapshot(): Record<string, unknown> {
    return { state: this.state, since: new Date(this.since).toISOString(), why: this.why()?.[0] };
  }

  stop(): void {
    /* the relay's stop() drives draining → stopped; the supervisor stopping it changes nothing */
  }
}
