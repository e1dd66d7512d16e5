import { createActor, createMachine } from 'xstate';
import type { Supervised } from '../../actors/supervisor.js';

/**
 * The relay process's lifecycle, the one place in the relay that is a real state machine:
 * starting (restore, open storage, start pools) → ready, ready ⇄ degraded while storage
 * refuses writes (full disk) and recovers, failed when the storage environment is unusable,
 * and draining → stopped on SIGTERM. /ready and the debug view read it; events that do not
 * apply in a state (a storage recovery while draining) are ignored by the machine itself.
 */
export const relayLifecycle = createMachine({
  id: 'relay',
  initial: 'starting',
  states: {
    starting: { on: { STARTED: 'ready', STORAGE_FAILED: 'failed', DRAIN: 'draining' } },
    ready: { on: { STORAGE_DEGRADED: 'degraded', STORAGE_FAILED: 'failed', DRAIN: 'draining' } },
    degraded: { on: { STORAGE_RECOVERED: 'ready', STORAGE_FAILED: 'failed', DRAIN: 'draining' } },
    failed: { on: { DRAIN: 'draining' } },
    draining: { on: { STOPPED: 'stopped' } },
    stopped: { type: 'final' },
  },
});

export type LifecycleState = 'starting' | 'ready' | 'degraded' | 'failed' | 'draining' | 'stopped';
export type LifecycleEvent = 'STARTED' | 'STORAGE_DEGRADED' | 'STORAGE_RECOVERED' | 'STORAGE_FAILED' | 'DRAIN' | 'STOPPED';

/** The running machine, supervised like the other actors so /debug/actors shows it. */
export class Lifecycle implements Supervised {
  readonly id = 'lifecycle';
  readonly kind = 'lifecycle';
  private readonly actor = createActor(relayLifecycle).start();
  private since = Date.now();

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
  }

  /** Storage's own state, as the writer reports it. */
  storage(state: 'writable' | 'degraded' | 'failed'): void {
    this.send(state === 'writable' ? 'STORAGE_RECOVERED' : state === 'degraded' ? 'STORAGE_DEGRADED' : 'STORAGE_FAILED');
  }

  snapshot(): Record<string, unknown> {
    return { state: this.state, since: new Date(this.since).toISOString() };
  }

  stop(): void {
    /* the relay's stop() drives draining → stopped; the supervisor stopping it changes nothing */
  }
}
